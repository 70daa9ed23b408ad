"""A source of the user's own that raises something other than a ``ReloadError``.

From a feed (the file watcher) it is a rejected candidate like any other: the last good config
keeps serving, and ``last_error``, ``stats()``, ``on_error`` and the log say so, with the secrets
being served scrubbed from the text. Called by hand, ``reload()`` raises what the source raised, as
pydantic-settings would. Real files, a real watcher; every wait is a predicate with a timeout.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource

from conftest import wait_for
from livesettings import ReloadableSettings, ReloadConfig
from livesettings.exceptions import ReloadError

TOKEN = "s3cr3t-token-value"


def app_class(cfg: Path, crash: dict[str, BaseException | None]) -> type[ReloadableSettings]:
    class Vault(PydanticBaseSettingsSource):
        """Stands in for a user's remote source: raises ``crash["now"]`` while it is set."""

        def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
            return None, field_name, False

        def __call__(self) -> dict[str, Any]:
            if crash["now"] is not None:
                raise crash["now"]
            return {}

    class App(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(cfg))
        reload_config = ReloadConfig(debounce_ms=20)
        port: int = 0
        token: SecretStr = SecretStr("")

        @classmethod
        def settings_customise_sources(cls, settings_cls: Any, init_settings: Any, *rest: Any) -> tuple[Any, ...]:
            return init_settings, Vault(settings_cls), YamlConfigSettingsSource(settings_cls)

    return App


def save(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_a_crash_at_a_watched_reload_is_a_rejection(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = tmp_path / "app.yaml"
    cfg.write_text(f"port: 1\ntoken: {TOKEN}\n")
    crash: dict[str, BaseException | None] = {"now": None}
    errors: list[BaseException] = []
    with caplog.at_level(logging.WARNING), app_class(cfg, crash)() as app:
        app.hot_reload.on_error(errors.append)
        crash["now"] = RuntimeError(f"vault unreachable (token {TOKEN})")
        save(cfg, f"port: 2\ntoken: {TOKEN}\n")
        wait_for(lambda: errors != [])
        error = errors[0]
        assert isinstance(error, ReloadError)
        assert app.last_error is error
        assert "RuntimeError: vault unreachable" in str(error)
        assert app.port == 1  # the last good config keeps serving
        stats = app.stats()
        assert stats.rejected == 1 and stats.consecutive_failures == 1
        crash["now"] = None
        save(cfg, f"port: 3\ntoken: {TOKEN}\n")
        wait_for(lambda: app.port == 3)
        assert app.last_error is None and app.stats().consecutive_failures == 0
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "vault unreachable" in logged and "Traceback" in logged and "__call__" in logged
    assert TOKEN not in logged
    assert TOKEN not in str(error)


def test_reload_by_hand_raises_what_the_source_raised(tmp_path: Path) -> None:
    cfg = tmp_path / "app.yaml"
    cfg.write_text("port: 1\n")
    crash: dict[str, BaseException | None] = {"now": None}
    with app_class(cfg, crash)() as app:
        crash["now"] = KeyError("region")
        with pytest.raises(KeyError, match="region"):
            app.reload()
        assert app.port == 1
