"""Tests for the design brief's compatibility layer: HotReloadManager, the untyped providers, production rules.

File watching itself is tested in ``tests/watch/``; here reloads are driven by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import SettingsConfigDict

from livesettings import (
    ConfigReloadable,
    ConfigSubscriber,
    EnvironmentConfigProvider,
    HotReloadableConfigProvider,
    HotReloadManager,
    ReloadableSettings,
    ReloadConfig,
    ReloadError,
    Version,
    current_environment,
)
from livesettings.exceptions import ProductionReloadError


@pytest.fixture
def project(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    config.mkdir()
    (config / "base.yaml").write_text(
        "app:\n  name: base\n  debug: false\ndatabase:\n  pool_size: 5\n  host: base-host\n"
    )
    (config / "development.yaml").write_text("app:\n  debug: true\ndatabase:\n  host: dev-host\n")
    return tmp_path


def provider(project: Path, cls: type[Any] = HotReloadableConfigProvider, **kwargs: Any) -> Any:
    if cls is HotReloadableConfigProvider:
        kwargs.setdefault("enable_hot_reload", False)
    return cls(config_dir=project / "config", environment="development", env_dir=project, **kwargs)


class TestEnvironmentConfigProvider:
    """Untyped, dotted-key configuration."""

    def test_base_and_environment_files_merge(self, project: Path) -> None:
        """config/base.yaml is deep-merged under config/{environment}.yaml."""
        with provider(project, EnvironmentConfigProvider) as p:
            assert p.get("app.name") == "base"
            assert p.get("app.debug") is True
            assert p.get("database.host") == "dev-host"
            assert p.get("database.pool_size") == 5

    def test_missing_keys_give_the_default(self, project: Path) -> None:
        """An absent key (or a key below a leaf) returns the default."""
        with provider(project, EnvironmentConfigProvider) as p:
            assert p.get("nope") is None
            assert p.get("nope.deeper", 42) == 42
            assert p.get("app.name.deeper", "d") == "d"

    def test_sections_are_returned_as_mappings(self, project: Path) -> None:
        """Getting a section returns its values."""
        with provider(project, EnvironmentConfigProvider) as p:
            assert dict(p.get("database")) == {"pool_size": 5, "host": "dev-host"}

    def test_env_var_overrides(self, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """DATABASE__POOL_SIZE (or DATABASE_POOL_SIZE) overrides database.pool_size, typed."""
        with provider(project, EnvironmentConfigProvider) as p:
            monkeypatch.setenv("DATABASE__POOL_SIZE", "20")
            assert p.get("database.pool_size") == 20
            monkeypatch.delenv("DATABASE__POOL_SIZE")
            monkeypatch.setenv("DATABASE_HOST", "env-host")
            assert p.get("database.host") == "env-host"

    def test_dotenv_precedence(self, project: Path) -> None:
        """.env.{environment} beats .env, which beats the YAML files."""
        (project / ".env").write_text("DATABASE__HOST=dotenv-host\nDATABASE__POOL_SIZE=7\n")
        (project / ".env.development").write_text("DATABASE__HOST=dotenv-dev-host\n")
        with provider(project, EnvironmentConfigProvider) as p:
            assert p.get("database.host") == "dotenv-dev-host"
            assert p.get("database.pool_size") == 7
            assert p.get("app.name") == "base"

    def test_base_file_is_optional(self, project: Path) -> None:
        """Without base.yaml the environment file alone is read."""
        (project / "config" / "base.yaml").unlink()
        with provider(project, EnvironmentConfigProvider) as p:
            assert p.get("database.host") == "dev-host" and p.get("app.name") is None

    def test_environment_from_variables(self, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The environment comes from LIVESETTINGS_ENV, then APP_ENV, then ENVIRONMENT, else development."""
        (project / "config" / "staging.yaml").write_text("where: staging\n")
        (project / "config" / "qa.yaml").write_text("where: qa\n")
        assert current_environment() == "development"
        monkeypatch.setenv("ENVIRONMENT", "qa")
        monkeypatch.setenv("APP_ENV", "Staging")
        with EnvironmentConfigProvider(config_dir=project / "config", env_dir=project) as p:
            assert p.environment == "staging" and p.get("where") == "staging"
        monkeypatch.setenv("LIVESETTINGS_ENV", "qa")
        assert current_environment() == "qa"

    def test_as_dict(self, project: Path) -> None:
        """as_dict() returns the merged file config."""
        with provider(project, EnvironmentConfigProvider) as p:
            assert p.as_dict()["database"] == {"pool_size": 5, "host": "dev-host"}

    def test_invalid_file_at_startup(self, project: Path) -> None:
        """A broken YAML file at start-up raises a ReloadError naming it."""
        (project / "config" / "development.yaml").write_text("app: [\n")
        with pytest.raises(ReloadError) as info:
            provider(project, EnvironmentConfigProvider)
        assert "development.yaml" in str(info.value)


