"""FastAPI: settings made on the app's event loop, one pinned version per request, a read-only config router.

Needs the ``fastapi`` extra: ``pip install livesettings[fastapi]``.

* [settings_lifespan][livesettings.integrations.fastapi.settings_lifespan] goes to
  ``FastAPI(lifespan=...)``. At startup it creates the settings object on the app's running
  loop, so its ``async def`` handlers run there, and keeps it on ``app.state.settings``; your own
  lifespan runs inside it. At shutdown it closes the object and joins its threads.
* [pinned_snapshot][livesettings.integrations.fastapi.pinned_snapshot] is a dependency that
  gives a request one version's snapshot and keeps it for the whole request, whatever is
  committed meanwhile. [get_settings][livesettings.integrations.fastapi.get_settings] gives
  the live object.
* [config_router][livesettings.integrations.fastapi.config_router] is an optional read-only
  `APIRouter`. `GET /config/version` and `GET /config/history` show masked history, and
  `GET /config/health` answers 503 while the config is not being kept current.

Example:
    ```python
    from typing import Annotated, Any
    from fastapi import Depends, FastAPI
    from livesettings.integrations.fastapi import config_router, pinned_snapshot, settings_lifespan

    app = FastAPI(lifespan=settings_lifespan(AppSettings))
    app.include_router(config_router())

    @app.get("/items")
    async def items(config: Annotated[Any, Depends(pinned_snapshot)]) -> dict[str, int]:
        return {"page_size": config.page_size}
    ```

Added in 0.3.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Generic, TypeVar

try:
    from fastapi import APIRouter, Query, Request
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool
except ImportError as exc:  # tested in a subprocess without fastapi
    raise ImportError(
        "livesettings.integrations.fastapi needs FastAPI: pip install 'livesettings[fastapi]'"
    ) from exc

from livesettings import ReloadableSettings, Version

from .._historyfile import change_record
from .._redact import mask_url_passwords, redact_text, secret_strings

__all__ = [
    "SettingsLifespan", "config_health", "config_router", "get_settings", "pinned_snapshot", "pinned_version",
    "settings_lifespan", "version_info",
]  # fmt: skip

S = TypeVar("S", bound=ReloadableSettings)

STATE_NAME = "settings"
"""The ``app.state`` attribute that holds the settings object."""

_Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]
_PIN = "livesettings_pin"  # request.state attribute holding the request's Pin


# --------------------------------------------------------------------------- lifespan


class SettingsLifespan(Generic[S]):
    """A FastAPI lifespan that owns a settings object; made by [settings_lifespan][livesettings.integrations.fastapi.settings_lifespan].

    Call it with the app, as FastAPI does: ``async with lifespan(app) as state:``. One object can
    serve several runs of the app (a test client entered twice): each startup makes a fresh
    settings object when it was given a class or factory.

    Attributes:
        settings: the settings object of the run in progress (``None`` outside a run).
    """

    def __init__(
        self, settings: type[S] | Callable[[], S] | S, *, lifespan: _Lifespan | None = None, close: bool | None = None,
    ) -> None:
        self._given = settings
        self._lifespan = lifespan
        self._close = close
        self.settings: S | None = None

    def __call__(self, app: Any) -> AbstractAsyncContextManager[Any]:
        return self._run(app)

    @asynccontextmanager
    async def _run(self, app: Any) -> AsyncIterator[Any]:
        given = self._given
        made = not isinstance(given, ReloadableSettings)
        # On the loop's own thread, with the loop running: every async handler registered while
        # the object is built (its @on_change methods) runs on this loop.
        settings: S = given() if made else given  # type: ignore[operator,assignment]
        close = made if self._close is None else self._close
        try:
            settings.bind_loop()  # and so do those registered later from threads (sync endpoints)
            state = app.state
            previous = getattr(state, STATE_NAME, _MISSING)
            if previous is not _MISSING and previous is not settings:
                raise RuntimeError(
                    f"app.state.{STATE_NAME} is taken (by a {type(previous).__qualname__}); "
                    "settings_lifespan keeps the settings object there"
                )
            setattr(state, STATE_NAME, settings)
            self.settings = settings
            try:
                if self._lifespan is None:
                    yield None
                else:
                    async with self._lifespan(app) as inner:
                        yield inner
            finally:
                self.settings = None
                if previous is _MISSING:
                    delattr(state, STATE_NAME)
                else:
                    setattr(state, STATE_NAME, previous)
        finally:
            if close:
                # Off the loop: close() waits for handlers still running, some of them on this loop.
                await run_in_threadpool(settings.close)

    def __repr__(self) -> str:
        given = self._given
        name = getattr(given, "__qualname__", None) or type(given).__qualname__
        return f"<SettingsLifespan {name}>"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def settings_lifespan(
    settings: type[S] | Callable[[], S] | S, *, lifespan: _Lifespan | None = None, close: bool | None = None,
) -> SettingsLifespan[S]:
    """A lifespan for ``FastAPI(lifespan=...)`` that creates the settings object at startup and closes it at shutdown.

    At startup, on the app's running event loop, it

    1. creates the settings object by calling ``settings``, a
       [ReloadableSettings][livesettings.ReloadableSettings] subclass or a function returning
       one, so its ``async def`` handlers are registered from this loop and run on it;
    2. binds the loop with [bind_loop][livesettings.ReloadableSettings.bind_loop], so async
       handlers registered later from a thread without a loop (a sync endpoint) run here too;
    3. stores the object on ``app.state.settings``, where the dependencies and the router
       find it;
    4. enters ``lifespan``, your own lifespan, if given, and yields what it yields.

    At shutdown it leaves your lifespan, removes ``app.state.settings``, and closes the settings
    object. ``close()`` joins the watcher's threads and runs on a worker thread, so handlers
    still running on the loop can finish.
    An invalid initial config raises [ReloadError][livesettings.ReloadError] and the app does
    not start.

    Args:
        settings: a settings class, a function with no arguments that returns a settings object
            (``functools.partial(AppSettings, _env_file="prod.env")``), or an existing object.
            An object made elsewhere (at import time) gets this loop bound, and by default is not
            closed at shutdown.
        lifespan: your own lifespan (``(app) -> async context manager``) to run inside; it can
            read ``app.state.settings``.
        close: whether to close the object at shutdown. The default is to close it only if
            this lifespan created it.

    Returns:
        A [SettingsLifespan][livesettings.integrations.fastapi.SettingsLifespan]; its
        ``settings`` attribute is the object of the run in progress.

    Example:
        ```python
        @asynccontextmanager
        async def my_lifespan(app: FastAPI) -> AsyncIterator[None]:
            pool = Pool(app.state.settings.database.url)
            yield
            await pool.close()

        app = FastAPI(lifespan=settings_lifespan(AppSettings, lifespan=my_lifespan))
        ```

    Added in 0.3.
    """
    return SettingsLifespan(settings, lifespan=lifespan, close=close)


# --------------------------------------------------------------------------- dependencies


def _settings_of(app: Any) -> ReloadableSettings:
    settings = getattr(app.state, STATE_NAME, None)
    if not isinstance(settings, ReloadableSettings):
        raise RuntimeError(
            f"app.state.{STATE_NAME} holds no settings object: create the app with "
            "FastAPI(lifespan=settings_lifespan(YourSettings)) and run its lifespan"
        )
    return settings


def get_settings(request: Request) -> Any:
    """Dependency: the live settings object of the app (``app.state.settings``).

    Reads on it always see the newest version; use
    [pinned_snapshot][livesettings.integrations.fastapi.pinned_snapshot] when a request's reads
    must come from one version.

    Raises:
        RuntimeError: the app has no settings object (no ``settings_lifespan``, or it did not run).

    Added in 0.3.
    """
    return _settings_of(request.app)


@asynccontextmanager
async def _request_pin(request: Request) -> AsyncIterator[Any]:
    """The request's ``Pin``: taken by the first dependency that asks,
    shared by the others, released when that one exits (after the response)."""
    held = getattr(request.state, _PIN, None)
    if held is not None:
        yield held
        return
    pin = _settings_of(request.app).pinned()
    with pin:
        setattr(request.state, _PIN, pin)
        try:
            yield pin
        finally:
            delattr(request.state, _PIN)


async def pinned_snapshot(request: Request) -> AsyncIterator[Any]:
    """Dependency: the current version's snapshot, pinned for the whole request.

    Every read on it in the request, including in other dependencies,
    comes from one version. It is the object [snapshot][livesettings.ReloadableSettings.snapshot]
    returns, an immutable pydantic model of your fields. The pin is released when the request
    ends. Until then that version stays findable by id even if it leaves the history.

    Example:
        ```python
        @app.get("/limits")
        async def limits(config: Annotated[Any, Depends(pinned_snapshot)]) -> dict[str, int]:
            return {"per_minute": config.limits.per_minute, "burst": config.limits.burst}
        ```

    Added in 0.3.
    """
    async with _request_pin(request) as pin:
        yield pin.snapshot


async def pinned_version(request: Request) -> AsyncIterator[Version]:
    """Dependency: the [Version][livesettings.Version] a request is pinned to.

    It is the version whose snapshot [pinned_snapshot][livesettings.integrations.fastapi.pinned_snapshot]
    gives the same request, whichever of the two is resolved first, which is useful for a
    response header or a log line.

    Added in 0.3.
    """
    async with _request_pin(request) as pin:
        yield pin.version


# --------------------------------------------------------------------------- health and the router


def version_info(version: Version) -> dict[str, Any]:
    """A version as JSON data without its values.

    The result holds ``number``, ``id``, ``timestamp`` (ISO 8601, UTC), ``source``,
    ``restores``, ``digest`` (of the inputs it was built from) and ``changed``, the dotted
    paths of its changes.

    Added in 0.3.
    """
    return {
        "number": version.number,
        "id": version.id,
        "timestamp": version.timestamp.isoformat(),
        "source": version.source,
        "restores": version.restores,
        "digest": version.inputs,
        "changed": [c.path for c in version.changes],
    }


def _history_entry(version: Version) -> dict[str, Any]:
    entry = version_info(version)
    reason = version.reason
    entry["reason"] = redact_text(reason, secret_strings(version.snapshot)) if reason else reason
    entry["changes"] = [change_record(c) for c in version.changes]  # values masked by the one rule
    del entry["changed"]
    return entry


def _feed_report(status: Any) -> dict[str, Any]:
    """The parts of a feed's status that are safe and useful on a health endpoint (no file paths)."""
    report: dict[str, Any] = {"state": getattr(status, "state", None) if status is not None else "new"}
    for attr in ("mode", "fallback_reason", "error", "since_contact_s", "revision"):
        value = getattr(status, attr, None)
        if value is not None:
            report[attr] = mask_url_passwords(value) if isinstance(value, str) else value
    return report


