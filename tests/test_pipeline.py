"""The pipeline through real settings objects on real files: what a reload serves, explains and reports.

Held-back combinations are validated (issue 13, defect 1), overrides are audited at once, a load
cannot reload its own object, ``explain()`` says where each value came from, shadowed edits and
unknown keys are reported, and registration paths are checked.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from livesettings import Effect, Live, ReloadableSettings, ReloadConfig, ReloadError, Restart
from livesettings.testing import override

OFF = ReloadConfig(enabled=False)


def yaml_settings(path: Path, text: str, **config: Any) -> SettingsConfigDict:
    path.write_text(text)
    return SettingsConfigDict(yaml_file=str(path), **config)


def timeouts_app(cfg: Path) -> type[ReloadableSettings]:
    """Settings whose model validator requires read_timeout <= request_timeout (a Restart field)."""

    class App(ReloadableSettings):
        model_config = yaml_settings(cfg, "request_timeout: 30\nread_timeout: 10\n")
        reload_config = OFF
        request_timeout: Annotated[int, Restart] = 30
        read_timeout: int = 10

        @model_validator(mode="after")
        def _order(self) -> App:
            if self.read_timeout > self.request_timeout:
                raise ValueError("read_timeout must not exceed request_timeout")
            return self

    return App


class TestServedSnapshotsValidate:
    """A snapshot that mixes held and live values is validated before it is served."""

    def test_partial_commit_that_breaks_a_model_validator_waits_whole(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """read_timeout <= request_timeout: a held request_timeout with a live read_timeout would break it, so nothing goes live."""
        cfg = tmp_path / "app.yaml"
        with timeouts_app(cfg)() as s:
            cfg.write_text("request_timeout: 100\nread_timeout: 50\n")
            with caplog.at_level(logging.WARNING, logger="livesettings"):
                assert s.reload() is None
            assert (s.request_timeout, s.read_timeout) == (30, 10)  # never (30, 50)
            assert set(s.pending_restart) == {"request_timeout", "read_timeout"}
            assert "fails validation" in caplog.text and "read_timeout must not exceed" in caplog.text
            plan = s.check().plan
            assert plan is not None and {p.effect for p in plan.changes} == {Effect.RESTART}

    def test_partial_commit_that_validates_goes_live(self, tmp_path: Path) -> None:
        """When the combination is valid, the live part is applied and the Restart part waits."""
        cfg = tmp_path / "app.yaml"
        with timeouts_app(cfg)() as s:
            cfg.write_text("request_timeout: 100\nread_timeout: 20\n")
            assert s.reload() is not None
            assert (s.request_timeout, s.read_timeout) == (30, 20)
            assert set(s.pending_restart) == {"request_timeout"}

    def test_guarded_production_combination_is_validated(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """In guarded production a Live min_workers of 8 is not served beside a held max_workers of 4."""
        monkeypatch.setenv("APP_ENV", "production")
        cfg = tmp_path / "app.yaml"

        class Workers(BaseModel):
            min_workers: Annotated[int, Live] = 2
            max_workers: int = 4

            @model_validator(mode="after")
            def _order(self) -> Workers:
                if self.min_workers > self.max_workers:
                    raise ValueError("min_workers must not exceed max_workers")
                return self

        class App(ReloadableSettings):
            model_config = yaml_settings(cfg, "workers: {min_workers: 2, max_workers: 4}\n")
            reload_config = ReloadConfig(enabled=False, allow_in_production=True)
            workers: Workers = Workers()

        with App() as s:
            cfg.write_text("workers: {min_workers: 8, max_workers: 16}\n")
            s.reload()
            assert (s.workers.min_workers, s.workers.max_workers) == (2, 4)
            assert set(s.pending_restart) == {"workers.min_workers", "workers.max_workers"}

    def test_section_validator_sees_the_combination(self, tmp_path: Path) -> None:
        """A held field inside a section is validated with the section's own validators too."""
        cfg = tmp_path / "app.yaml"

        class Pool(BaseModel):
            size: Annotated[int, Restart] = 5
            overflow: int = 2

            @model_validator(mode="after")
            def _bound(self) -> Pool:
                if self.overflow > self.size:
                    raise ValueError("overflow must not exceed size")
                return self

        class App(ReloadableSettings):
            model_config = yaml_settings(cfg, "pool: {size: 5, overflow: 2}\n")
            reload_config = OFF
            pool: Pool = Pool()

        with App() as s:
            cfg.write_text("pool: {size: 20, overflow: 10}\n")
            s.reload()
            assert (s.pool.size, s.pool.overflow) == (5, 2)


