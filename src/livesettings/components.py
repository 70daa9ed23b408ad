"""The original design brief's component classes, under the brief's names.

The brief describes a pipeline of components (watcher, change queue, loader, validator, version
manager, notifier, store); livesettings implements each of them once, inside the engine that a
[ReloadableSettings][livesettings.ReloadableSettings] object or a provider owns. This namespace
names them as the brief does, for code written against the brief and for tests that drive one
component on its own::

    from livesettings.components import ConfigVersionManager, detect_changes

Reach a running object's own components through its manager: ``settings.hot_reload.store``,
``.version_manager``, ``.notifier``, ``.loader``, ``.watcher``.

Added in 0.2 (in 0.1 these names were exported from ``livesettings`` itself).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _homes

from ._diff import detect_changes as detect_changes
from ._engine import AtomicConfigStore as AtomicConfigStore
from ._engine import ReloadMetrics as ReloadMetrics
from ._history import ConfigVersionManager as ConfigVersionManager
from ._loader import HotReloadLoader as HotReloadLoader
from ._model import ConfigVersion as ConfigVersion
from ._notify import ConfigChangeNotifier as ConfigChangeNotifier
from ._validate import ConfigChangeValidator as ConfigChangeValidator
from ._validate import ValidationPipeline as ValidationPipeline
from .watch import ConfigChangeQueue as ConfigChangeQueue
from .watch import Debouncer as Debouncer

if TYPE_CHECKING:
    from .watch import HotReloadWatcher as HotReloadWatcher

__all__ = [
    "AtomicConfigStore",
    "ConfigChangeNotifier",
    "ConfigChangeQueue",
    "ConfigChangeValidator",
    "ConfigVersion",
    "ConfigVersionManager",
    "Debouncer",
    "HotReloadLoader",
    "HotReloadWatcher",
    "ReloadMetrics",
    "ValidationPipeline",
    "detect_changes",
]


def __getattr__(name: str) -> Any:
    if name != "HotReloadWatcher":  # imported on first use: it brings in watchdog (see livesettings.watch)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import watch  # noqa: PLC0415

    value = watch.HotReloadWatcher
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


_homes.settle(__name__)  # repr names the public home
