"""livesettings: declarative, typed settings with safe hot reload.

Declare one typed class; livesettings loads it from YAML / TOML / JSON / ``.env`` files and
environment variables, watches those sources, validates every change before applying it, swaps
the new snapshot in atomically, keeps a version history with rollback, and hands ``@on_change``
handlers an exact diff.
"""

from ._changes import Change as Change
from ._changes import ChangeType as ChangeType
from ._changes import Diff as Diff
from ._changes import detect_changes as detect_changes
from ._compat import ConfigReloadable as ConfigReloadable
from ._compat import ConfigSubscriber as ConfigSubscriber
from ._compat import EnvironmentConfigProvider as EnvironmentConfigProvider
from ._compat import HotReloadableConfigProvider as HotReloadableConfigProvider
from ._compat import HotReloadManager as HotReloadManager
from ._config import ReloadConfig as ReloadConfig
from ._config import current_environment as current_environment
from ._debounce import ConfigChangeQueue as ConfigChangeQueue
from ._debounce import Debouncer as Debouncer
from ._engine import AtomicConfigStore as AtomicConfigStore
from ._loader import HotReloadLoader as HotReloadLoader
from ._engine import ReloadMetrics as ReloadMetrics
from ._fields import Frozen as Frozen
from ._fields import Live as Live
from ._fields import Restart as Restart
from ._history import ConfigVersion as ConfigVersion
from ._history import ConfigVersionManager as ConfigVersionManager
from ._history import Version as Version
from ._notify import ConfigChangeNotifier as ConfigChangeNotifier
from ._notify import DeadLetter as DeadLetter
from ._notify import SubscriptionHandle as SubscriptionHandle
from ._notify import WatchHandle as WatchHandle
from ._settings import ReloadableSettings as ReloadableSettings
from ._settings import on_change as on_change
from ._validate import ConfigChangeValidator as ConfigChangeValidator
from ._watch import HotReloadWatcher as HotReloadWatcher
from ._watch import WatchOptions as WatchOptions
from ._watch import WatchStatus as WatchStatus
from ._validate import ValidationPipeline as ValidationPipeline
from ._validate import ValidationResult as ValidationResult
from ._version_info import __version__ as __version__
from .exceptions import ReloadError as ReloadError
from .exceptions import VersionNotFoundError as VersionNotFoundError

ConfigChange = Change
"""The original design brief's name for [Change][livesettings.Change]."""

__all__ = [
    "AtomicConfigStore",
    "Change",
    "ChangeType",
    "ConfigChange",
    "ConfigChangeNotifier",
    "ConfigChangeQueue",
    "ConfigChangeValidator",
    "ConfigReloadable",
    "ConfigSubscriber",
    "ConfigVersion",
    "ConfigVersionManager",
    "DeadLetter",
    "Debouncer",
    "Diff",
    "EnvironmentConfigProvider",
    "Frozen",
    "HotReloadLoader",
    "HotReloadManager",
    "HotReloadWatcher",
    "HotReloadableConfigProvider",
    "Live",
    "ReloadConfig",
    "ReloadError",
    "ReloadMetrics",
    "ReloadableSettings",
    "Restart",
    "SubscriptionHandle",
    "ValidationPipeline",
    "ValidationResult",
    "Version",
    "VersionNotFoundError",
    "WatchHandle",
    "WatchOptions",
    "WatchStatus",
    "current_environment",
    "detect_changes",
    "on_change",
]

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("livesettings."):
        try:
            _obj.__module__ = "livesettings"
        except (AttributeError, TypeError):
            pass
del _name, _obj
