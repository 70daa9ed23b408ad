"""File watching as a change feed: directory watches, event routing, debounce, polling.

[FileFeed][livesettings.watch.FileFeed] is what the loader hands the engine; the
[FileWatcher][livesettings.watch.FileWatcher] underneath owns the worker thread and shares one
watchdog observer per process ([observer][livesettings.watch.observer]); the
[Debouncer][livesettings.watch.Debouncer] is a pure state machine.

Added in 0.2 (the classes were at the top level in 0.1; the brief's names stay importable from
[livesettings.components][livesettings.components]).
"""

from __future__ import annotations

from .debounce import ConfigChangeQueue as ConfigChangeQueue
from .debounce import Debouncer as Debouncer
from .feed import FileFeed as FileFeed
from .watcher import DEFAULT_IGNORE as DEFAULT_IGNORE
from .watcher import FileWatcher as FileWatcher
from .watcher import HotReloadWatcher as HotReloadWatcher
from .watcher import WatchOptions as WatchOptions
from .watcher import WatchStatus as WatchStatus

__all__ = [
    "DEFAULT_IGNORE",
    "ConfigChangeQueue",
    "Debouncer",
    "FileFeed",
    "FileWatcher",
    "HotReloadWatcher",
    "WatchOptions",
    "WatchStatus",
]
