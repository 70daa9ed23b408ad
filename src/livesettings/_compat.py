"""The original design brief's API: ``HotReloadManager``, the untyped providers and the ABCs.

Everything here drives the same engine as ``ReloadableSettings``; nothing is a second
implementation. ``EnvironmentConfigProvider`` reads ``config/base.yaml`` (optional),
``config/{environment}.yaml``, ``.env``, ``.env.{environment}``, then environment variables, and
answers dotted-key ``get`` calls; ``HotReloadableConfigProvider`` adds hot reload.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import weakref
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from typing_extensions import Self

from ._changes import Diff, find
from ._config import ReloadConfig, current_environment
from ._engine import Engine, ReloadMetrics
from ._fields import Policy
from ._history import Version
from ._notify import ConfigChangeNotifier, DeadLetter, SubscriptionHandle
from ._settings import SnapshotSettings
from ._sources import YamlSource, _context
from ._validate import ValidationResult
from .exceptions import ProductionReloadError, ReloadError

__all__ = [
    "ConfigReloadable",
    "ConfigSubscriber",
    "EnvironmentConfigProvider",
    "HotReloadManager",
    "HotReloadableConfigProvider",
]

_MISSING: Any = object()


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

    @property
    def dead_letters(self) -> tuple[DeadLetter, ...]:
        """Recent handler failures (bounded)."""
        return tuple(self._engine.notifier.dead_letters)

    @property
    def status(self) -> Any:
        """The file watcher's status (mode, missing directories ...), or ``None`` when not watching."""
        return self._engine.watch_status

    @property
    def last_error(self) -> ReloadError | None:
        """Why the last reload was rejected."""
        return self._engine.last_error

    @property
    def store(self) -> Any:
        """The [AtomicConfigStore][livesettings.AtomicConfigStore] holding the current version."""
        return self._engine.store

    @property
    def version_manager(self) -> Any:
        """The [ConfigVersionManager][livesettings.ConfigVersionManager] (history)."""
        return self._engine.history

    @property
    def notifier(self) -> ConfigChangeNotifier:
        """The [ConfigChangeNotifier][livesettings.ConfigChangeNotifier]."""
        return self._engine.notifier

    @property
    def loader(self) -> Any:
        """The [HotReloadLoader][livesettings.HotReloadLoader]."""
        return self._engine.loader

    @property
    def watcher(self) -> Any:
        """The [HotReloadWatcher][livesettings.HotReloadWatcher], or ``None`` when not watching."""
        return self._engine.watcher

    def __repr__(self) -> str:
        return f"<HotReloadManager {self._engine.name} enabled={self.is_enabled()}>"


# --------------------------------------------------------------------------- untyped providers


def _coerce(raw: str | None) -> Any:
    """``"10"`` → 10, ``"true"`` → True, ``"1.5"`` → 1.5; anything else stays a string."""
    if raw is None:
        return None
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    return value if isinstance(value, (bool, int, float)) else raw


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        parts = [p for p in key.lower().split("__") if p]
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if parts:
            node[parts[-1]] = _coerce(value)
    return out


class _DotEnvTree(PydanticBaseSettingsSource):
    """``.env`` files as a nested tree: ``DATABASE__POOL_SIZE=10`` → ``database.pool_size: 10``."""

    def __init__(self, settings_cls: type[BaseSettings], files: list[Path]) -> None:
        super().__init__(settings_cls)
        self.files = files

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        ctx = _context()
        flat: dict[str, Any] = {}
        for path in self.files:
            flat.update(ctx.load(path, "dotenv"))  # {} for a missing file
        return _nest(flat)


