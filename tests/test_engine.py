"""Tests for livesettings._engine: concurrent enable, the rejected-content cache, logging outside
the lock, the first reload after start, and secrets inside containers in error messages."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from conftest import wait_for
from livesettings import ReloadableSettings, ReloadConfig, ReloadError


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _settings(yaml: Path, config: ReloadConfig) -> ReloadableSettings:
    class Settings(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(yaml))
        reload_config = config
        count: int = 0

    return Settings()


class TestConcurrentEnable:
    """Many threads enabling hot reload at once start exactly one watcher."""

    def test_one_watcher(self, tmp_path: Path) -> None:
        """Eight concurrent enable() calls leave one watcher, and close() joins every thread."""
        yaml = tmp_path / "c.yaml"
        yaml.write_text("count: 1\n")
        s = _settings(yaml, ReloadConfig(enabled=False))
        before = {t.ident for t in threading.enumerate()}
        barrier = threading.Barrier(8)

        def enable() -> None:
            barrier.wait()
            s.hot_reload.enable()

        threads = [threading.Thread(target=enable) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        workers = [
            t for t in threading.enumerate()
            if t.ident not in before and t.name.startswith("livesettings") and t.name != "livesettings-inotify"
        ]  # the process-wide inotify reader is shared by every watcher, not one of them
        assert len(workers) == 1
        s.close()  # the autouse fixture fails the test if a livesettings thread survives


class TestRejectedContentCache:
    """Rejected bytes are remembered for the watcher; a manual reload always validates again."""

    def test_watcher_reports_the_current_rejection(self, tmp_path: Path) -> None:
        """Bad A, bad B, then A again: last_error describes A, which the sources hold now."""
        yaml = tmp_path / "c.yaml"
        yaml.write_text("count: 1\n")
        with _settings(yaml, ReloadConfig(debounce_ms=10, failure_threshold=100)) as s:
            _write(yaml, "count: aaa\n")
            wait_for(lambda: s.hot_reload.metrics.rejected == 1)
            _write(yaml, "count: bbb\n")
            wait_for(lambda: s.hot_reload.metrics.rejected == 2)
            _write(yaml, "count: aaa\n")
            wait_for(lambda: s.last_error is not None and "'aaa'" in str(s.last_error))
            assert s.hot_reload.metrics.rejected == 2  # not validated a second time

    def test_manual_reload_validates_again(self, tmp_path: Path) -> None:
        """A validator that depends on the outside world is asked again on an explicit reload()."""
        yaml = tmp_path / "c.yaml"
        cert = tmp_path / "cert.pem"
        yaml.write_text(f"cert: {tmp_path / 'none.pem'}\n")

        class Settings(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(yaml))
            reload_config = ReloadConfig(enabled=False)
            cert: str = ""

            @field_validator("cert")
            @classmethod
            def _exists(cls, value: str) -> str:
                if value and not Path(value).exists():
                    raise ValueError(f"{value} does not exist")
                return value

        yaml.write_text("cert: ''\n")
        with Settings() as s:
            yaml.write_text(f"cert: {cert}\n")
            with pytest.raises(ReloadError, match="does not exist"):
                s.reload()
            cert.write_text("pem")
            version = s.reload()
            assert version is not None and s.cert == str(cert)
            assert s.last_error is None


class TestLoggingOutsideTheLock:
    """Log handlers are user code: they run after the engine's lock is released."""

    def test_handler_may_reload(self, tmp_path: Path) -> None:
        """An audit log handler that reads history and reloads does not deadlock."""
        yaml = tmp_path / "c.yaml"
        yaml.write_text("count: 1\n")
        seen: list[int] = []

        class Reentrant(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if settings_ref:
                    seen.append(len(settings_ref[0].history))
                    settings_ref[0].reload()

        settings_ref: list[ReloadableSettings] = []
        handler = Reentrant()
        audit = logging.getLogger("livesettings.audit")
        audit.addHandler(handler)
        audit.setLevel(logging.INFO)
        try:
            with _settings(yaml, ReloadConfig(enabled=False)) as s:
                settings_ref.append(s)
                yaml.write_text("count: 2\n")
                done = threading.Event()
                worker = threading.Thread(target=lambda: (s.reload(), done.set()))
                worker.start()
                assert done.wait(10), "reload() deadlocked in a log handler"
                worker.join()
                assert seen == [2]
        finally:
            audit.removeHandler(handler)


class TestFirstReload:
    """Right after start-up, a reload with unchanged sources stops after reading the files."""

    def test_no_validation(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The first reload() with nothing changed neither parses nor validates."""
        yaml = tmp_path / "c.yaml"
        yaml.write_text("count: 1\n")
        with _settings(yaml, ReloadConfig(enabled=False)) as s:
            def fail(**_: object) -> None:
                raise AssertionError("the candidate was loaded again")

            monkeypatch.setattr(s._ls_engine.loader, "load", fail)
            assert s.reload() is None


class TestSecretsInContainers:
    """A secret inside a list or dict of sections never appears in an error message."""

    def test_list_and_dict_of_models(self, tmp_path: Path) -> None:
        """Range errors on SecretStr fields inside list[Model] and dict[str, Model] hide the input."""

        class Upstream(BaseModel):
            key: SecretStr = Field(min_length=20)

        class Settings(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(tmp_path / "c.yaml"))
            reload_config = ReloadConfig(enabled=False)
            upstreams: list[Upstream] = []
            by_name: dict[str, Upstream] = {}

        (tmp_path / "c.yaml").write_text("upstreams: [{key: HUNTER2-SHORT}]\nby_name: {a: {key: OTHER-SHORT}}\n")
        with pytest.raises(ReloadError) as info:
            Settings()
        text = str(info.value)
        assert "upstreams.0.key" in text and "by_name.a.key" in text
        assert "HUNTER2" not in text and "OTHER-SHORT" not in text

    def test_url_password_masked_in_audit(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """A DSN's password never reaches the audit log; its fingerprint changes on rotation."""

        class Settings(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(tmp_path / "c.yaml"))
            reload_config = ReloadConfig(enabled=False)
            dsn: str = ""

        (tmp_path / "c.yaml").write_text("dsn: postgres://app:first-pw@db/app\n")
        caplog.set_level(logging.INFO, logger="livesettings")
        with Settings() as s:
            (tmp_path / "c.yaml").write_text("dsn: postgres://app:second-pw@db/app\n")
            s.reload()
            assert "first-pw" not in repr(s) and "second-pw" not in repr(s)
        assert "first-pw" not in caplog.text and "second-pw" not in caplog.text
        assert "postgres://app:<secret fp=" in caplog.text
