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

from typing import TYPE_CHECKING, Any

from .. import _homes

from .debounce import ConfigChangeQueue as ConfigChangeQueue
from .debounce import Debouncer as Debouncer
from .options import WatchOptions as WatchOptions
from .options import WatchStatus as WatchStatus
from .routes import DEFAULT_IGNORE as DEFAULT_IGNORE

if TYPE_CHECKING:
    from .feed import FileFeed as FileFeed
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

# Imported on first use, all three together (the feed needs the watcher): they pull in watchdog and the
# shared observer, which a process that never watches (production, `ReloadConfig(enabled=False)`, the
# command line) should not pay for.
_LAZY = ("FileFeed", "FileWatcher", "HotReloadWatcher")


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import feed, watcher  # noqa: PLC0415

    loaded = {"FileFeed": feed.FileFeed, "FileWatcher": watcher.FileWatcher,
              "HotReloadWatcher": watcher.HotReloadWatcher}
    for key, value in loaded.items():
        if value.__name__ == key:  # the alias HotReloadWatcher keeps its class's home
            value.__module__ = __name__  # as the package does for its eager names: repr names the public home
    globals().update(loaded)
    return loaded[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


_homes.settle(__name__)  # repr names the public home (the names above; the lazy ones set theirs on first use)