def _snapshot_class(yaml_files: list[Path], env_files: list[Path]) -> type[BaseSettings]:
    class ProviderSnapshot(SnapshotSettings):
        model_config = SettingsConfigDict(extra="allow", frozen=True, yaml_file=yaml_files)

        @classmethod
        def __livesettings_sources__(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            *_: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (
                init_settings,
                _DotEnvTree(settings_cls, env_files),
                YamlSource(settings_cls, yaml_file=yaml_files, deep_merge=True),
            )

    return ProviderSnapshot


class EnvironmentConfigProvider:
    """Untyped, dotted-key configuration for one environment.

    Reads, lowest priority first: ``{config_dir}/base.yaml`` (optional),
    ``{config_dir}/{environment}.yaml``, ``.env``, ``.env.{environment}``, then environment
    variables (``database.pool_size`` is ``DATABASE__POOL_SIZE`` or ``DATABASE_POOL_SIZE``).

    Args:
        config_dir: where the YAML files live.
        environment: defaults to ``LIVESETTINGS_ENV``, ``APP_ENV``, ``ENVIRONMENT``, else ``development``.
        env_dir: where the ``.env`` files live (default: the working directory).
        env_prefix: prefix of the environment variables that override keys
            (``env_prefix="APP_"``: ``database.pool_size`` is ``APP_DATABASE__POOL_SIZE``). Without
            a prefix any variable named like a key overrides it (``user`` would read ``$USER``).
        reload_config: debounce, limits and the other [ReloadConfig][livesettings.ReloadConfig] options.
    """

    def __init__(
        self,
        config_dir: str | os.PathLike[str] = "config",
        environment: str | None = None,
        *,
        env_dir: str | os.PathLike[str] = ".",
        env_prefix: str = "",
        reload_config: ReloadConfig | None = None,
    ) -> None:
        self.env_prefix = env_prefix.upper()
        self.environment = (environment or current_environment()).lower()
        self.config_dir = Path(os.path.abspath(config_dir))
        env_root = Path(os.path.abspath(env_dir))
        yaml_files = [self.config_dir / "base.yaml", self.config_dir / f"{self.environment}.yaml"]
        env_files = [env_root / ".env", env_root / f".env.{self.environment}"]
        config = self._effective_config(reload_config or ReloadConfig())
        self._engine = Engine(
            _snapshot_class(yaml_files, env_files), {}, config, name=type(self).__name__, environment=self.environment
        )
        if self._engine.watching:  # so the directory can be watched (and written to) from the start
            self.config_dir.mkdir(parents=True, exist_ok=True)
        self._engine.start()
        weakref.finalize(self, self._engine.close)  # a dropped provider stops its watcher

    def _effective_config(self, config: ReloadConfig) -> ReloadConfig:
        return dataclasses.replace(config, enabled=False)

    def get(self, key: str, default: Any = None) -> Any:
        """The value at dotted ``key``: environment variables first, then the current snapshot."""
        env_key = self.env_prefix + key.upper().replace(".", "__")
        for name in (env_key, env_key.replace("__", "_")):
            if name in os.environ:
                return _coerce(os.environ[name])
        value = find(self._engine.store.snapshot, key, _MISSING)
        if value is _MISSING:
            return default
        # Sections are plain dicts shared with the history: hand out a copy, never the original.
        return copy.deepcopy(value) if isinstance(value, (dict, list)) else value

    def as_dict(self) -> dict[str, Any]:
        """The current file-based config as a plain nested dict."""
        snapshot = self._engine.store.snapshot
        return copy.deepcopy(dict(snapshot.__pydantic_extra__ or {}))

    @property
    def version(self) -> Version:
        """The current version."""
        current = self._engine.store.current
        assert current is not None
        return current

    def reload(self) -> Version | None:
        """Re-read every source now (raises [ReloadError][livesettings.ReloadError] if invalid)."""
        return self._engine.reload()

    def close(self) -> None:
        """Stop watching (idempotent)."""
        self._engine.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _adapt(callback: Callable[..., Any]) -> Callable[[str, Any, Any], Any]:
    """Accept ``cb(new)``, ``cb(old, new)`` or ``cb(path, old, new)``."""
    try:
        params = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: pass everything
        return callback
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return callback
    arity = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)
    if arity <= 1:
        return lambda path, old, new: callback(new)
    if arity == 2:
        return lambda path, old, new: callback(old, new)
    return callback


class HotReloadableConfigProvider(EnvironmentConfigProvider):
    """``EnvironmentConfigProvider`` that follows its files.

    Args:
        enable_hot_reload: ``None`` (default) watches in development and not in production;
            ``True`` watches (in production only with ``allow_in_production=True``); ``False`` never.
        allow_in_production: the explicit opt-in for production hot reload. It runs guarded:
            audited, and only keys listed in ``live_keys`` (and below them) change live; other
            changes wait in ``pending_restart``.
        live_keys: dotted keys that may change live in production (a rotated password, a
            ConfigMap tunable), like the ``Live`` marker of typed settings.
        *args: as for [EnvironmentConfigProvider][livesettings.EnvironmentConfigProvider].
        **kwargs: as for [EnvironmentConfigProvider][livesettings.EnvironmentConfigProvider].

    Raises:
        ProductionReloadError: ``enable_hot_reload=True`` in production without the opt-in.
    """

    def __init__(
        self,
        *args: Any,
        enable_hot_reload: bool | None = None,
        allow_in_production: bool = False,
        live_keys: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        self._enable = enable_hot_reload
        self._allow_prod = allow_in_production
        super().__init__(*args, **kwargs)
        self._engine.policies.update(dict.fromkeys(live_keys, Policy.LIVE))
        self.hot_reload = HotReloadManager(self._engine)

    def _effective_config(self, config: ReloadConfig) -> ReloadConfig:
        return dataclasses.replace(config, enabled=self._enable, allow_in_production=self._allow_prod)

    def get_with_reload(self, key: str, default: Any = None) -> Any:
        """The current value at ``key`` (reads always see the latest accepted version)."""
        return self.get(key, default)

    def watch_value(self, key: str, callback: Callable[..., Any]) -> SubscriptionHandle:
        """Call ``callback`` when the value at ``key`` (or below) changes.

        ``callback`` may take ``(new)``, ``(old, new)`` or ``(path, old, new)``; it is called once
        per leaf change.
        """
        return self._engine.notifier.subscribe(key, _adapt(callback), style="leaf")
