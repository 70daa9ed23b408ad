"""The app the gunicorn tests serve: the settings object is created when this module is imported.

With ``gunicorn --preload`` that import happens in the master, before it forks its workers, so
every worker inherits an object whose watcher was started in another process.
``wsgi`` serves the sync worker class and ``asgi`` the uvicorn worker class.
Every response is one JSON object saying which process answered and what it sees.
The YAML file comes from ``PREFORK_CONFIG``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from pydantic_settings import SettingsConfigDict

from livesettings import ReloadableSettings, ReloadConfig

CREATED_IN = os.getpid()


class AppSettings(ReloadableSettings):
    model_config = SettingsConfigDict(yaml_file=os.environ["PREFORK_CONFIG"])
    # The safety re-check is an hour away: a change seen within a test was seen through inotify.
    reload_config = ReloadConfig(debounce_ms=20, max_wait_ms=200, safety_interval_s=3600)
    greeting: str = "unset"


settings = AppSettings()


def state() -> bytes:
    """What this process sees now."""
    status = settings.hot_reload.status
    body = {
        "pid": os.getpid(),
        "created_in": CREATED_IN,
        "greeting": settings.greeting,
        "version": settings.version.id,
        "enabled": settings.hot_reload.is_enabled(),
        "state": status.state if status is not None else None,
        "mode": status.mode if status is not None else None,
        "watched_dirs": [str(d) for d in status.watched_dirs] if status is not None else [],
        "threads": sorted(t.name for t in threading.enumerate() if t.name.startswith("livesettings")),
    }
    return json.dumps(body).encode()


def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = state()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def asgi(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = state()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