class Recorder(ConfigSubscriber):
    def __init__(self) -> None:
        self.changes: list[tuple[str, Any, Any]] = []
        self.errors: list[Exception] = []

    def on_config_change(self, path: str, old_value: Any, new_value: Any) -> None:
        self.changes.append((path, old_value, new_value))

    def on_reload_error(self, error: Exception) -> None:
        self.errors.append(error)


class TestHotReloadManager:
    """The brief's HotReloadManager API, driven with reload_now()."""

    def test_reload_now_and_leaf_subscribers(self, project: Path) -> None:
        """Appending ``test: {value: 42}`` reaches a subscriber as ("test.value", None, 42), as in the brief."""
        with provider(project) as p:
            got: list[tuple[str, Any, Any]] = []
            p.hot_reload.subscribe("test.value", lambda path, old, new: got.append((path, old, new)))
            with open(project / "config" / "development.yaml", "a") as f:
                f.write("\ntest:\n  value: 42\n")
            v = p.hot_reload.reload_now()
            assert isinstance(v, Version)
            assert p.get("test.value") == 42 and p.get_with_reload("test.value") == 42
            assert got == [("test.value", None, 42)]

    def test_config_subscriber(self, project: Path) -> None:
        """A ConfigSubscriber gets each leaf change under its path and the reload errors."""
        with provider(project) as p:
            rec = Recorder()
            handle = p.hot_reload.subscribe("database", rec)
            (project / "config" / "development.yaml").write_text("database:\n  host: new-host\n  user: u\n")
            p.hot_reload.reload_now()
            assert sorted(rec.changes) == [
                ("database.host", "dev-host", "new-host"),
                ("database.user", None, "u"),
            ]
            (project / "config" / "development.yaml").write_text("database: [\n")
            with pytest.raises(ReloadError):
                p.hot_reload.reload_now()
            assert len(rec.errors) == 1
            p.hot_reload.unsubscribe(handle)
            (project / "config" / "development.yaml").write_text("database:\n  host: other\n")
            p.hot_reload.reload_now()
            assert len(rec.changes) == 2

    def test_cancelled_subscriber_hears_no_errors(self, project: Path) -> None:
        """handle.cancel() (not only unsubscribe) also stops a ConfigSubscriber's error calls."""
        with provider(project) as p:
            rec = Recorder()
            p.hot_reload.subscribe("database", rec).cancel()
            (project / "config" / "development.yaml").write_text("database: [\n")
            with pytest.raises(ReloadError):
                p.hot_reload.reload_now()
            assert rec.errors == []

    def test_history_and_rollback(self, project: Path) -> None:
        """get_version_history() lists versions oldest first; rollback() restores the previous one."""
        with provider(project) as p:
            env_file = project / "config" / "development.yaml"
            env_file.write_text("database:\n  host: h2\n")
            p.hot_reload.reload_now()
            history = p.hot_reload.get_version_history()
            assert [v.source for v in history] == ["initial", "reload"]
            r = p.hot_reload.rollback()
            assert r.restores == history[0].id and p.get("database.host") == "dev-host"
            p.hot_reload.rollback(history[1].id)
            assert p.get("database.host") == "h2"
            assert len(p.hot_reload.get_version_history()) == 4

    def test_watch_value_callback_shapes(self, project: Path) -> None:
        """watch_value accepts callbacks taking (new), (old, new) or (path, old, new)."""
        with provider(project) as p:
            one: list[Any] = []
            two: list[Any] = []
            three: list[Any] = []
            p.watch_value("database.pool_size", lambda new: one.append(new))
            p.watch_value("database.pool_size", lambda old, new: two.append((old, new)))
            p.watch_value("database", lambda path, old, new: three.append((path, old, new)))
            (project / "config" / "development.yaml").write_text(
                "app:\n  debug: true\ndatabase:\n  host: dev-host\n  pool_size: 9\n"
            )
            p.reload()
            assert one == [9] and two == [(5, 9)] and three == [("database.pool_size", 5, 9)]

    def test_register_a_reloadable_component(self, project: Path) -> None:
        """A ConfigReloadable gets one {path: new_value} mapping per version."""

        class Pool(ConfigReloadable):
            def __init__(self) -> None:
                self.batches: list[dict[str, Any]] = []

            def reload_config(self, changes: dict[str, Any]) -> None:
                self.batches.append(changes)

        with provider(project) as p:
            pool = Pool()
            p.hot_reload.register(pool)
            (project / "config" / "development.yaml").write_text(
                "app:\n  debug: false\ndatabase:\n  host: x\n"
            )
            p.reload()
            assert pool.batches == [{"app.debug": False, "database.host": "x"}]

    def test_manager_from_a_provider_or_settings(self, project: Path) -> None:
        """HotReloadManager wraps a provider or a settings object; anything else is a TypeError."""
        with provider(project) as p:
            manager = HotReloadManager(p)
            assert manager.get_version_history() == p.hot_reload.get_version_history()

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(env_prefix="APP_")
            reload_config = ReloadConfig(enabled=False)
            port: int = 1

        with App() as s:
            assert HotReloadManager(s).get_version_history() == list(s.history)
        with pytest.raises(TypeError):
            HotReloadManager(object())

    def test_enable_and_disable(self, project: Path) -> None:
        """enable() starts watching, disable() stops it; both are idempotent."""
        with provider(project) as p:
            assert not p.hot_reload.is_enabled()
            p.hot_reload.enable()
            p.hot_reload.enable()
            assert p.hot_reload.is_enabled() and p.hot_reload.enabled
            p.hot_reload.disable()
            p.hot_reload.disable()
            assert not p.hot_reload.is_enabled()

    def test_check_and_metrics(self, project: Path) -> None:
        """check() validates without applying; metrics count applied and rejected reloads."""
        with provider(project) as p:
            (project / "config" / "development.yaml").write_text("database: [\n")
            assert not p.hot_reload.check()
            with pytest.raises(ReloadError):
                p.hot_reload.reload_now()
            (project / "config" / "development.yaml").write_text("database:\n  host: ok\n")
            p.hot_reload.reload_now()
            m = p.hot_reload.metrics
            assert (m.applied, m.rejected) == (1, 1)
            assert p.hot_reload.last_error is None