class TestOverride:
    """testing.override goes through the engine's public path."""

    def test_override_is_audited_at_once(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """The audit INFO line of an override is emitted when it is applied, not at the next reload."""

        class App(ReloadableSettings):
            model_config = yaml_settings(tmp_path / "a.yaml", "port: 1\n")
            reload_config = OFF
            port: int = 0

        with App() as s, caplog.at_level(logging.INFO, logger="livesettings.audit"):
            version = override(s, {"port": 2}).version
            assert version is not None and version.source == "override"
            assert f"applied version {version.id} (override): port: 1 -> 2" in caplog.text

    def test_override_of_a_path_no_field_reaches(self, tmp_path: Path) -> None:
        """An override path that names no field is a ValueError naming the closest one."""

        class App(ReloadableSettings):
            model_config = yaml_settings(tmp_path / "a.yaml", "port: 1\n")
            reload_config = OFF
            port: int = 0

        with App() as s, pytest.raises(ValueError, match="did you mean 'port'"):
            override(s, {"prot": 2})


class TestReentrancy:
    """A source or validator that reloads its own settings object fails loudly instead of deadlocking."""

    def test_validator_calling_reload(self, tmp_path: Path) -> None:
        """reload() from inside the object's own load raises RuntimeError; the object keeps serving."""
        holder: dict[str, Any] = {}
        cfg = tmp_path / "a.yaml"

        class App(ReloadableSettings):
            model_config = yaml_settings(cfg, "port: 1\n")
            reload_config = OFF
            port: int = 0

            @field_validator("port")
            @classmethod
            def _reenter(cls, value: int) -> int:
                if value == 2:
                    holder["s"].reload()
                return value

        with App() as s:
            holder["s"] = s
            cfg.write_text("port: 2\n")
            with pytest.raises(RuntimeError, match="from inside its own load"):
                s.reload()
            assert s.port == 1
            cfg.write_text("port: 3\n")
            assert s.reload() is not None and s.port == 3  # the pipeline is free again


class TestExplain:
    """settings.explain(path) names the source that won and what it shadowed."""

    def test_env_over_dotenv_over_yaml(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The winning environment variable, with the .env line and the YAML position it shadows."""
        monkeypatch.chdir(tmp_path)
        (tmp_path / ".env").write_text("APP_PORT=5432\n")
        monkeypatch.setenv("APP_PORT", "5433")

        class App(ReloadableSettings):
            model_config = yaml_settings(tmp_path / "a.yaml", "port: 5431\n", env_file=".env", env_prefix="APP_")
            reload_config = OFF
            port: int = 0
            name: str = "x"

        with App() as s:
            origin = s.explain("port")
            assert (origin.source, origin.location, origin.value) == ("env", "env APP_PORT", "5433")
            assert [o.location for o in origin.shadowed] == [".env:1", "a.yaml:1:7"]
            assert s.explain("name").source == "default"
            with pytest.raises(ValueError, match="did you mean"):
                s.explain("prot")

    def test_rollback_and_held_values_say_so(self, tmp_path: Path) -> None:
        """After a rollback the origin is the rollback; a held Restart value is 'restart'; the sources' say is shadowed."""
        cfg = tmp_path / "a.yaml"

        class App(ReloadableSettings):
            model_config = yaml_settings(cfg, "port: 1\nurl: a\n")
            reload_config = OFF
            port: int = 0
            url: Annotated[str, Restart] = ""

        with App() as s:
            first = s.version
            cfg.write_text("port: 2\nurl: b\n")
            s.reload()
            held = s.explain("url")
            assert (held.source, held.value) == ("restart", "'a'") and held.shadowed[0].value == "'b'"
            s.rollback()
            rolled = s.explain("port")
            assert rolled.source == "rollback" and first.id in rolled.location and rolled.shadowed[0].value == "2"

    def test_secrets_are_masked(self, tmp_path: Path) -> None:
        """explain() never shows a secret value."""
        cfg = tmp_path / "a.yaml"

        class App(ReloadableSettings):
            model_config = yaml_settings(cfg, "api_token: PLANTED-SECRET\n")
            reload_config = OFF
            api_token: str = ""

        with App() as s:
            text = f"{s.explain('api_token')!s} {s.explain('api_token')!r}"
            assert "PLANTED-SECRET" not in text and "secret" in text


class TestShadowedEdits:
    """An edit that a higher-priority source hides is reported, not silently lost."""

    def test_dotenv_edit_under_an_env_var(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
        """Editing .env while APP_PORT wins logs one WARNING with both places, and check() plans it as shadowed."""
        monkeypatch.chdir(tmp_path)
        (tmp_path / ".env").write_text("APP_PORT=5432\nAPP_NAME=a\n")
        monkeypatch.setenv("APP_PORT", "5433")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(env_file=".env", env_prefix="APP_")
            reload_config = OFF
            port: int = 0
            name: str = ""

        with App() as s:
            (tmp_path / ".env").write_text("APP_PORT=6000\nAPP_NAME=a\n")
            plan = s.check().plan
            assert plan is not None and [c.path for c in plan.shadowed] == ["port"]
            with caplog.at_level(logging.WARNING, logger="livesettings"):
                assert s.reload() is None and s.port == 5433
            shadow = [r.getMessage() for r in caplog.records if "wins" in r.getMessage()]
            assert len(shadow) == 1 and ".env:1" in shadow[0] and "env APP_PORT wins" in shadow[0]
            caplog.clear()
            (tmp_path / ".env").write_text("APP_PORT=6000\nAPP_NAME=b\n")
            with caplog.at_level(logging.WARNING, logger="livesettings"):
                version = s.reload()
            assert version is not None and version.shadowed == ()  # logged once, not again
            assert not [r for r in caplog.records if "wins" in r.getMessage()]


class Server(BaseModel):
    requests_per_minute: int = 60


class TestUnknownKeys:
    """A key no field accepts is reported in every mode but "ignore"."""

    def _app(self, cfg: Path, mode: str) -> type[ReloadableSettings]:
        class App(ReloadableSettings):
            model_config = yaml_settings(cfg, "server:\n  requests_per_minute: 100\n")
            reload_config = ReloadConfig(enabled=False, unknown_keys=mode)  # type: ignore[arg-type]
            server: Server = Server()

        return App

    def test_warn_logs_once_and_lists_on_version_and_check(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """The default: a typo is logged once with file, line and column, and listed on the Version and in check()."""
        cfg = tmp_path / "a.yaml"
        with self._app(cfg, "warn")() as s:
            cfg.write_text("server:\n  requests_per_minuet: 300\n")
            with caplog.at_level(logging.WARNING, logger="livesettings"):
                version = s.reload()
            assert version is not None and s.server.requests_per_minute == 60  # the typo reset it: now said
            [key] = version.unknown_keys
            assert (key.path, key.line, key.column, key.suggestion) == ("server.requests_per_minuet", 2, 3, "requests_per_minute")
            assert "did you mean requests_per_minute" in caplog.text
            assert [k.path for k in s.check().unknown_keys] == ["server.requests_per_minuet"]
            caplog.clear()
            cfg.write_text("server:\n  requests_per_minuet: 301\n")
            with caplog.at_level(logging.WARNING, logger="livesettings"):
                s.reload()
            assert "requests_per_minuet" not in caplog.text  # the same key is not logged again

    def test_error_rejects_and_keeps_serving(self, tmp_path: Path) -> None:
        """unknown_keys="error": the candidate is rejected with the key's location; the last good config stays."""
        cfg = tmp_path / "a.yaml"
        with self._app(cfg, "error")() as s:
            cfg.write_text("server:\n  requests_per_minuet: 300\n")
            with pytest.raises(ReloadError, match=r"requests_per_minuet.*line 2, column 3"):
                s.reload()
            assert s.server.requests_per_minute == 100 and s.last_error is not None

    def test_ignore_says_nothing(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """unknown_keys="ignore": no log line, nothing on the Version."""
        cfg = tmp_path / "a.yaml"
        with self._app(cfg, "ignore")() as s:
            cfg.write_text("server:\n  requests_per_minuet: 300\n")
            with caplog.at_level(logging.WARNING, logger="livesettings"):
                version = s.reload()
            assert version is not None and version.unknown_keys == () and "minuet" not in caplog.text


class TestRegistrationPaths:
    """Paths given to watch() and subscribe() must name something a field can reach."""

    def test_watch_and_subscribe_refuse_unknown_paths(self, tmp_path: Path) -> None:
        """A typo in a watched path is a ValueError naming the closest field; a real path is fine."""

        class App(ReloadableSettings):
            model_config = yaml_settings(tmp_path / "a.yaml", "server: {requests_per_minute: 1}\n")
            reload_config = OFF
            server: Server = Server()
            extra_map: dict[str, int] = {}

        with App() as s:
            with pytest.raises(ValueError, match="did you mean 'requests_per_minute'"):
                s.watch("server.requests_per_minuet", print)
            with pytest.raises(ValueError, match="did you mean 'server'"):
                s.hot_reload.subscribe("sever", print)
            s.watch("server.requests_per_minute", print).cancel()
            s.watch("extra_map.anything", print).cancel()  # below a dict any key is fine
