"""Views of the example shop: they read live values from ``request.live``."""

from __future__ import annotations

import logging
import os

from django.http import HttpRequest, JsonResponse

from . import live

log = logging.getLogger("shop")


def home(request: HttpRequest) -> JsonResponse:
    snap = request.live  # type: ignore[attr-defined]
    log.debug("home page, page size %d", snap.page_size)
    return JsonResponse({
        "banner": snap.banner,
        "page_size": snap.page_size,
        "new_checkout": snap.features.new_checkout,
        "version": request.live_version.number,  # type: ignore[attr-defined]
        "shop_log_level": logging.getLevelName(log.getEffectiveLevel()),
    })


def config_status(request: HttpRequest) -> JsonResponse:
    """What an operator checks after an edit: the version this process serves, and why the last edit was refused.

    Each worker process has its own settings object and history: ``pid`` says which one answered.
    """
    settings = live.get()
    error = settings.last_error
    return JsonResponse({
        "pid": os.getpid(),
        "version": settings.version.number,
        "watching": settings.hot_reload.is_enabled(),
        "last_error": str(error) if error is not None else None,
    })
