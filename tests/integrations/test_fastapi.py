"""livesettings.integrations.fastapi: real FastAPI apps on real files, exercised over HTTP.

In-process apps are driven with ``fastapi.testclient.TestClient`` (the app runs on a loop of its
own in a portal thread, as under a server) and with ``httpx.AsyncClient`` over ``ASGITransport``
(the app runs on the test's own loop, the lifespan entered by hand as a server does); one class
runs a real uvicorn server on 127.0.0.1 with an OS-assigned port.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
import uvicorn
from conftest import wait_for
from fastapi import Depends, FastAPI, Request
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from livesettings import Diff, ReloadableSettings, ReloadConfig, ReloadError, Version, on_change
from livesettings.exceptions import VersionNotFoundError
from livesettings.integrations.fastapi import (
    config_health,
    config_router,
    get_settings,
    pinned_snapshot,
    pinned_version,
    settings_lifespan,
)

SECRET_1 = "sk-live-FIRST-7f3a9c"
SECRET_2 = "sk-live-SECOND-b81d2e"
MARKER = "greeting-value-42x"  # a plain value that must not show up where values are left out


class Limits(BaseModel):
    per_minute: int = Field(60, ge=1)
    burst: int = Field(10, ge=1)


def config_text(per_minute: Any = 60, burst: int = 10, api_key: str = SECRET_1, level: str = "INFO") -> str:
    return (
        f"log_level: {level}\ngreeting: {MARKER}\nlimits:\n  per_minute: {per_minute}\n  burst: {burst}\n"
        f"api_key: {api_key}\n"
    )


def settings_class(path: Path, **config: Any) -> type[ReloadableSettings]:
    """A settings class on ``path`` whose async handler records the loop and thread it ran on."""
    config.setdefault("debounce_ms", 20)

    class ServiceSettings(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(path))
        reload_config = ReloadConfig(**config)
        log_level: str = "INFO"
        greeting: str = ""
        limits: Limits = Limits()
        api_key: SecretStr = SecretStr("")

        @on_change("limits")
        async def _on_limits(self, diff: Diff) -> None:
            seen.append((asyncio.get_running_loop(), threading.current_thread(), diff.new_value.per_minute))

    seen: list[tuple[asyncio.AbstractEventLoop, threading.Thread, int]] = []
    ServiceSettings.seen = seen  # type: ignore[attr-defined]
    return ServiceSettings


Config = Annotated[Any, Depends(pinned_snapshot)]
Pinned = Annotated[Version, Depends(pinned_version)]


def make_app(settings: Any, **lifespan_options: Any) -> FastAPI:
    """A service with the config router and endpoints that read through the dependencies."""
    app = FastAPI(lifespan=settings_lifespan(settings, **lifespan_options))
    app.include_router(config_router())

    @app.get("/limits")
    async def limits(config: Config, version: Pinned) -> dict[str, Any]:
        return {"per_minute": config.limits.per_minute, "burst": config.limits.burst, "version": version.number}

    @app.get("/sync-limits")
    def sync_limits(config: Config) -> dict[str, Any]:  # a sync endpoint: runs in the thread pool
        return {"per_minute": config.limits.per_minute}

    return app


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "service.yaml"
    path.write_text(config_text())
    return path


def livesettings_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("livesettings") and t.is_alive()]


def wait_for_json(client: TestClient | httpx.Client, url: str, predicate: Any, timeout: float = 10.0) -> Any:
    """GET ``url`` until ``predicate(response)`` holds; the last response."""
    box: list[httpx.Response] = []

    def check() -> bool:
        box[:] = [client.get(url)]
        return bool(predicate(box[0]))

    wait_for(check, timeout=timeout, interval=0.02)
    return box[0]


# --------------------------------------------------------------------------- lifespan


class TestImport:
    """Without FastAPI the module says which extra to install."""

    def test_missing_fastapi_names_the_extra(self) -> None:
        """Importing the integration where fastapi cannot be imported raises an ImportError naming the extra."""
        code = (
            "import sys; sys.modules['fastapi'] = None\n"
            "try:\n    import livesettings.integrations.fastapi\n"
            "except ImportError as exc:\n    print(exc)\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
        assert "pip install 'livesettings[fastapi]'" in result.stdout


class TestLifespan:
    """settings_lifespan creates the settings on the app's loop, composes with the app's lifespan, and closes."""

    def test_creates_at_startup_and_closes_at_shutdown(self, config_file: Path) -> None:
        """The object exists and watches only while the app runs; shutdown closes it and joins its threads."""
        before = set(livesettings_threads())
        app = make_app(settings_class(config_file))
        assert not hasattr(app.state, "settings")
        with TestClient(app) as client:
            settings = app.state.settings
            assert isinstance(settings, ReloadableSettings)
            assert settings.hot_reload.is_enabled()
            assert set(livesettings_threads()) - before, "the watcher runs while the app does"
            assert client.get("/limits").json()["per_minute"] == 60
        assert not settings.hot_reload.is_enabled()
        assert not hasattr(app.state, "settings")
        assert set(livesettings_threads()) <= before  # close() joined them: nothing to wait for

    def test_each_run_gets_a_fresh_object(self, config_file: Path) -> None:
        """Entering the app twice (two test clients) makes and closes two settings objects."""
        app = make_app(settings_class(config_file))
        with TestClient(app):
            first = app.state.settings
        with TestClient(app) as client:
            second = app.state.settings
            assert client.get("/limits").status_code == 200
        assert first is not second
        assert not first.hot_reload.is_enabled() and not second.hot_reload.is_enabled()

    def test_async_handler_runs_on_the_app_loop(self, config_file: Path) -> None:
        """An ``async def`` @on_change method runs on the loop the app serves requests on, not the reload thread."""
        cls = settings_class(config_file)
        app = make_app(cls)
        loops: list[asyncio.AbstractEventLoop] = []

        @app.get("/loop")
        async def loop() -> dict[str, str]:
            loops.append(asyncio.get_running_loop())
            return {}

        with TestClient(app) as client:
            client.get("/loop")
            config_file.write_text(config_text(per_minute=120))
            wait_for(lambda: cls.seen)  # type: ignore[attr-defined]
        handler_loop, handler_thread, value = cls.seen[0]  # type: ignore[attr-defined]
        assert value == 120
        assert handler_loop is loops[0]
        assert not handler_thread.name.startswith("livesettings")

    def test_async_handler_on_the_test_loop_with_asgi_transport(self, config_file: Path) -> None:
        """Run on the test's own loop (httpx's ASGI transport), the handler runs on that very loop."""
        cls = settings_class(config_file)
        app = make_app(cls)

        async def scenario() -> tuple[asyncio.AbstractEventLoop, Any]:
            async with app.router.lifespan_context(app):
                settings = app.state.settings
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
                    config_file.write_text(config_text(per_minute=90))
                    await settings.wait_for_version(2, timeout=10)
                    body = (await client.get("/limits")).json()
                    for _ in range(500):  # the handler runs after the commit, on this loop
                        if cls.seen:  # type: ignore[attr-defined]
                            break
                        await asyncio.sleep(0.01)
                return asyncio.get_running_loop(), body

        test_loop, body = asyncio.run(scenario())
        assert body == {"per_minute": 90, "burst": 10, "version": 2}
        assert cls.seen and cls.seen[0][0] is test_loop  # type: ignore[attr-defined]

    def test_handler_registered_from_a_sync_endpoint_runs_on_the_app_loop(self, config_file: Path) -> None:
        """``watch()`` called from a thread-pool endpoint (no loop there) still runs its async callback on the app loop."""
        app = make_app(settings_class(config_file))
        seen: list[asyncio.AbstractEventLoop] = []
        loops: list[asyncio.AbstractEventLoop] = []

        async def on_burst(diff: Diff) -> None:
            seen.append(asyncio.get_running_loop())

        @app.post("/subscribe")
        def subscribe(settings: Annotated[Any, Depends(get_settings)]) -> dict[str, str]:
            settings.watch("limits.burst", on_burst)
            return {}

        @app.get("/loop")
        async def loop() -> dict[str, str]:
            loops.append(asyncio.get_running_loop())
            return {}

        with TestClient(app) as client:
            client.post("/subscribe")
            client.get("/loop")
            config_file.write_text(config_text(burst=20))
            wait_for(lambda: seen)
        assert seen[0] is loops[0]

    def test_composes_with_the_apps_own_lifespan(self, config_file: Path) -> None:
        """The app's lifespan runs inside: it sees the settings at startup, its state reaches requests, it ends first."""
        events: list[str] = []

        @asynccontextmanager
        async def own(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
            settings = app.state.settings
            events.append(f"start per_minute={settings.limits.per_minute}")
            yield {"pool": f"pool of {settings.limits.per_minute}"}
            events.append(f"stop watching={settings.hot_reload.is_enabled()}")

        app = make_app(settings_class(config_file), lifespan=own)

        @app.get("/pool")
        async def pool(request: Request) -> dict[str, str]:
            return {"pool": request.state.pool}

        with TestClient(app) as client:
            assert client.get("/pool").json() == {"pool": "pool of 60"}
            settings = app.state.settings
        assert events == ["start per_minute=60", "stop watching=True"]
        assert not settings.hot_reload.is_enabled()

    def test_an_existing_object_is_bound_not_closed(self, config_file: Path) -> None:
        """An object made before the loop runs gets the app's loop for its async handlers and stays open."""
        cls = settings_class(config_file)
        settings = cls()  # "at import time": its async handler has no loop yet
        try:
            app = make_app(settings)
            loops: list[asyncio.AbstractEventLoop] = []

            @app.get("/loop")
            async def loop() -> dict[str, str]:
                loops.append(asyncio.get_running_loop())
                return {}

            with TestClient(app) as client:
                assert app.state.settings is settings
                client.get("/loop")
                config_file.write_text(config_text(per_minute=75))
                wait_for(lambda: cls.seen)  # type: ignore[attr-defined]
            assert cls.seen[0][0] is loops[0]  # type: ignore[attr-defined]
            assert settings.hot_reload.is_enabled(), "the app did not create it, so it does not close it"
        finally:
            settings.close()

    def test_close_true_closes_an_existing_object(self, config_file: Path) -> None:
        """``close=True`` hands an existing object's lifetime to the app."""
        settings = settings_class(config_file)()
        with TestClient(make_app(settings, close=True)):
            pass
        assert not settings.hot_reload.is_enabled()

    def test_invalid_initial_config_stops_startup(self, config_file: Path) -> None:
        """An invalid config at startup raises ReloadError and the app does not start."""
        config_file.write_text(config_text(per_minute="lots"))
        app = make_app(settings_class(config_file))
        with pytest.raises(ReloadError, match="per_minute"):
            with TestClient(app):
                pass  # pragma: no cover - startup fails
        assert not hasattr(app.state, "settings")

    def test_refuses_to_replace_app_state_settings(self, config_file: Path) -> None:
        """An app that already keeps something else on ``app.state.settings`` fails at startup and keeps it."""
        app = make_app(settings_class(config_file))
        app.state.settings = {"plain": "config"}
        with pytest.raises(RuntimeError, match=r"app\.state\.settings is taken \(by a dict\)"):
            with TestClient(app):
                pass  # pragma: no cover - startup fails
        assert app.state.settings == {"plain": "config"}

    def test_dependencies_need_the_lifespan(self) -> None:
        """Without settings_lifespan the dependency fails with an error that says what to do."""
        app = FastAPI()

        @app.get("/")
        async def index(config: Config) -> dict[str, str]:
            return {}  # pragma: no cover - the dependency fails

        with TestClient(app) as client:
            with pytest.raises(RuntimeError, match="settings_lifespan"):
                client.get("/")


# --------------------------------------------------------------------------- dependencies


class TestPinnedSnapshot:
    """pinned_snapshot and pinned_version give each request one version."""

    def test_an_edit_reaches_the_next_request(self, config_file: Path) -> None:
        """After a file edit, the next requests (async and sync endpoints) see the new values."""
        with TestClient(make_app(settings_class(config_file))) as client:
            assert client.get("/limits").json() == {"per_minute": 60, "burst": 10, "version": 1}
            config_file.write_text(config_text(per_minute=120, burst=30))
            body = wait_for_json(client, "/limits", lambda r: r.json()["version"] == 2).json()
            assert body == {"per_minute": 120, "burst": 30, "version": 2}
            assert client.get("/sync-limits").json() == {"per_minute": 120}

    def test_one_request_sees_one_version_across_an_edit(self, config_file: Path) -> None:
        """An edit committed in the middle of a request changes nothing the request reads; the next one sees it."""
        app = make_app(settings_class(config_file, max_versions=1))

        @app.get("/pair")
        async def pair(request: Request, config: Config, version: Pinned) -> dict[str, Any]:
            settings = request.app.state.settings
            first = config.limits.per_minute
            config_file.write_text(config_text(per_minute=500, burst=50))
            live = await settings.wait_for_version(version.number + 1, timeout=10)
            again: Any = settings.snapshot()
            return {
                "first": first, "burst": config.limits.burst, "pinned": version.number,
                "live": live.number, "live_per_minute": again.limits.per_minute,
                # the pinned version left the one-entry history, but stays findable while pinned
                "diff": [c.path for c in settings.diff(version.id, live.id)],
                "ids": [version.id, live.id],
            }

        with TestClient(app) as client:
            body = client.get("/pair").json()
            assert body["first"] == 60 and body["burst"] == 10 and body["pinned"] == 1
            assert body["live"] == 2 and body["live_per_minute"] == 500
            assert sorted(body["diff"]) == ["limits.burst", "limits.per_minute"]
            assert client.get("/limits").json() == {"per_minute": 500, "burst": 50, "version": 2}
            settings = app.state.settings
            with pytest.raises(VersionNotFoundError):  # the request ended: the pin was released
                settings.diff(*body["ids"])

    def test_snapshot_and_version_share_the_pin(self, config_file: Path) -> None:
        """Both dependencies in one request give the same version, whichever is resolved first."""
        app = make_app(settings_class(config_file))

        @app.get("/both")
        async def both(version: Pinned, config: Config, request: Request) -> dict[str, Any]:
            settings = request.app.state.settings
            config_file.write_text(config_text(per_minute=300))
            await settings.wait_for_version(version.number + 1, timeout=10)
            return {"same": version.snapshot is config, "per_minute": config.limits.per_minute}

        with TestClient(app) as client:
            assert client.get("/both").json() == {"same": True, "per_minute": 60}

    def test_the_pin_lasts_through_a_streaming_body(self, config_file: Path) -> None:
        """A streaming response's chunks, produced after the endpoint returned, still read the pinned version."""
        app = make_app(settings_class(config_file))

        @app.get("/stream")
        async def stream(request: Request, config: Config) -> StreamingResponse:
            settings = request.app.state.settings

            async def body() -> AsyncIterator[str]:
                yield f"{config.limits.per_minute}\n"
                config_file.write_text(config_text(per_minute=250))
                await settings.wait_for_version(2, timeout=10)
                yield f"{config.limits.per_minute} live={settings.limits.per_minute}\n"

            return StreamingResponse(body(), media_type="text/plain")

        with TestClient(app) as client:
            assert client.get("/stream").text == "60\n60 live=250\n"


# --------------------------------------------------------------------------- the router


class TestConfigRouter:
    """/config/version, /config/history and /config/health, read-only and without secrets."""

    def test_version_has_no_values(self, config_file: Path) -> None:
        """The version endpoint gives number, id, timestamp and digest, and no config value."""
        with TestClient(make_app(settings_class(config_file))) as client:
            response = client.get("/config/version")
            settings = client.app.state.settings  # type: ignore[attr-defined]
            assert response.status_code == 200
            body = response.json()
            assert body["number"] == 1 and body["id"] == settings.version.id and body["source"] == "initial"
            assert body["timestamp"] == settings.version.timestamp.isoformat()
            assert isinstance(body["digest"], str) and len(body["digest"]) >= 16
            config_file.write_text(config_text(per_minute=61))
            body = wait_for_json(client, "/config/version", lambda r: r.json()["number"] == 2).json()
            assert body["changed"] == ["limits.per_minute"] and body["source"] == "file"
            assert MARKER not in response.text and SECRET_1 not in response.text

    def test_history_masks_secrets(self, config_file: Path) -> None:
        """History lists every version with its changes; a rotated SecretStr shows only as fingerprints."""
        with TestClient(make_app(settings_class(config_file))) as client:
            config_file.write_text(config_text(per_minute=80, api_key=SECRET_2))
            wait_for_json(client, "/config/version", lambda r: r.json()["number"] == 2)
            response = client.get("/config/history")
            assert response.status_code == 200
            assert SECRET_1 not in response.text and SECRET_2 not in response.text
            body = response.json()
            assert [v["number"] for v in body["versions"]] == [1, 2]
            assert body["current"] == body["versions"][-1]["id"]
            changes = {c["path"]: c for c in body["versions"][-1]["changes"]}
            assert changes["limits.per_minute"] == {
                "path": "limits.per_minute", "type": "modify", "old_value": 60, "new_value": 80,
            }
            key = changes["api_key"]
            assert key["old_value"].startswith("<secret fp=") and key["new_value"].startswith("<secret fp=")
            assert key["old_value"] != key["new_value"], "a rotation stays visible"
            assert [v["number"] for v in client.get("/config/history?limit=1").json()["versions"]] == [2]
            assert client.get("/config/history?limit=0").status_code == 422

    def test_history_without_values(self, config_file: Path) -> None:
        """``include_values=False`` lists paths and change types only."""
        app = FastAPI(lifespan=settings_lifespan(settings_class(config_file)))
        app.include_router(config_router(prefix="/internal/config", include_values=False))
        with TestClient(app) as client:
            config_file.write_text(config_text(per_minute=80).replace(MARKER, "other-greeting"))
            wait_for_json(client, "/internal/config/version", lambda r: r.json()["number"] == 2)
            response = client.get("/internal/config/history")
            changes = response.json()["versions"][-1]["changes"]
            assert changes == [
                {"path": "greeting", "type": "modify"}, {"path": "limits.per_minute", "type": "modify"},
            ]
            assert MARKER not in response.text and "other-greeting" not in response.text

    def test_health_reports_a_rejected_edit_and_recovers(self, config_file: Path) -> None:
        """An invalid edit makes health 503 with the reason while the last good config keeps serving; a fix makes it 200."""
        with TestClient(make_app(settings_class(config_file))) as client:
            response = client.get("/config/health")
            assert response.status_code == 200
            assert response.json()["status"] == "ok" and response.json()["reasons"] == []
            assert response.json()["feeds"]["files"]["state"] == "running"

            config_file.write_text(config_text(per_minute="lots", api_key=SECRET_2))
            response = wait_for_json(client, "/config/health", lambda r: r.status_code == 503)
            body = response.json()
            assert body["status"] == "unhealthy"
            assert "rejected" in body["reasons"][0] and "per_minute" in body["reasons"][0]
            assert "per_minute" in body["last_error"] and body["version"]["number"] == 1
            assert SECRET_1 not in response.text and SECRET_2 not in response.text
            assert client.get("/limits").json() == {"per_minute": 60, "burst": 10, "version": 1}

            config_file.write_text(config_text(per_minute=90))
            response = wait_for_json(client, "/config/health", lambda r: r.status_code == 200)
            assert response.json()["status"] == "ok" and response.json()["last_error"] is None
            assert client.get("/limits").json() == {"per_minute": 90, "burst": 10, "version": 2}

    def test_health_of_a_closed_object(self, config_file: Path) -> None:
        """config_health says unhealthy once the settings object is closed."""
        settings = settings_class(config_file)()
        assert config_health(settings)["status"] == "ok"
        settings.close()
        report = config_health(settings)
        assert report["status"] == "unhealthy" and "closed" in report["reasons"][-1]

    def test_openapi_lists_the_routes(self, config_file: Path) -> None:
        """The router's routes are GET-only and documented in the app's OpenAPI schema."""
        with TestClient(make_app(settings_class(config_file))) as client:
            paths = client.get("/openapi.json").json()["paths"]
        for route in ("/config/version", "/config/history", "/config/health"):
            assert set(paths[route]) == {"get"}
        assert "503" in paths["/config/health"]["get"]["responses"]


class TestStaleFeed:
    """An etcd feed that loses its server makes health 503 until it is back."""

    @pytest.fixture
    def etcd_modules(self) -> Iterator[Any]:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "etcd"))
        try:
            import etcd_harness
            import etcd_server

            yield etcd_harness, etcd_server
        finally:
            sys.path.remove(str(Path(__file__).resolve().parent.parent / "etcd"))

    def test_degraded_etcd_feed(self, etcd_modules: Any, tmp_path: Path) -> None:
        """Stopping etcd turns health to 503 naming the feed; restarting it turns health back to 200."""
        harness, server_module = etcd_modules
        servers = server_module._server(tmp_path / "etcd")
        server = next(servers)
        try:
            prefix = "tests/fastapi/"
            server.put(prefix + "port", "8001")
            app = FastAPI(lifespan=settings_lifespan(harness.app_class(server.url, prefix, watch=True)))
            app.include_router(config_router())
            with TestClient(app) as client:
                wait_for_json(client, "/config/health", lambda r: r.status_code == 200)
                server.stop()
                response = wait_for_json(client, "/config/health", lambda r: r.status_code == 503, timeout=30)
                [reason] = response.json()["reasons"]
                assert reason.startswith("change feed etcd:") and "degraded" in reason
                server.start()
                wait_for_json(client, "/config/health", lambda r: r.status_code == 200, timeout=30)
        finally:
            servers.close()


