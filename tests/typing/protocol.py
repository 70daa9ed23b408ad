"""Never run: mypy and pyright check that the subscriber protocol's documented usage type-checks."""

from __future__ import annotations

import asyncio
import math

from typing_extensions import assert_type

from livesettings import Diff, ReloadableSettings, ReloadConfig, SubscriptionHandle, Version, on_change
from livesettings.typing import Preparation, Preparer


class AppSettings(ReloadableSettings):
    reload_config = ReloadConfig(handler_timeout_s=2.0)
    url: str = "postgres://db/app"
    port: int = 8080

    @on_change("url", prepare=True)
    def _pool(self, diff: Diff) -> Preparation:
        pool = f"pool for {diff.new_value}"
        committed = yield
        assert_type(committed, bool)
        if not committed:
            del pool

    @on_change("port", timeout=0.5)
    def _slow(self, diff: Diff) -> None: ...

    @on_change("port", timeout=math.inf)
    async def _async(self, diff: Diff) -> None: ...


def veto(diff: Diff) -> None:
    raise ValueError("no")


def usage(settings: AppSettings) -> None:
    preparer: Preparer = veto
    handle = settings.watch("url", preparer, prepare=True)
    assert_type(handle, SubscriptionHandle)
    settings.watch("port", lambda diff: None, timeout=1.0).bind_loop(asyncio.new_event_loop())
    pin = settings.pinned()
    assert_type(pin.version, Version)
    with pin as snap:
        print(snap.port)


async def async_usage(settings: AppSettings) -> None:
    settings.bind_loop()
    version = await settings.wait_for_version(3, timeout=1.0)
    assert_type(version, Version)
    async for diff in settings.changes("port"):
        assert_type(diff, Diff)
        break
