"""``request.live``: one consistent version of the live settings for the whole request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from . import live


def live_settings(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        pin = live.get().pinned()
        with pin as snapshot:
            request.live = snapshot  # type: ignore[attr-defined]
            request.live_version = pin.version  # type: ignore[attr-defined]
            return get_response(request)

    return middleware
