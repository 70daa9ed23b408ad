"""The process-wide watchdog observer and its shared, reference-counted directory watches.

inotify instance limits are low (128 per user by default) and watchdog creates one inotify
instance per ``Observer``, so every [FileWatcher][livesettings.watch.FileWatcher] in the process
shares one observer, and each directory is watched once however many watchers track files in it.
watchdog's thread only forwards raw events to the subscribed watchers.

Fork: the observer's inotify instance is inherited by a forked child and shared with the parent
(removing a watch in the child removes it for the parent). In the child the hub forgets the
inherited observer without stopping or unscheduling anything, closes its inherited file
descriptors, and the next watcher to start creates an observer of the child's own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Protocol

from watchdog import events as wde
from watchdog.observers import Observer

from .. import _forksafe
from .routes import Raw

__all__ = ["HUB", "Raw", "Subscriber", "reset_for_tests", "shared_observer"]



class Subscriber(Protocol):
    """What the hub needs of a watcher: a thread-safe hand-off of raw events, and close()."""

    def _record(self, rec: Raw) -> None: ...

    def close(self, timeout: float = 5.0) -> None: ...


# Asked of inotify: no IN_OPEN / IN_CLOSE_NOWRITE (our own reads) and no directory mtime noise.
_EVENT_FILTER = [
    wde.FileCreatedEvent, wde.FileDeletedEvent, wde.FileModifiedEvent, wde.FileAttribEvent,
    wde.FileMovedEvent, wde.FileClosedEvent, wde.DirCreatedEvent, wde.DirDeletedEvent, wde.DirMovedEvent,
]  # fmt: skip
_OVERFLOW_LOGGERS = ("watchdog.observers.inotify_c", "watchdog.observers.inotify_buffer")


class _DirHandler:
    """watchdog handler of one watched directory: forwards raw events to its subscribers."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.subscribers: tuple[Subscriber, ...] = ()  # replaced whole under the hub lock
        self.dead = False

    def dispatch(self, event: Any) -> None:
        src = os.fsdecode(event.src_path)
        if event.is_directory and event.event_type == "deleted" and src == self.path:
            self.dead = True
            rec: Raw = ("lost", src, "", True)
        else:
            rec = (event.event_type, src, os.fsdecode(event.dest_path or ""), bool(event.is_directory))
        for watcher in self.subscribers:
            watcher._record(rec)


@dataclass
class _DirEntry:
    path: str
    watch: Any
    handler: _DirHandler
    scheduled: bool = True


