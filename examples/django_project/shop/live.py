"""The live half of the shop's configuration: one livesettings object per process.

``ShopConfig.ready()`` calls ``start()`` once the app registry is ready. Views read the values
from ``request.live``, one pinned snapshot per request set by ``middleware``, or through ``get()``.
None of this belongs in ``django.conf.settings``: Django reads its settings once, these values
change while the process runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from livesettings import Diff, ReloadableSettings, on_change

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

Level = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

log = logging.getLogger("shop")


class Features(BaseModel):
    new_checkout: bool = False


class ShopSettings(ReloadableSettings):
    """Values the shop reads per request; every accepted edit of the file applies live."""

    model_config = SettingsConfigDict(env_prefix="SHOP_", env_nested_delimiter="__")

    banner: str = "Welcome"
    page_size: int = Field(20, ge=1, le=200)
    features: Features = Features()
    log_levels: dict[str, Level] = {}

    @on_change("log_levels")
    def _apply_log_levels(self, diff: Diff) -> None:
        apply_log_levels(diff.new_value or {}, previous=diff.old_value or {})


def apply_log_levels(levels: Mapping[str, str], previous: Mapping[str, str] | None = None) -> None:
    """Set each named logger's level; a logger dropped from the file goes back to NOTSET."""
    for name in previous or {}:
        if name not in levels:
            logging.getLogger(name).setLevel(logging.NOTSET)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


_settings: ShopSettings | None = None


def start(path: str | Path) -> ShopSettings:
    """Create the process's settings object on ``path`` and apply its log levels (idempotent)."""
    global _settings
    if _settings is None:

        class FromFile(ShopSettings):
            __qualname__ = "ShopSettings"  # the name logs and errors use
            model_config = SettingsConfigDict(yaml_file=str(path))

        _settings = FromFile()
        apply_log_levels(_settings.log_levels)  # on_change fires on changes; this is the start
        log.info("live settings from %s, version %s", path, _settings.version.number)
    return _settings


def get() -> ShopSettings:
    """The process's settings object.

    Raises:
        RuntimeError: called before Django's app registry is ready.
    """
    if _settings is None:
        raise RuntimeError("shop.live.get() called before ShopConfig.ready() ran")
    return _settings


def stop() -> None:
    """Close the settings object (its watcher threads); ``start`` may create a new one."""
    global _settings
    if _settings is not None:
        _settings.close()
        _settings = None


def middleware(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Django middleware: ``request.live`` is one version's snapshot for the whole request."""

    def pin_for_request(request: HttpRequest) -> HttpResponse:
        pin = get().pinned()
        with pin as snapshot:
            request.live = snapshot  # type: ignore[attr-defined]
            request.live_version = pin.version  # type: ignore[attr-defined]
            return get_response(request)

    return pin_for_request
