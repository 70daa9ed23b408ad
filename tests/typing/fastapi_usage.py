"""Never run: mypy checks that the FastAPI integration's documented usage type-checks."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from typing_extensions import assert_type

from livesettings import ReloadableSettings, Version
from livesettings.integrations.fastapi import (
    SettingsLifespan,
    config_health,
    config_router,
    get_settings,
    pinned_snapshot,
    pinned_version,
    settings_lifespan,
)


class AppSettings(ReloadableSettings):
    page_size: int = 20


@asynccontextmanager
async def own(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    yield {"pool": object()}


lifespan = settings_lifespan(AppSettings, lifespan=own)
assert_type(lifespan, SettingsLifespan[AppSettings])
app = FastAPI(lifespan=lifespan)
app.include_router(config_router(prefix="/internal/config", include_values=False))
FastAPI(lifespan=settings_lifespan(functools.partial(AppSettings, page_size=5)))
FastAPI(lifespan=settings_lifespan(AppSettings(), close=True))


@app.get("/items")
async def items(
    config: Annotated[Any, Depends(pinned_snapshot)],
    version: Annotated[Version, Depends(pinned_version)],
    settings: Annotated[AppSettings, Depends(get_settings)],
) -> dict[str, Any]:
    report = config_health(settings)
    return {"page_size": config.page_size, "version": version.number, "ok": report["status"] == "ok"}