class _OverflowFilter(logging.Filter):
    """Sees watchdog's "Inotify queue overflowed" warning and makes every watcher rescan."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "overflow" in str(record.msg).lower():
            for watcher in HUB.users:
                watcher._record(("overflow", "", "", False))
        return True


class _Hub:
    """The process-wide observer, its directory watches and their reference counts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.observer: Any = None
        self.users: tuple[Subscriber, ...] = ()  # inotify-mode watchers; read without the lock
        self.entries: dict[str, _DirEntry] = {}
        self.open_watchers: weakref.WeakSet[Subscriber] = weakref.WeakSet()
        self._filter = _OverflowFilter()

    def acquire(self, watcher: Subscriber) -> None:
        """Count `watcher` as a user, creating and starting the observer if needed (may raise OSError)."""
        with self.lock:
            if self.observer is None:
                observer = Observer()
                observer.start()
                self.observer = observer
                for name in _OVERFLOW_LOGGERS:
                    logging.getLogger(name).addFilter(self._filter)
            self.users = (*self.users, watcher)

    def release(self, watcher: Subscriber) -> None:
        """Drop `watcher`; the last user stops and joins the observer."""
        with self.lock:
            self.users = tuple(w for w in self.users if w is not watcher)
            if self.users or self.observer is None:
                return
            observer, self.observer = self.observer, None
            self.entries.clear()
            for name in _OVERFLOW_LOGGERS:
                logging.getLogger(name).removeFilter(self._filter)
        observer.stop()
        observer.join()

    def watch_dir(self, path: str, watcher: Subscriber) -> _DirEntry:
        """Subscribe `watcher` to `path`, scheduling a watch unless a live one exists (may raise OSError)."""
        with self.lock:
            entry = self.entries.get(path)
            if entry is not None and entry.handler.dead:
                self._unschedule(entry)
                entry = None
            if entry is None:
                handler = _DirHandler(path)
                try:
                    watch = self.observer.schedule(handler, path, recursive=False, event_filter=_EVENT_FILTER)
                except TypeError:  # watchdog < 2.3 has no event_filter; the worker filters anyway
                    watch = self.observer.schedule(handler, path, recursive=False)
                entry = self.entries[path] = _DirEntry(path, watch, handler)
            entry.handler.subscribers = (*entry.handler.subscribers, watcher)
            return entry

    def unwatch_dir(self, entry: _DirEntry, watcher: Subscriber) -> None:
        """Unsubscribe `watcher`; the last subscriber unschedules the watch."""
        with self.lock:
            entry.handler.subscribers = tuple(w for w in entry.handler.subscribers if w is not watcher)
            if not entry.handler.subscribers:
                self._unschedule(entry)

    def mark_dead(self, entry: _DirEntry) -> None:
        """The watch no longer sees the directory at its path: tell every subscriber it was lost."""
        entry.handler.dead = True
        for watcher in entry.handler.subscribers:
            watcher._record(("lost", entry.path, "", True))

    def fork_reset(self) -> None:
        """In a forked child: forget the parent's observer and watches, touching neither."""
        observer = self.observer
        self.lock = threading.Lock()
        self.observer = None
        self.users = ()
        self.entries = {}
        for name in _OVERFLOW_LOGGERS:
            logging.getLogger(name).removeFilter(self._filter)
        if observer is not None:
            for fd in _inherited_fds(observer):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _unschedule(self, entry: _DirEntry) -> None:
        if self.entries.get(entry.path) is entry:
            del self.entries[entry.path]
        if entry.scheduled and self.observer is not None:
            entry.scheduled = False
            with contextlib.suppress(KeyError, OSError):
                self.observer.unschedule(entry.watch)


def _inherited_fds(observer: Any) -> list[int]:
    """The file descriptors of an inherited observer's inotify instance (read by the parent's threads).

    The one place that reaches into watchdog's private attributes: closing these descriptors in
    the child (never calling watchdog's ``close``, which would ``inotify_rm_watch`` the parent's
    watches) is the only way not to leak them. watchdog 7 keeps one ``InotifyFD`` per observer
    (``_inotify_fd`` with ``_kill_r``/``_kill_w``), watchdog 6 one inotify object per emitter.
    """
    holders: list[Any] = [getattr(observer, "_inotify_fd", None)]
    for emitter in list(getattr(observer, "emitters", ())):
        buffer = getattr(emitter, "_inotify", None)
        holders.append(getattr(buffer, "_inotify", None))
    fds: list[int] = []
    for holder in holders:
        if holder is None or getattr(holder, "_closed", False):
            continue
        for attr in ("_inotify_fd", "_kill_r", "_kill_w"):
            fd = getattr(holder, attr, None)
            if isinstance(fd, int) and fd not in fds:
                fds.append(fd)
    return fds


HUB = _Hub()
_forksafe.at_fork_in_child(HUB.fork_reset)


def shared_observer() -> Any:
    """Return the process-wide watchdog observer, or ``None`` when no inotify watcher is open."""
    return HUB.observer


def reset_for_tests() -> None:
    """Close every open watcher and stop the shared observer (test isolation only)."""
    for watcher in list(HUB.open_watchers):
        watcher.close()
    with HUB.lock:
        observer, HUB.observer = HUB.observer, None
        HUB.users = ()
        HUB.entries.clear()
        for name in _OVERFLOW_LOGGERS:
            logging.getLogger(name).removeFilter(HUB._filter)
    if observer is not None:
        observer.stop()
        observer.join()