def config_health(settings: ReloadableSettings) -> dict[str, Any]:
    """Whether ``settings`` is keeping its config current, as JSON data for a health endpoint.

    It is unhealthy (``"status": "unhealthy"``) with one line in ``reasons`` for each of these:

    * the last reload was rejected (``last_error``), so a newer config in the sources is not
      being served;
    * the circuit breaker is open and reloads from the feeds are paused;
    * a change feed is not running while hot reload is on (an etcd feed ``degraded`` because
      etcd is unreachable or its watch stalled, or a feed that stopped);
    * the settings object is closed.

    The result also holds the served ``version`` (see
    [version_info][livesettings.integrations.fastapi.version_info]), ``last_error``, the
    ``feeds`` by input key, ``breaker`` and ``pending_restart`` (the paths that wait for a
    restart, which does not make it unhealthy). It holds no values, and error texts are
    already masked.

    Added in 0.3.
    """
    manager = settings.hot_reload
    reasons: list[str] = []
    error = settings.last_error
    if error is not None:
        reasons.append(f"the last reload was rejected (still serving the last good version): {error}")
    breaker = manager.metrics.breaker_state
    if breaker == "open":
        reasons.append("the circuit breaker is open: reloads from the sources are paused")
    enabled = manager.is_enabled()
    feeds = {key: _feed_report(status) for key, status in sorted(manager.feed_statuses.items())}
    if enabled:
        for key, feed in feeds.items():
            if feed["state"] != "running":
                why = feed.get("error") or feed.get("fallback_reason")
                reasons.append(f"change feed {key} is {feed['state']}" + (f": {why}" if why else ""))
    if manager._engine.closed:  # noqa: SLF001 - the manager's own engine
        reasons.append("the settings object is closed")
    return {
        "status": "unhealthy" if reasons else "ok",
        "reasons": reasons,
        "version": version_info(settings.version),
        "last_error": str(error) if error is not None else None,
        "hot_reload": enabled,
        "breaker": breaker,
        "feeds": feeds,
        "pending_restart": sorted(settings.pending_restart),
    }


