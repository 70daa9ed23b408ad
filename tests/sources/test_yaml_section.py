"""``yaml_config_section`` that the file does not have: pydantic-settings' KeyError (or TypeError),
as a SourceError that names the file, so a reload rejects the candidate like any bad file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import SettingsConfigDict

from livesettings import ReloadableSettings, ReloadConfig
from livesettings.exceptions import ReloadError, SourceError
from conftest import wait_for


def _app(path: Path, *, enabled: bool = False) -> type[ReloadableSettings]:
    class App(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(path), yaml_config_section="app")
        reload_config = ReloadConfig(enabled=enabled, debounce_ms=0)
        port: int = 0

    return App


def test_a_missing_section_at_start_is_a_source_error_and_pydantic_settings_key_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("other:\n  port: 1\n")
    with pytest.raises(KeyError, match='yaml_config_section key "app" not found in .+') as info:
        _app(path)()
    err = info.value
    assert isinstance(err, SourceError) and err.source == str(path)
    assert str(err).startswith(f"cannot load {path}\n")  # not KeyError's repr() of it


def test_a_section_that_is_not_a_mapping_is_a_source_error_and_a_type_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("app: 3\n")

    class App(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(path), yaml_config_section="app.inner")
        reload_config = ReloadConfig(enabled=False)
        port: int = 0

    with pytest.raises(TypeError, match="cannot be traversed") as info:
        App()
    assert isinstance(info.value, SourceError) and info.value.source == str(path)


def test_a_reload_without_the_section_is_rejected_and_the_last_good_config_serves(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("app:\n  port: 1\n")
    with _app(path)() as s:
        path.write_text("other:\n  port: 2\n")
        with pytest.raises(ReloadError, match='yaml_config_section key "app" not found') as info:
            s.reload()
        assert info.value.source == str(path)
        assert s.port == 1 and s.last_error is info.value
        path.write_text("app:\n  port: 3\n")
        assert s.reload() is not None and s.port == 3 and s.last_error is None


def test_the_watcher_rejects_a_file_without_the_section(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("app:\n  port: 1\n")
    with _app(path, enabled=True)() as s:
        path.write_text("other:\n  port: 2\n")
        wait_for(lambda: s.last_error is not None)
        assert isinstance(s.last_error, SourceError) and "yaml_config_section" in str(s.last_error)
        assert s.port == 1
        path.write_text("app:\n  port: 4\n")
        wait_for(lambda: s.port == 4)
        assert s.last_error is None
