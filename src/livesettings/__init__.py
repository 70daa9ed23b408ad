"""livesettings: declarative, typed settings with safe hot reload.

Declare one typed class; livesettings loads it from YAML / TOML / JSON / ``.env`` files and
environment variables, watches those sources, validates every change before applying it, swaps
the new snapshot in atomically, keeps a version history with rollback, and hands ``@on_change``
handlers an exact diff.

The top level holds the front door: the settings class and its values, the field markers, the
handles, and the brief's API. The brief's component classes live in
[livesettings.components][livesettings.components], file watching in
[livesettings.watch][livesettings.watch].
"""

import importlib as _importlib
import warnings as _warnings
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ._homes import settle as _settle
from ._config import ReloadConfig as ReloadConfig
from ._config import current_environment as current_environment
from ._fields import Frozen as Frozen
from ._fields import Live as Live
from ._merge import Merge as Merge
from ._fields import Restart as Restart
from ._settings import ReloadableSettings as ReloadableSettings
from ._settings import on_change as on_change
from ._version_info import __version__ as __version__
from .exceptions import ReloadError as ReloadError

if _TYPE_CHECKING:
    from . import components as components
    from . import watch as watch
    from ._manager import ConfigReloadable as ConfigReloadable
    from ._manager import ConfigSubscriber as ConfigSubscriber
    from ._manager import HotReloadManager as HotReloadManager
    from ._model import Change as Change
    from ._model import ChangeType as ChangeType
    from ._model import Diff as Diff
    from ._model import Effect as Effect
    from ._model import Plan as Plan
    from ._model import PlannedChange as PlannedChange
    from ._model import Version as Version
    from ._notify import DeadLetter as DeadLetter
    from ._notify import SubscriptionHandle as SubscriptionHandle
    from ._notify import WatchHandle as WatchHandle
    from ._provenance import Origin as Origin
    from ._providers import EnvironmentConfigProvider as EnvironmentConfigProvider
    from ._providers import HotReloadableConfigProvider as HotReloadableConfigProvider
    from ._stats import DurationHistogram as DurationHistogram
    from ._stats import FeedStats as FeedStats
    from ._stats import ReloadStats as ReloadStats
    from ._validate import ValidationResult as ValidationResult

    ConfigChange = Change
    """The original design brief's name for [Change][livesettings.Change]."""

# Imported on first use (``from livesettings import Version`` or ``livesettings.Version``), with the
# engine side they belong to: ``import livesettings`` loads the settings class and what declaring one
# needs; the first settings object loads the engine, loader, sources, notifier and the rest.
_LAZY = {
    "Change": "._model", "ChangeType": "._model", "ConfigChange": "._model", "ConfigReloadable": "._manager",
    "ConfigSubscriber": "._manager", "DeadLetter": "._notify", "Diff": "._model",
    "DurationHistogram": "._stats", "Effect": "._model", "EnvironmentConfigProvider": "._providers",
    "FeedStats": "._stats", "HotReloadManager": "._manager", "HotReloadableConfigProvider": "._providers",
    "Origin": "._provenance", "Plan": "._model", "PlannedChange": "._model", "ReloadStats": "._stats",
    "SubscriptionHandle": "._notify", "ValidationResult": "._validate", "Version": "._model",
    "WatchHandle": "._notify", "components": ".components", "watch": ".watch",
}  # fmt: skip
_ALIASES = {"ConfigChange": "Change"}

__all__ = [
    "Change",
    "ChangeType",
    "ConfigChange",
    "ConfigReloadable",
    "ConfigSubscriber",
    "DeadLetter",
    "Diff",
    "DurationHistogram",
    "Effect",
    "EnvironmentConfigProvider",
    "FeedStats",
    "Frozen",
    "HotReloadManager",
    "HotReloadableConfigProvider",
    "Live",
    "Merge",
    "Origin",
    "Plan",
    "PlannedChange",
    "ReloadConfig",
    "ReloadError",
    "ReloadStats",
    "ReloadableSettings",
    "Restart",
    "SubscriptionHandle",
    "ValidationResult",
    "Version",
    "WatchHandle",
    "current_environment",
    "on_change",
]

# Names exported here in 0.1 and moved in 0.2: still importable, with a DeprecationWarning.
_MOVED = {
    "AtomicConfigStore": "livesettings.components",
    "ConfigChangeNotifier": "livesettings.components",
    "ConfigChangeQueue": "livesettings.components",
    "ConfigChangeValidator": "livesettings.components",
    "ConfigVersion": "livesettings.components",
    "ConfigVersionManager": "livesettings.components",
    "Debouncer": "livesettings.components",
    "HotReloadLoader": "livesettings.components",
    "HotReloadWatcher": "livesettings.components",
    "ReloadMetrics": "livesettings.components",
    "ValidationPipeline": "livesettings.components",
    "detect_changes": "livesettings.components",
    "WatchOptions": "livesettings.watch",
    "WatchStatus": "livesettings.watch",
    "VersionNotFoundError": "livesettings.exceptions",
}


def __getattr__(name: str) -> _Any:
    lazy = _LAZY.get(name)
    if lazy is not None:
        module = _importlib.import_module(lazy, __name__)
        value = module if name in ("components", "watch") else getattr(module, _ALIASES.get(name, name))
        globals()[name] = value
        return value
    moved = _MOVED.get(name)
    if moved is None:
        raise AttributeError(f"module 'livesettings' has no attribute {name!r}")
    _warnings.warn(
        f"livesettings.{name} moved to {moved}.{name} in 0.2; import it from there",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(_importlib.import_module(moved), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, "components", "watch"})


_settle("livesettings")  # the names imported above; a module imported on first use settles its own