class TestProduction:
    """Hot reload is off in production unless explicitly allowed."""

    @pytest.fixture(autouse=True)
    def production(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("APP_ENV", "production")

    @pytest.mark.parametrize(
        ("var", "value"),
        [("LIVESETTINGS_ENV", "prod"), ("APP_ENV", "production"), ("ENVIRONMENT", "PRODUCTION")],
    )
    def test_detection(self, monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
        """production/prod in any of the three variables (any case) counts as production."""
        monkeypatch.delenv("APP_ENV")
        monkeypatch.setenv(var, value)
        assert ReloadConfig().watching() is False
        with pytest.raises(ProductionReloadError):
            ReloadConfig(enabled=True).watching()

    def test_default_is_off(self) -> None:
        """Without an explicit setting, settings in production do not watch."""

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(env_prefix="X_")
            port: int = 1

        with App() as s:
            assert not s.hot_reload.is_enabled()
            with pytest.raises(ProductionReloadError):
                s.hot_reload.enable()

    def test_enabled_without_opt_in_raises(self) -> None:
        """ReloadConfig(enabled=True) in production raises a clear ProductionReloadError."""

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(env_prefix="X_")
            reload_config = ReloadConfig(enabled=True)
            port: int = 1

        with pytest.raises(ProductionReloadError, match="allow_in_production"):
            App()

    def test_provider_without_opt_in_raises(self, project: Path) -> None:
        """HotReloadableConfigProvider(enable_hot_reload=True) in production raises."""
        with pytest.raises(ProductionReloadError):
            HotReloadableConfigProvider(
                config_dir=project / "config",
                environment="production",
                env_dir=project,
                enable_hot_reload=True,
            )

    def test_opt_in_works(self) -> None:
        """With allow_in_production=True hot reload runs in production."""
        assert ReloadConfig(enabled=True, allow_in_production=True).watching() is True

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(env_prefix="X_")
            reload_config = ReloadConfig(enabled=True, allow_in_production=True)
            port: int = 1

        with App() as s:
            assert s.hot_reload.is_enabled()

    def test_manual_reload_still_works(self, tmp_path: Path) -> None:
        """With hot reload off in production, reload() by hand still applies changes."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text("port: 1\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="X_")
            port: int = 0

        with App() as s:
            cfg.write_text("port: 2\n")
            assert s.reload() is not None and s.port == 2
