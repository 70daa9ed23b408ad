"""``HotReloadManager`` (the brief's orchestrator) and the brief's subscriber ABCs.

The manager is a thin handle on one settings object's or provider's engine: enable, disable,
reload, rollback, subscribe, and the engine's components under the brief's names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from . import _homes
from ._engine import Engine, ReloadMetrics
from ._model import Diff, Version
from ._notify import ConfigChangeNotifier, DeadLetter, SubscriptionHandle
from ._stats import ReloadStats
from ._unknown import check_path
from ._validate import ValidationResult
from .exceptions import ProductionReloadError, ReloadError

__all__ = ["ConfigReloadable", "ConfigSubscriber", "HotReloadManager"]


class ConfigReloadable(ABC):
    """A component that wants every accepted change as one ``{path: new_value}`` mapping.

    Register it with [HotReloadManager.register][livesettings.HotReloadManager.register].
    """

    @abstractmethod
    def reload_config(self, changes: dict[str, Any]) -> None:
        """Apply ``changes`` (dotted path → new value; ``None`` for a deleted key)."""


class ConfigSubscriber(ABC):
    """A subscriber called once per leaf change at or under the path it subscribed to."""

    @abstractmethod
    def on_config_change(self, path: str, old_value: Any, new_value: Any) -> None:
        """Handle one leaf change (``old_value`` is ``None`` for an added key)."""

    def on_reload_error(self, error: Exception) -> None:  # noqa: B027 - optional hook, empty on purpose
        """Handle a rejected reload (optional)."""


def _engine_of(target: Any) -> Engine:
    if isinstance(target, Engine):
        return target
    for attr in ("_ls_engine", "_engine"):
        engine = getattr(target, attr, None)
        if isinstance(engine, Engine):
            return engine
    raise TypeError(f"{target!r} is not a livesettings settings object or provider")


class HotReloadManager:
    """Controls hot reload for one settings object or provider (the brief's orchestrator).

    Get it from ``settings.hot_reload`` or ``provider.hot_reload``; ``HotReloadManager(provider)``
    also works. Its components are the engine's own: ``store``, ``version_manager``,
    ``notifier``, ``loader``, ``watcher``.
    """

    def __init__(self, config_provider: Any) -> None:
        self._engine = _engine_of(config_provider)

    # -- the brief's API ------------------------------------------------------------------
    def enable(self) -> None:
        """Start watching the sources.

        Raises:
            ProductionReloadError: in production, unless the config opted in with
                ``allow_in_production=True``.
        """
        engine = self._engine
        if engine.production and not engine.config.allow_in_production:
            raise ProductionReloadError(
                "hot reload is off in production; opt in with allow_in_production=True "
                "(ReloadConfig or the provider argument)"
            )
        engine.enable_watching()

    def disable(self) -> None:
        """Stop watching the sources (``reload_now`` still works)."""
        self._engine.disable_watching()

    def is_enabled(self) -> bool:
        """Whether the sources are being watched."""
        return self._engine.watching and not self._engine.closed

    @property
    def enabled(self) -> bool:
        """Same as ``is_enabled()``."""
        return self.is_enabled()

    def reload_now(self) -> Version | None:
        """Reload immediately; returns the new version or ``None`` if nothing changed.

        Raises:
            ReloadError: the new config is invalid; the current one keeps serving.
        """
        return self._engine.reload()

    def rollback(self, version_id: str | None = None) -> Version:
        """Restore the previous version (or ``version_id``) as a new ``"rollback"`` version."""
        return self._engine.rollback(version_id)

    def get_version_history(self) -> list[Version]:
        """Accepted versions, oldest first."""
        return list(self._engine.history)

    def subscribe(self, path: str, subscriber: ConfigSubscriber | Callable[[str, Any, Any], Any]) -> SubscriptionHandle:
        """Call ``subscriber`` once per leaf change at or under ``path``.

        Args:
            path: dotted path (``""`` for everything).
            subscriber: a [ConfigSubscriber][livesettings.ConfigSubscriber] or any callable
                ``(path, old_value, new_value)``.
        """
        engine = self._engine
        check_path(engine.loader.snapshot_cls, path)
        if isinstance(subscriber, ConfigSubscriber):

            def forward(err: BaseException) -> None:
                if isinstance(err, Exception):
                    subscriber.on_reload_error(err)

            return engine.notifier.subscribe(path, subscriber.on_config_change, style="leaf", on_error=forward)
        return engine.notifier.subscribe(path, subscriber, style="leaf")

    def unsubscribe(self, handle: SubscriptionHandle) -> None:
        """Stop a subscription, and its error notifications (idempotent)."""
        handle.cancel()

    # -- beyond the brief ----------------------------------------------------------------
    def register(self, component: ConfigReloadable) -> SubscriptionHandle:
        """Call ``component.reload_config({path: new_value, ...})`` once per accepted version."""

        def deliver(diff: Diff) -> None:
            component.reload_config({c.path: c.new_value for c in diff.changes})

        return self._engine.notifier.subscribe("", deliver)

    def check(self) -> ValidationResult:
        """Validate the sources as they are now, without applying them."""
        return self._engine.check()

    def on_error(self, callback: Callable[[BaseException], Any]) -> Callable[[], None]:
        """Call ``callback(error)`` after each rejected reload; returns a remover."""
        return self._engine.notifier.on_error(callback)

    @property
    def metrics(self) -> ReloadMetrics:
        """Reload counters and the circuit breaker state."""
        return self._engine.metrics

    def stats(self) -> ReloadStats:
        """A frozen [ReloadStats][livesettings.ReloadStats] (see ``ReloadableSettings.stats``);
        the way to them for the providers.

        Added in 0.3.
        """
        engine = self._engine
        return engine.health.stats(engine.store.current, engine.feeds.statuses())

    @property
    def dead_letters(self) -> tuple[DeadLetter, ...]:
        """Recent handler failures (bounded)."""
        return tuple(self._engine.notifier.dead_letters)

    @property
    def status(self) -> Any:
        """The file watcher's status (mode, missing directories ...), or ``None`` when not watching."""
        feed = self._engine.feeds.get("files")
        return feed.status if feed is not None else None

    @property
    def feed_statuses(self) -> dict[str, Any]:
        """The status of every running change feed, by input key (``"files"``, ``"etcd:..."``).

        Each value is the feed's ``status`` (its ``state`` is ``"running"``, ``"degraded"`` ...);
        empty while hot reload is off. Added in 0.3.
        """
        return self._engine.feeds.statuses()

    @property
    def last_error(self) -> ReloadError | None:
        """Why the last reload was rejected."""
        return self._engine.health.last_error

    @property
    def store(self) -> Any:
        """The [AtomicConfigStore][livesettings.components.AtomicConfigStore] holding the current version."""
        return self._engine.store

    @property
    def version_manager(self) -> Any:
        """The [ConfigVersionManager][livesettings.components.ConfigVersionManager] (history)."""
        return self._engine.history

    @property
    def notifier(self) -> ConfigChangeNotifier:
        """The [ConfigChangeNotifier][livesettings.components.ConfigChangeNotifier]."""
        return self._engine.notifier

    @property
    def loader(self) -> Any:
        """The [HotReloadLoader][livesettings.components.HotReloadLoader]."""
        return self._engine.loader

    @property
    def watcher(self) -> Any:
        """The [HotReloadWatcher][livesettings.watch.HotReloadWatcher], or ``None`` when not watching."""
        return getattr(self._engine.feeds.get("files"), "watcher", None)

    def __repr__(self) -> str:
        return f"<HotReloadManager {self._engine.name} enabled={self.is_enabled()}>"


_homes.settle("livesettings", namespace=globals())  # imported on first use: point the public names home
