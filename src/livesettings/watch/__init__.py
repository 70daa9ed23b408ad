"""File watching as a change feed: directory watches, event routing, debounce, polling.

[FileFeed][livesettings.watch.FileFeed] is what the loader hands the engine; the
[FileWatcher][livesettings.watch.FileWatcher] underneath owns the worker thread and shares one
watchdog observer per process ([observer][livesettings.watch.observer]). The rest is pure or
thread-free: [routes][livesettings.watch.routes] maps raw events to targets,
[scan][livesettings.watch.scan] computes signatures and hashes and does the polling comparison,
the [Debouncer][livesettings.watch.Debouncer] decides when a batch fires, and
[options][livesettings.watch.options] holds `WatchOptions` and `WatchStatus`.

Added in 0.2 (the classes were at the top level in 0.1; the brief's names stay importable from
[livesettings.components][livesettings.components]).
"""

from __future__ import annotations

from .debounce import ConfigChangeQueue as ConfigChangeQueue
from .debounce import Debouncer as Debouncer
from .feed import FileFeed as FileFeed
from .options import WatchOptions as WatchOptions
from .options import WatchStatus as WatchStatus
from .routes import DEFAULT_IGNORE as DEFAULT_IGNORE
from .watcher import FileWatcher as FileWatcher
from .watcher import HotReloadWatcher as HotReloadWatcher

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
