"""Production rules: environment detection, the explicit opt-in, guarded mode, trust checks, audit."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import BaseModel, SecretStr
from pydantic_settings import SettingsConfigDict

from livesettings import (
    HotReloadableConfigProvider,
    Live,
    ReloadableSettings,
    ReloadConfig,
    ReloadError,
    Restart,
    current_environment,
)
from livesettings.exceptions import ProductionReloadError, UntrustedSourceError


def _settings_class(yaml: Path, config: ReloadConfig) -> type[ReloadableSettings]:
    class Database(BaseModel):
        pool_size: int = 5
        password: Annotated[SecretStr, Live] = SecretStr("")

    class Settings(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(yaml))
        reload_config = config
        level: str = "INFO"
        database: Database = Database()
        workers: Annotated[int, Live] = 1

    return Settings


class TestEnvironment:
    """Which environment the process runs in."""

    def test_default_is_development(self) -> None:
        """With no variable set the environment is development."""
        assert current_environment() == "development"

    @pytest.mark.parametrize("name", ["LIVESETTINGS_ENV", "APP_ENV", "ENVIRONMENT"])
    def test_each_variable_is_read(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        """Each of the three variables sets the environment, lower-cased."""
        monkeypatch.setenv(name, "Staging")
        assert current_environment() == "staging"

    def test_precedence(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """LIVESETTINGS_ENV beats APP_ENV, which beats ENVIRONMENT."""
        monkeypatch.setenv("ENVIRONMENT", "c")
        monkeypatch.setenv("APP_ENV", "b")
        assert current_environment() == "b"
        monkeypatch.setenv("LIVESETTINGS_ENV", "a")
        assert current_environment() == "a"


class TestOptIn:
    """Hot reload in production needs an explicit opt-in and never turns on silently."""

    @pytest.mark.parametrize("env", ["production", "prod", "PRODUCTION"])
    def test_off_by_default_in_production(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: str) -> None:
        """With enabled=None the watcher does not run in production."""
        monkeypatch.setenv("APP_ENV", env)
        yaml = tmp_path / "c.yaml"
        yaml.write_text("level: INFO\n")
        with _settings_class(yaml, ReloadConfig())() as s:
            assert not s.hot_reload.is_enabled()
            assert s.hot_reload.status is None

    def test_enabled_without_opt_in_raises(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """ReloadConfig(enabled=True) in production raises ProductionReloadError naming the opt-in."""
        monkeypatch.setenv("LIVESETTINGS_ENV", "production")
        yaml = tmp_path / "c.yaml"
        yaml.write_text("level: INFO\n")
        with pytest.raises(ProductionReloadError, match="allow_in_production=True"):
            _settings_class(yaml, ReloadConfig(enabled=True))()

    def test_manager_enable_in_production_raises(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """hot_reload.enable() in production without the opt-in raises instead of watching."""
        monkeypatch.setenv("LIVESETTINGS_ENV", "production")
        yaml = tmp_path / "c.yaml"
        yaml.write_text("level: INFO\n")
        with _settings_class(yaml, ReloadConfig())() as s:
            with pytest.raises(ProductionReloadError):
                s.hot_reload.enable()
            assert not s.hot_reload.is_enabled()

    def test_provider_in_production(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The brief's provider refuses enable_hot_reload=True in production unless allowed."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("APP_ENV", "production")
        with pytest.raises(ProductionReloadError):
            HotReloadableConfigProvider(enable_hot_reload=True)
        auto = HotReloadableConfigProvider()
        assert not auto.hot_reload.is_enabled()
        auto.close()
        with HotReloadableConfigProvider(enable_hot_reload=True, allow_in_production=True) as allowed:
            assert allowed.hot_reload.is_enabled()

    def test_opt_in_watches(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """enabled=True with allow_in_production=True watches in production."""
        monkeypatch.setenv("APP_ENV", "production")
        yaml = tmp_path / "c.yaml"
        yaml.write_text("level: INFO\n")
        with _settings_class(yaml, ReloadConfig(enabled=True, allow_in_production=True))() as s:
            assert s.hot_reload.is_enabled()


class TestGuardedMode:
    """With the opt-in, production changes only fields marked Live; the rest wait for a restart."""

    def test_only_live_fields_change(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A Live field changes live; an unmarked one is held in pending_restart."""
        monkeypatch.setenv("APP_ENV", "production")
        yaml = tmp_path / "c.yaml"
        yaml.write_text("level: INFO\nworkers: 1\ndatabase: {pool_size: 5, password: a}\n")
        config = ReloadConfig(enabled=False, allow_in_production=True)
        with _settings_class(yaml, config)() as s:
            yaml.write_text("level: DEBUG\nworkers: 4\ndatabase: {pool_size: 9, password: b}\n")
            version = s.reload()
            assert version is not None
            assert sorted(c.path for c in version.changes) == ["database.password", "workers"]
            assert s.workers == 4
            assert s.database.password.get_secret_value() == "b"
            assert s.level == "INFO"
            assert s.database.pool_size == 5
            assert sorted(s.pending_restart) == ["database.pool_size", "level"]

    def test_without_opt_in_manual_reload_applies(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without the opt-in nothing watches, and an explicit reload() in code applies normally."""
        monkeypatch.setenv("APP_ENV", "production")
        yaml = tmp_path / "c.yaml"
        yaml.write_text("level: INFO\n")
        with _settings_class(yaml, ReloadConfig())() as s:
            yaml.write_text("level: DEBUG\n")
            assert s.reload() is not None
            assert s.level == "DEBUG"


class TestTrustChecks:
    """Files must be inside the allowed roots, not world-writable and not too big."""

    def test_world_writable_file_is_refused(self, tmp_path: Path) -> None:
        """A world-writable config file is refused at start-up and on reload (last good kept)."""
        yaml = tmp_path / "c.yaml"
        yaml.write_text("level: INFO\n")
        cls = _settings_class(yaml, ReloadConfig(enabled=False))
        with cls() as s:
            yaml.write_text("level: DEBUG\n")
            os.chmod(yaml, 0o666)
            with pytest.raises(UntrustedSourceError, match="world-writable"):
                s.reload()
            assert s.level == "INFO"
        with pytest.raises(UntrustedSourceError):
            cls()

    @pytest.fixture
    def link_out(self, tmp_path: Path) -> tuple[Path, Path]:
        """conf/c.yaml, a symlink to outside/real.yaml: returns (conf, outside)."""
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "real.yaml").write_text("level: DEBUG\n")
        root = tmp_path / "conf"
        root.mkdir()
        (root / "c.yaml").symlink_to(outside / "real.yaml")
        return root, outside

    def test_symlink_outside_root_is_refused(self, link_out: tuple[Path, Path]) -> None:
        """A config symlink that resolves outside the allowed roots is refused, naming both paths."""
        root, _ = link_out
        cls = _settings_class(root / "c.yaml", ReloadConfig(enabled=False))
        with pytest.raises(UntrustedSourceError, match="outside the allowed roots") as info:
            cls()
        assert info.value.source == str(root / "c.yaml")

    def test_allowed_roots_admit_the_target(self, link_out: tuple[Path, Path]) -> None:
        """Listing the target's directory in allowed_roots admits the symlinked file."""
        root, outside = link_out
        cls = _settings_class(root / "c.yaml", ReloadConfig(enabled=False, allowed_roots=(root, outside)))
        with cls() as s:
            assert s.level == "DEBUG"

    def test_size_limit(self, tmp_path: Path) -> None:
        """A file over max_file_bytes is refused before it is parsed."""
        yaml = tmp_path / "c.yaml"
        yaml.write_text("level: INFO\n")
        with _settings_class(yaml, ReloadConfig(enabled=False, max_file_bytes=64))() as s:
            yaml.write_text("level: INFO\n" + "#" * 100 + "\n")
            with pytest.raises(ReloadError, match="over the limit of 64 bytes"):
                s.reload()


class TestAudit:
    """Every applied and rejected change is written to the livesettings.audit logger, secrets masked."""

    def test_applied_and_rejected_are_audited(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """One INFO record per applied version and one WARNING per rejection; no secret values."""
        yaml = tmp_path / "c.yaml"
        yaml.write_text("level: INFO\ndatabase: {password: first-secret}\n")
        caplog.set_level(logging.INFO, logger="livesettings")
        with _settings_class(yaml, ReloadConfig(enabled=False))() as s:
            yaml.write_text("level: DEBUG\ndatabase: {password: second-secret}\n")
            version = s.reload()
            assert version is not None
            yaml.write_text("level: [not, a, string]\ndatabase: {password: third-secret}\n")
            with pytest.raises(ReloadError):
                s.reload()
        audit = [r for r in caplog.records if r.name == "livesettings.audit"]
        applied = [r for r in audit if version.id in r.getMessage() and r.levelno == logging.INFO]
        rejected = [r for r in audit if r.levelno == logging.WARNING]
        assert len(applied) == 1 and "level: 'INFO' -> 'DEBUG'" in applied[0].getMessage()
        assert "database.password: <secret fp=" in applied[0].getMessage()
        assert len(rejected) == 1 and "c.yaml" in rejected[0].getMessage()
        text = caplog.text
        assert "first-secret" not in text and "second-secret" not in text and "third-secret" not in text


class TestUnwatchableMounts:
    """A file that is a mount point of its own (Kubernetes subPath) is reported as never updating."""

    def test_subpath_mount_warning(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """When a config file's device differs from its directory's, a warning says it will not update.

        The directory's stat is faked, so the file itself still passes the reader's inode checks.
        """
        yaml = tmp_path / "c.yaml"
        yaml.write_text("level: INFO\n")
        real_stat = os.stat

        class FakeStat:
            def __init__(self, st: os.stat_result, dev: int) -> None:
                self._st, self.st_dev = st, dev

            def __getattr__(self, name: str) -> object:
                return getattr(self._st, name)

        def fake_stat(path: object, *args: object, **kwargs: object) -> object:
            st = real_stat(path, *args, **kwargs)  # type: ignore[arg-type]
            return FakeStat(st, st.st_dev + 1) if str(path) == str(yaml.parent) else st

        caplog.set_level(logging.WARNING, logger="livesettings")
        monkeypatch.setattr("livesettings.watch.feed.os.stat", fake_stat)
        with _settings_class(yaml, ReloadConfig(enabled=True, debounce_ms=10))():
            pass
        assert any("will not receive updates" in r.getMessage() for r in caplog.records)


class TestRestartInProductionStillWorks:
    """Restart markers keep their meaning in guarded mode."""

    def test_restart_marker(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A Restart field inside a Live section is still held for a restart."""
        monkeypatch.setenv("APP_ENV", "production")

        class Pool(BaseModel):
            dsn: Annotated[str, Restart] = "a"
            size: int = 1

        class Settings(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(tmp_path / "c.yaml"))
            reload_config = ReloadConfig(enabled=False, allow_in_production=True)
            pool: Annotated[Pool, Live] = Pool()

        (tmp_path / "c.yaml").write_text("pool: {dsn: a, size: 1}\n")
        with Settings() as s:
            (tmp_path / "c.yaml").write_text("pool: {dsn: b, size: 2}\n")
            s.reload()
            assert (s.pool.dsn, s.pool.size) == ("a", 2)
            assert list(s.pending_restart) == ["pool.dsn"]
