"""Real prefork servers: an edit made after the workers started reaches every worker.

gunicorn runs with ``--preload`` and 2 workers; ``uvicorn --workers 2`` is the contrast case.

The app module (``prefork_app``) creates its settings object at import time, so under
``--preload`` the object and its watcher are created in the gunicorn master and every worker
inherits them through ``fork()``. The tests talk to the workers over HTTP with one connection
per request (``Connection: close``), so that requests spread across the workers, and tell the
workers apart by the pid each response carries. The sync and gthread worker classes serve the
WSGI app and ``uvicorn_worker.UvicornWorker`` the ASGI one. Waits are polls with deadlines; the app's safety
re-check is an hour away, so a change seen in time was seen by the worker's own inotify watch.
``uvicorn --workers`` spawns fresh interpreters instead of forking, so there each worker
imports the app and creates an object of its own. The Django example project
(``examples/django_project``) runs under gunicorn ``--preload`` too.
"""

from __future__ import annotations

import http.client
import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="gunicorn and inotify: Linux only")

HERE = Path(__file__).resolve().parent
DJANGO_PROJECT = HERE.parents[1] / "examples" / "django_project"
WORKERS = 2
GUNICORN_VERSION = tuple(int(p) for p in importlib.metadata.version("gunicorn").split(".")[:2])
WORKER_CLASSES = {
    "sync": "prefork_app:wsgi",
    "gthread": "prefork_app:wsgi",  # what gunicorn picks with --threads
    "uvicorn_worker.UvicornWorker": "prefork_app:asgi",
}


@dataclass
class Server:
    """A running server (a gunicorn master or uvicorn's supervisor), its port and the config file its app watches."""

    proc: subprocess.Popen[bytes]
    port: int
    config: Path
    log: Path
    path: str = "/"  # the URL whose JSON says which worker answered

    def get(self, path: str | None = None) -> dict[str, Any]:
        """One request on a fresh connection; the JSON the answering worker returned."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", path or self.path, headers={"Connection": "close"})
            response = conn.getresponse()
            assert response.status == 200, response.read()
            body: dict[str, Any] = json.loads(response.read())
            return body
        finally:
            conn.close()

    def sample(self, n: int = 8) -> list[dict[str, Any]]:
        """``n`` requests, a few in flight at once so that a busy worker leaves some to the other."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(lambda _: self.get(), range(n)))

    def latest_by_pid(self, until: Any, timeout: float = 30.0) -> dict[int, dict[str, Any]]:
        """Sample until every worker's latest answer satisfies ``until``; those answers by pid."""
        seen: dict[int, dict[str, Any]] = {}

        def done() -> bool:
            assert self.proc.poll() is None, f"the server exited:\n{self.log.read_text()}"
            try:
                answers = self.sample()
            except ConnectionRefusedError:  # uvicorn binds its port a moment after it starts
                return False
            for body in answers:
                seen[body["pid"]] = body
            return len(seen) == WORKERS and all(until(b) for b in seen.values())

        try:
            wait_for(done, timeout=timeout, interval=0.02)
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}; workers' latest answers: {seen}\n--- server log\n{self.log.read_text()}"
            ) from None
        return seen