def config_router(*, prefix: str = "/config", tags: list[str] | None = None, include_values: bool = True) -> APIRouter:
    """An optional, read-only `APIRouter` over the app's settings object (``app.state.settings``).

    It serves three routes:

    * ``GET {prefix}/version`` gives the served version's number, id, timestamp, source and
      input digest, with no values (see
      [version_info][livesettings.integrations.fastapi.version_info]).
    * ``GET {prefix}/history?limit=N`` lists the versions in the history, oldest first, each
      with its changes. Values are masked by the same rule as logs and the history file:
      ``SecretStr`` fields, credential-like keys and URL passwords appear only as fingerprints.
      ``include_values=False`` leaves values out altogether.
    * ``GET {prefix}/health`` answers 200 while the config is kept current and 503 with the
      reasons otherwise (see [config_health][livesettings.integrations.fastapi.config_health]).

    Nothing here changes the config. Protect the routes like any internal endpoint, for example
    with ``app.include_router(config_router(), dependencies=[Depends(require_admin)])``.

    Args:
        prefix: where the routes live.
        tags: OpenAPI tags (default ``["config"]``).
        include_values: whether history entries show (masked) old and new values.

    Added in 0.3.
    """
    router = APIRouter(prefix=prefix, tags=list(tags) if tags is not None else ["config"])

    @router.get("/version", summary="The served config version (no values)")
    async def config_version(request: Request) -> dict[str, Any]:
        return version_info(_settings_of(request.app).version)

    @router.get("/history", summary="The config versions in the history, oldest first (secrets masked)")
    async def config_history(
        request: Request, limit: int | None = Query(default=None, ge=1, description="only the newest N")
    ) -> dict[str, Any]:
        settings = _settings_of(request.app)
        versions = settings.history
        if limit is not None:
            versions = versions[-limit:]
        entries = [_history_entry(v) for v in versions]
        if not include_values:
            for entry in entries:
                entry["changes"] = [{"path": c["path"], "type": c["type"]} for c in entry["changes"]]
        return {"current": settings.version.id, "versions": entries}

    @router.get(
        "/health", summary="200 while the config is kept current, 503 with the reasons otherwise",
        responses={503: {"description": "a reload was rejected, a change feed is down, or the settings are closed"}},
    )
    async def config_health_route(request: Request) -> JSONResponse:
        report = config_health(_settings_of(request.app))
        return JSONResponse(report, status_code=503 if report["status"] != "ok" else 200)

    return router
