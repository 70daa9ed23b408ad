"""The brief's untyped providers: ``EnvironmentConfigProvider`` and ``HotReloadableConfigProvider``.

They drive the same engine as ``ReloadableSettings``; nothing is a second implementation.
``EnvironmentConfigProvider`` reads ``config/base.yaml`` (optional), ``config/{environment}.yaml``,
``.env``, ``.env.{environment}``, then environment variables, and answers dotted-key ``get``
calls; ``HotReloadableConfigProvider`` adds hot reload.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import os
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from typing_extensions import Self

from . import _homes
from ._config import ReloadConfig, current_environment
from ._engine import Engine
from ._fields import Policy
from ._manager import HotReloadManager
from ._model import Version
from ._notify import SubscriptionHandle
from ._paths import MISSING, find
from ._settings import SnapshotSettings
from ._sources import YamlSource, _context

__all__ = ["EnvironmentConfigProvider", "HotReloadableConfigProvider"]


def _coerce(raw: str | None) -> Any:
    """``"10"`` → 10, ``"true"`` → True, ``"1.5"`` → 1.5; anything else stays a string."""
    if raw is None:
        return None
    import yaml  # noqa: PLC0415 - PyYAML on first use, not at import

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
            **_: PydanticBaseSettingsSource,
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
        value = find(self._engine.store.snapshot, key, MISSING)
        if value is MISSING:
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
        rules = self._engine.rules
        self._engine.rules = dataclasses.replace(rules, policies={**rules.policies, **dict.fromkeys(live_keys, Policy.LIVE)})
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


_homes.settle("livesettings", namespace=globals())  # imported on first use: point the public names home