def save(path: Path, text: str) -> None:
    """Save as editors do: write a temporary file beside it and rename it over the original."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the master (it stops its workers), wait; SIGKILL its process group on a timeout."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the session gunicorn was started in: master and workers
        proc.wait(timeout=15)


def write_config(tmp_path: Path) -> Path:
    """The watched YAML file, holding the first value."""
    config = tmp_path / "conf" / "app.yaml"
    config.parent.mkdir()
    config.write_text("greeting: before\n")
    return config


def child_env(config: Path) -> dict[str, str]:
    env = {**os.environ, "PREFORK_CONFIG": str(config)}
    for name in ("LIVESETTINGS_ENV", "APP_ENV", "ENVIRONMENT", "LIVESETTINGS_POLL"):
        env.pop(name, None)
    return env


def gunicorn(
    tmp_path: Path, app: str, worker_class: str, env: dict[str, str], pythonpath: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``gunicorn --preload`` with 2 workers on a socket bound here; returns the master and the port."""
    # Bind here and hand gunicorn the socket (fd://), so no other process can take the port between.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    command = [
        sys.executable, "-m", "gunicorn", "--preload", "--workers", str(WORKERS),
        "--worker-class", worker_class, "--bind", f"fd://{listener.fileno()}",
        "--pythonpath", str(pythonpath), "--chdir", str(tmp_path), "--graceful-timeout", "5",
        "--log-level", "info", "--error-logfile", str(tmp_path / "server.log"),
    ]  # fmt: skip
    if GUNICORN_VERSION >= (25, 1):
        command.append("--no-control-socket")  # else every master shares ~/.gunicorn/gunicorn.ctl
    command.append(app)
    try:
        proc = subprocess.Popen(
            command, env=env, pass_fds=(listener.fileno(),), start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        port: int = listener.getsockname()[1]
    finally:
        listener.close()
    return proc, port


@pytest.fixture(params=list(WORKER_CLASSES), ids=["sync", "gthread", "uvicorn"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """gunicorn --preload with 2 workers of the given class serving ``prefork_app``."""
    worker_class: str = request.param
    config = write_config(tmp_path)
    proc, port = gunicorn(tmp_path, WORKER_CLASSES[worker_class], worker_class, child_env(config), HERE)
    try:
        yield Server(proc, port, config, tmp_path / "server.log")
    finally:
        stop(proc)


@pytest.fixture
def django_server(tmp_path: Path) -> Iterator[Server]:
    """The example Django project under gunicorn --preload (sync workers), on a live file in a temp dir."""
    config = tmp_path / "conf" / "live.yaml"
    config.parent.mkdir()
    config.write_text("banner: Welcome\npage_size: 20\n")
    env = child_env(config)
    env.update(
        DJANGO_SETTINGS_MODULE="shop_site.settings", DJANGO_LIVE_SETTINGS_FILE=str(config), DJANGO_DEBUG="0",
        PYTHONDONTWRITEBYTECODE="1",  # no __pycache__ left in examples/
    )
    proc, port = gunicorn(tmp_path, "shop_site.wsgi", "sync", env, DJANGO_PROJECT)
    try:
        yield Server(proc, port, config, tmp_path / "server.log", path="/config/")
    finally:
        stop(proc)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def uvicorn_server(tmp_path: Path) -> Iterator[Server]:
    """``uvicorn --workers 2``: its workers are spawned, not forked; each imports the app itself."""
    config = write_config(tmp_path)
    log = tmp_path / "server.log"
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--workers", str(WORKERS), "--host", "127.0.0.1",
        "--port", str(port), "--app-dir", str(HERE), "--no-access-log", "prefork_app:asgi",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=tmp_path, env=child_env(config), start_new_session=True, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield Server(proc, port, config, log)
    finally:
        stop(proc)


class TestPreload:
    """The settings object created in the master keeps hot-reloading in each forked worker."""

    def test_edit_after_fork_reaches_every_worker(self, server: Server) -> None:
        """Both workers answer with the old value, then, after an edit, both answer with the new one."""
        master = server.proc.pid
        before = server.latest_by_pid(lambda b: b["greeting"] == "before")
        assert master not in before
        for body in before.values():
            assert body["created_in"] == master  # --preload: created in the master, inherited by fork

        save(server.config, "greeting: after\n")
        after = server.latest_by_pid(lambda b: b["greeting"] == "after")
        assert set(after) == set(before)  # the same two workers, none restarted
        for pid, body in after.items():
            assert body["version"] != before[pid]["version"]

        server.config.write_text("greeting: in place\n")  # an edit that rewrites the file itself
        server.latest_by_pid(lambda b: b["greeting"] == "in place")

    def test_status_is_truthful_in_workers(self, server: Server) -> None:
        """In each worker hot reload says enabled, the watcher runs with inotify, and its threads are alive."""
        workers = server.latest_by_pid(lambda b: True)
        for body in workers.values():
            assert body["enabled"] is True
            assert body["state"] == "running"
            assert body["mode"] == "inotify"
            assert body["watched_dirs"] == [str(server.config.parent)]
            assert body["threads"], body  # the worker's own watcher threads, started at the fork

    def test_worker_respawned_after_an_edit_serves_the_new_value(self, server: Server) -> None:
        """A worker the master forks after an edit (here replacing a stopped one) answers with the new value."""
        before = server.latest_by_pid(lambda b: True)
        save(server.config, "greeting: after\n")
        server.latest_by_pid(lambda b: b["greeting"] == "after")
        os.kill(min(before), signal.SIGTERM)  # a worker of this test's gunicorn; the master forks a new one
        fresh: dict[int, dict[str, Any]] = {}

        def respawned() -> bool:
            try:
                answers = server.sample()
            except ConnectionError:  # the stopping worker may close a connection it accepted without answering
                return False
            fresh.update((b["pid"], b) for b in answers if b["pid"] not in before)
            return bool(fresh)

        wait_for(respawned, timeout=30, interval=0.02)
        (body,) = fresh.values()
        assert body["created_in"] == server.proc.pid
        assert body["greeting"] == "after"
        assert body["enabled"] is True and body["state"] == "running" and body["threads"]


class TestUvicornWorkers:
    """``uvicorn --workers N`` spawns its workers: each creates and watches its own settings object."""

    def test_edit_reaches_every_spawned_worker(self, uvicorn_server: Server) -> None:
        """Each worker created its own object (no fork involved), and an edit reaches both."""
        before = uvicorn_server.latest_by_pid(lambda b: b["greeting"] == "before")
        for pid, body in before.items():
            assert body["created_in"] == pid
            assert body["enabled"] is True and body["state"] == "running" and body["mode"] == "inotify"
        save(uvicorn_server.config, "greeting: after\n")
        after = uvicorn_server.latest_by_pid(lambda b: b["greeting"] == "after")
        assert set(after) == set(before)


class TestDjangoPreload:
    """The Django example under gunicorn --preload: ShopConfig.ready() runs in the master, every worker follows."""

    def test_edit_reaches_every_django_worker(self, django_server: Server) -> None:
        """Both workers serve version 1, then after an edit both serve version 2 and its values."""
        before = django_server.latest_by_pid(lambda b: b["version"] == 1 and b["watching"])
        save(django_server.config, "banner: Spring sale\npage_size: 50\n")
        after = django_server.latest_by_pid(lambda b: b["version"] == 2 and b["last_error"] is None)
        assert set(after) == set(before)
        pages = [django_server.get("/") for _ in range(6)]  # every worker is on version 2 now
        assert {(p["banner"], p["page_size"], p["version"]) for p in pages} == {("Spring sale", 50, 2)}
