"""The brief's provider in production (guarded mode) and the safety of what get() returns."""

from __future__ import annotations

from pathlib import Path

import pytest

from livesettings import EnvironmentConfigProvider, HotReloadableConfigProvider


class TestGuardedProvider:
    """With the production opt-in, only live_keys change live."""

    def test_live_keys(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A rotated password listed in live_keys applies; another key waits for a restart."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("APP_ENV", "production")
        Path("config").mkdir()
        Path("config/production.yaml").write_text("db: {password: a, pool: 5}\n")
        with HotReloadableConfigProvider(
            enable_hot_reload=True, allow_in_production=True, live_keys=("db.password",)
        ) as config:
            Path("config/production.yaml").write_text("db: {password: b, pool: 9}\n")
            version = config.hot_reload.reload_now()
            assert version is not None
            assert [c.path for c in version.changes] == ["db.password"]
            assert config.get("db.password") == "b"
            assert config.get("db.pool") == 5


class TestReturnedValues:
    """Values handed out by get() and as_dict() cannot change the served config or its history."""

    def test_get_returns_copies(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Mutating a dict from get() or as_dict() changes neither the current version nor the next diff."""
        monkeypatch.chdir(tmp_path)
        Path("config").mkdir()
        Path("config/development.yaml").write_text("db: {pool: 5, hosts: [a]}\n")
        with EnvironmentConfigProvider() as config:
            config.get("db")["pool"] = 999
            config.get("db.hosts").append("b")
            config.as_dict()["db"]["pool"] = 7
            assert config.get("db.pool") == 5
            assert config.get("db.hosts") == ["a"]
            assert config.reload() is None
