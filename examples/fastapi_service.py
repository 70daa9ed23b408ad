"""A FastAPI service whose log level, feature flags and rate limits change live.

The service reads ``service.yaml`` (path from ``SERVICE_CONFIG``) through
``livesettings.integrations.fastapi``:

* ``settings_lifespan`` creates the settings object on the app's event loop (so the ``async def``
  handler that resizes the rate limiter runs there) and closes it at shutdown;
* ``pinned_snapshot`` gives each request one consistent version;
* ``config_router()`` serves ``/config/version``, ``/config/history`` (secrets masked) and
  ``/config/health`` (503 while an edit is rejected).

Serve it for real with ``SERVICE_CONFIG=service.yaml uvicorn fastapi_service:app`` (in this
directory, with a ``service.yaml`` next to it). Run as a script, ``python examples/fastapi_service.py``,
it writes the YAML file into a temporary directory, runs the app in-process over httpx's ASGI
transport (no port is opened), edits the file, shows each change over HTTP, and exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from livesettings import Diff, ReloadableSettings, ReloadConfig, on_change
from livesettings.integrations.fastapi import config_router, pinned_snapshot, settings_lifespan

if __name__ == "__main__":  # run as a script: a throwaway config file in a temporary directory
    os.environ["SERVICE_CONFIG"] = str(Path(tempfile.mkdtemp(prefix="livesettings-fastapi-")) / "service.yaml")

CONFIG = Path(os.environ.get("SERVICE_CONFIG", "service.yaml")).resolve()
log = logging.getLogger("service")


class Features(BaseModel):
    new_checkout: bool = False
    search_v2: bool = False


class RateLimit(BaseModel):
    per_minute: int = 60
    burst: int = 10

    @model_validator(mode="after")
    def _burst_fits(self) -> RateLimit:
        if not 0 < self.burst <= self.per_minute:
            raise ValueError(f"burst must be between 1 and per_minute ({self.per_minute}), not {self.burst}")
        return self


class ServiceSettings(ReloadableSettings):
    model_config = SettingsConfigDict(yaml_file=str(CONFIG))
    reload_config = ReloadConfig(debounce_ms=50)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    features: Features = Features()
    rate_limit: RateLimit = RateLimit()
    api_key: SecretStr = SecretStr("")  # masked in /config/history, logs and errors

    @on_change("log_level")
    def _apply_log_level(self, diff: Diff) -> None:
        log.setLevel(diff.new_value)

    @on_change("rate_limit")
    async def _resize_limiter(self, diff: Diff) -> None:  # runs on the app's event loop
        limiter.configure(diff.new_value.per_minute, diff.new_value.burst)


class Limiter:
    """A token bucket, refilled at ``per_minute``; the config handler resizes it."""

    def __init__(self) -> None:
        self.per_minute, self.burst, self.tokens, self.stamp = 60, 10, 10.0, time.monotonic()

    def configure(self, per_minute: int, burst: int) -> None:
        self.per_minute, self.burst = per_minute, burst
        self.tokens = min(self.tokens, burst)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.per_minute / 60)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


limiter = Limiter()
Config = Annotated[Any, Depends(pinned_snapshot)]  # one version per request


@asynccontextmanager
async def service_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The service's own startup: runs inside settings_lifespan, so the settings exist already."""
    settings = app.state.settings
    log.setLevel(settings.log_level)
    limiter.configure(settings.rate_limit.per_minute, settings.rate_limit.burst)
    yield


async def rate_limited() -> None:
    if not limiter.take():
        raise HTTPException(status_code=429, detail="rate limit exceeded")


app = FastAPI(title="livesettings example", lifespan=settings_lifespan(ServiceSettings, lifespan=service_lifespan))
app.include_router(config_router())


@app.get("/checkout", dependencies=[Depends(rate_limited)])
async def checkout(config: Config) -> dict[str, Any]:
    flow = "new" if config.features.new_checkout else "classic"
    log.debug("checkout with the %s flow", flow)
    return {"flow": flow, "search": "v2" if config.features.search_v2 else "v1"}


@app.get("/limits")
async def limits(config: Config) -> dict[str, Any]:
    return {
        "configured": config.rate_limit.model_dump(),
        "limiter": {"per_minute": limiter.per_minute, "burst": limiter.burst},
        "log_level": logging.getLevelName(log.level),
    }


# --------------------------------------------------------------------------- the tour (script only)

INITIAL = """\
log_level: INFO
features:
  new_checkout: false
rate_limit:
  per_minute: 60
  burst: 10
api_key: sk-live-0123456789
"""


async def until(check: Any, timeout: float = 10.0) -> Any:
    """Poll ``check()`` (a coroutine function) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise TimeoutError("the change did not arrive in time")
        await asyncio.sleep(0.02)
    return result


async def tour() -> None:
    import httpx  # noqa: PLC0415 - only the script needs the client

    CONFIG.write_text(INITIAL)
    async with app.router.lifespan_context(app):  # what uvicorn does at startup and shutdown
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            settings = app.state.settings
            print("GET /config/version ->", (await client.get("/config/version")).json())
            print("GET /checkout       ->", (await client.get("/checkout")).json())
            print("GET /limits         ->", (await client.get("/limits")).json())

            print("\nedit service.yaml: log_level DEBUG, new_checkout on, 120 requests a minute, burst 20")
            CONFIG.write_text(
                INITIAL.replace("INFO", "DEBUG").replace("new_checkout: false", "new_checkout: true")
                .replace("per_minute: 60", "per_minute: 120").replace("burst: 10", "burst: 20")
                .replace("sk-live-0123456789", "sk-live-rotated-9876")
            )
            await settings.wait_for_version(2, timeout=10)

            async def limiter_resized() -> bool:
                return (await client.get("/limits")).json()["limiter"]["per_minute"] == 120

            await until(limiter_resized)
            print("GET /checkout       ->", (await client.get("/checkout")).json())
            print("GET /limits         ->", (await client.get("/limits")).json())
            history = (await client.get("/config/history")).json()
            for change in history["versions"][-1]["changes"]:
                print(f"  history: {change['path']}: {change['old_value']!r} -> {change['new_value']!r}")

            print("\nedit service.yaml: burst 500 (more than per_minute): rejected, the last good config stays")
            CONFIG.write_text(CONFIG.read_text().replace("burst: 20", "burst: 500"))

            async def unhealthy() -> Any:
                response = await client.get("/config/health")
                return response if response.status_code == 503 else None

            response = await until(unhealthy)
            print("GET /config/health  ->", response.status_code, response.json()["reasons"][0].splitlines()[0])
            print("GET /limits         ->", (await client.get("/limits")).json()["configured"])

            print("\nfix service.yaml: burst 30")
            CONFIG.write_text(CONFIG.read_text().replace("burst: 500", "burst: 30"))

            async def healthy() -> Any:
                response = await client.get("/config/health")
                return response if response.status_code == 200 else None

            response = await until(healthy)
            print("GET /config/health  ->", response.status_code, response.json()["status"])
            print("GET /config/version ->", (await client.get("/config/version")).json())
    print("\nshut down: the settings object is closed and its watcher threads joined")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="  log: %(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(tour())
    finally:
        shutil.rmtree(CONFIG.parent, ignore_errors=True)
    sys.exit(0)
