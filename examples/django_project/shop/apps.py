"""The shop's AppConfig: creates the live settings object when Django's app registry is ready."""

from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings


class ShopConfig(AppConfig):
    name = "shop"

    def ready(self) -> None:
        # ready() runs once per process, after settings and apps are loaded, before any request:
        # the place for start-up work that needs django.conf.settings. Under gunicorn --preload
        # that is the master, and each worker keeps watching after the fork.
        from . import live

        live.start(settings.LIVE_SETTINGS_FILE)
