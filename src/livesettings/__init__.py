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
from typing import Any as _Any

from ._config import ReloadConfig as ReloadConfig
from ._config import current_environment as current_environment
from ._fields import Frozen as Frozen
from ._fields import Live as Live
from ._merge import Merge as Merge
from ._fields import Restart as Restart
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
from ._settings import ReloadableSettings as ReloadableSettings
from ._stats import DurationHistogram as DurationHistogram
from ._stats import FeedStats as FeedStats
from ._stats import ReloadStats as ReloadStats
from ._settings import on_change as on_change
from ._validate import ValidationResult as ValidationResult
from ._version_info import __version__ as __version__
from .exceptions import ReloadError as ReloadError

ConfigChange = Change
"""The original design brief's name for [Change][livesettings.Change]."""

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
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module 'livesettings' has no attribute {name!r}")
    _warnings.warn(
        f"livesettings.{name} moved to {module}.{name} in 0.2; import it from there",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(_importlib.import_module(module), name)


def _set_public_modules() -> None:
    """Point each public name's ``__module__`` at the namespace users import it from."""
    import sys  # noqa: PLC0415

    for module_name, names in (
        ("livesettings", __all__),
        ("livesettings.components", sys.modules["livesettings.components"].__all__),
        ("livesettings.watch", sys.modules["livesettings.watch"].__all__),
    ):
        module = sys.modules[module_name]
        for name in names:
            if name not in vars(module):  # imported on first use (watchdog); that import sets its own home
                continue
            obj = getattr(module, name)
            home = getattr(obj, "__module__", None)
            if not isinstance(home, str) or not home.startswith("livesettings"):
                continue
            if getattr(obj, "__name__", name) != name:  # an alias (ConfigChange = Change) keeps its class's home
                continue
            try:
                obj.__module__ = module_name
            except (AttributeError, TypeError):
                pass


from . import components as components  # noqa: E402 - after the front door, which it does not need
from . import watch as watch  # noqa: E402

_set_public_modules()
del _set_public_modules