# --------------------------------------------------------------------------- a real server


class TestUvicorn:
    """The app under a real uvicorn server on 127.0.0.1, started in a thread and stopped."""

    def test_served_over_a_real_socket(self, config_file: Path) -> None:
        """Startup creates the settings on the server's loop, an edit reaches HTTP clients, shutdown closes it."""
        cls = settings_class(config_file)
        loops: list[asyncio.AbstractEventLoop] = []

        @asynccontextmanager
        async def own(app: FastAPI) -> AsyncIterator[None]:
            loops.append(asyncio.get_running_loop())
            yield

        app = make_app(cls, lifespan=own)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", ws="none")
        )
        thread = threading.Thread(target=server.run, name="uvicorn-under-test")
        thread.start()
        try:
            wait_for(lambda: server.started or not thread.is_alive())
            assert server.started, "uvicorn did not start"
            port = server.servers[0].sockets[0].getsockname()[1]
            settings = app.state.settings
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
                assert client.get("/limits").json() == {"per_minute": 60, "burst": 10, "version": 1}
                config_file.write_text(config_text(per_minute=150))
                body = wait_for_json(client, "/limits", lambda r: r.json()["version"] == 2).json()
                assert body["per_minute"] == 150
                assert client.get("/config/health").status_code == 200
            wait_for(lambda: cls.seen)  # type: ignore[attr-defined]
            assert cls.seen[0][0] is loops[0]  # type: ignore[attr-defined]
        finally:
            server.should_exit = True
            thread.join(timeout=20)
        assert not thread.is_alive()
        assert not settings.hot_reload.is_enabled()
        assert not livesettings_threads()
