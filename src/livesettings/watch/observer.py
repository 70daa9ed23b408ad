"""The process-wide watchdog observer and its shared, reference-counted directory watches.

inotify instance limits are low (128 per user by default) and watchdog creates one inotify
instance per ``Observer``, so every [FileWatcher][livesettings.watch.FileWatcher] in the process
shares one observer, and each directory is watched once however many watchers track files in it.
watchdog's thread only forwards raw events to the subscribed watchers.

Two backends, chosen when the observer is created:

* **direct inotify** (Linux): one inotify instance of ours and the one thread that reads it, with
  a callback of ours on each directory watch. Each event is turned into a raw event on that reader
  thread and handed to the subscribed watchers' workers at once. watchdog's ``Observer`` would pass
  it through two more threads first (a per-directory emitter behind a move grouper, then the
  observer's dispatch queue), about 0.5 ms on a 2-core machine, and would hold every event behind
  an unpaired ``IN_MOVED_FROM`` for 0.5 s. A rename is reported from either side alone (``moved``
  with only ``src`` or only ``dest``), which is all a watcher needs: which names were replaced.
* **watchdog observer** (other platforms): ``Observer().schedule(...)`` with an event filter.

Either way the reader thread only records events under each watcher's condition (bounded: past
20,000 queued events the watcher rescans instead); it never runs a reload or a handler, so a slow
handler cannot stall event reading.

Failure: if the direct backend's reader stops on an error (a descriptor of ours closed by
someone else, a bug), it closes what is still its own and the hub starts a new observer; every
watched directory is reported lost, so each watcher checks its targets at once and re-watches its
directories on the new instance. With no new instance to be had, or past three failures in a
minute, the watchers poll instead.

Fork: the observer's inotify instance is inherited by a forked child and shared with the parent
(removing a watch in the child removes it for the parent). In the child the hub forgets the
inherited observer without stopping or unscheduling anything, closes its inherited file
descriptors, and the next watcher to start creates an observer of the child's own.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import select
import struct
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from watchdog import events as wde
from watchdog.observers import Observer

from .. import _forksafe
from .routes import Raw


def _load_libc() -> Any:
    """libc's inotify calls, or ``None`` off Linux (or on a libc without them)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the process's own symbols: glibc or musl, no lookup
        init1, add, rm = libc.inotify_init1, libc.inotify_add_watch, libc.inotify_rm_watch
    except (OSError, AttributeError):
        return None
    init1.argtypes, init1.restype = [ctypes.c_int], ctypes.c_int
    add.argtypes, add.restype = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32], ctypes.c_int
    rm.argtypes, rm.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return libc


_LIBC = _load_libc()

__all__ = ["HUB", "Raw", "Subscriber", "reset_for_tests", "shared_observer"]

logger = logging.getLogger(__name__)

_DIRECT = _LIBC is not None
"""Use the direct inotify backend for the next observer created (tests switch it off to cover the other)."""


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
    """The handler of one watched directory: forwards raw events to its subscribers."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.subscribers: tuple[Subscriber, ...] = ()  # replaced whole under the hub lock
        self.dead = False

    def dispatch(self, event: Any) -> None:
        """A watchdog event (the watchdog observer backend, on its thread)."""
        src = os.fsdecode(event.src_path)
        if event.is_directory and event.event_type == "deleted" and src == self.path:
            self.lost()
            return
        self.forward((event.event_type, src, os.fsdecode(event.dest_path or ""), bool(event.is_directory)))

    def forward(self, rec: Raw) -> None:
        for watcher in self.subscribers:
            watcher._record(rec)

    def lost(self) -> None:
        """The watch no longer sees the directory at its path (deleted, moved away, unmounted)."""
        self.dead = True
        self.forward(("lost", self.path, "", True))


# inotify mask bits (inotify(7))
_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE = 0x2, 0x4, 0x8
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF, _IN_UNMOUNT = 0x400, 0x800, 0x2000
_IN_Q_OVERFLOW, _IN_IGNORED = 0x4000, 0x8000
_IN_ONLYDIR, _IN_DONT_FOLLOW, _IN_ISDIR = 0x01000000, 0x02000000, 0x40000000
_IN_NONBLOCK, _IN_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC  # inotify_init1 takes these flags by the same values
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then len bytes of name
_EVENT_SIZE = _EVENT.size
_READ_SIZE = 64 * 1024  # many events per read; an event is at most 16 + NAME_MAX + 1 bytes


class _Event(NamedTuple):
    """One inotify event as the kernel reported it (``name`` is bytes, empty for the directory itself)."""

    wd: int
    mask: int
    cookie: int
    name: bytes

# What the direct backend asks of inotify: the events of _EVENT_FILTER, and the directory's own fate.
_DIRECT_MASK = (
    _IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE
    | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_ONLYDIR | _IN_DONT_FOLLOW
)  # fmt: skip


class _DirectWatch:
    """Our callback on one directory watch of the direct backend; runs on the inotify reader thread.

    Turns an inotify event into a raw event the way watchdog's emitter would (file events, a
    directory's create, delete and moves; no directory ``modified``/``attrib``), without pairing
    moves: ``IN_MOVED_FROM`` is ``("moved", src, "")``, ``IN_MOVED_TO`` is ``("moved", "", dest)``.
    """

    __slots__ = ("handler", "id", "path", "wd")

    def __init__(self, handler: _DirHandler, ident: int) -> None:
        self.handler = handler
        self.path = handler.path
        self.id = ident
        self.wd = -1

    def on_event(self, event: Any) -> None:
        try:
            self._on_event(event)
        except Exception:  # the reader thread serves every watcher in the process: it must not die
            logger.warning("file watch on %s: cannot handle %r", self.path, event, exc_info=True)

    def _on_event(self, event: Any) -> None:
        mask, name = event.mask, event.name
        if not name:  # the watched directory itself
            if mask & (_IN_DELETE_SELF | _IN_MOVE_SELF | _IN_UNMOUNT):
                self.handler.lost()
            return
        is_dir = bool(mask & _IN_ISDIR)
        path = os.path.join(self.path, os.fsdecode(name))
        if mask & _IN_MOVED_FROM:
            rec: Raw = ("moved", path, "", is_dir)
        elif mask & _IN_MOVED_TO:
            rec = ("moved", "", path, is_dir)
        elif mask & _IN_CREATE:
            rec = ("created", path, "", is_dir)
        elif mask & _IN_DELETE:
            rec = ("deleted", path, "", is_dir)
        elif is_dir:
            return  # a subdirectory's attrib: watchdog's filter drops it too
        elif mask & _IN_CLOSE_WRITE:
            rec = ("closed", path, "", False)
        elif mask & _IN_MODIFY:
            rec = ("modified", path, "", False)
        elif mask & _IN_ATTRIB:
            rec = ("attrib", path, "", False)
        else:
            return
        self.handler.forward(rec)

    def on_watch_deleted(self, wd: int) -> None:
        if not self.handler.dead:  # IN_DELETE_SELF usually said so already
            self.handler.lost()


class _DirectObserver:
    """The direct inotify backend: one inotify instance of ours and the thread that reads it.

    Same surface as the watchdog-observer backend (``start``/``stop``/``join``/``is_alive``,
    ``schedule``/``unschedule``, ``paths``); ``fds`` are its descriptors, for the fork reset.

    Written by hand (about 100 lines over three libc calls) because no library gives what the
    fast path needs: the events handed over on the thread that reads them, as soon as they are
    read, and every descriptor closed on ``stop()``. watchdog's ``InotifyFD``, which this backend
    used until watchdog 7.1.0, calls its callbacks since 7.1.1 on a second thread, after holding a
    read up to 1 ms to coalesce it with the next, and leaks its three descriptors when it is
    stopped before its first read. watchfiles runs its own thread and batches by time.
    """

    def __init__(self) -> None:
        assert _LIBC is not None
        fd = _LIBC.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:  # EMFILE: the per-user inotify instance limit (128 by default) is reached
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        self._fd = fd
        self._wake_r, self._wake_w = os.pipe()  # stop() writes a byte here to end the reader's poll
        self._lock = threading.Lock()  # guards changes of _by_wd and _closed; the reader reads _by_wd without it
        self._by_wd: dict[int, tuple[_DirectWatch, ...]] = {}  # replaced whole, never mutated
        self._watches: dict[int, _DirectWatch] = {}
        self._next_id = 0
        self._stopping = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="livesettings-inotify", daemon=True)

    @property
    def fds(self) -> list[int]:
        """The inotify descriptor and the wake pipe (empty once closed)."""
        return [] if self._closed else [self._fd, self._wake_r, self._wake_w]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """End the reader (it closes the descriptors on its way out); close them here if it never ran."""
        with self._lock:
            if self._closed or self._stopping:
                return
            self._stopping = True
            if not self._thread.is_alive() and self._thread.ident is None:  # never started
                self._close()
                return
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")

    def join(self, timeout: float | None = None) -> None:
        if self._thread.ident is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def reader(self) -> threading.Thread:
        """The thread that reads the inotify descriptor and delivers the events."""
        return self._thread

    @property
    def paths(self) -> list[str]:
        """The directories watched (one watch each)."""
        return sorted(w.path for w in self._watches.values())

    def schedule(self, handler: _DirHandler, path: str) -> _DirectWatch:
        """Watch directory `path` for `handler` (hub lock held; raises OSError: ENOSPC, EACCES, ENOENT, ...)."""
        wd = _LIBC.inotify_add_watch(self._fd, os.fsencode(path), _DIRECT_MASK)
        if wd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), path)
        self._next_id += 1
        watch = _DirectWatch(handler, self._next_id)
        watch.wd = wd
        with self._lock:
            # a second path to the same directory (a bind mount) gets the same descriptor
            self._by_wd = {**self._by_wd, wd: (*self._by_wd.get(wd, ()), watch)}
            self._watches[watch.id] = watch
        return watch

    def unschedule(self, watch: _DirectWatch) -> None:
        with self._lock:
            if self._watches.pop(watch.id, None) is None:
                return
            current = self._by_wd.get(watch.wd, ())
            if watch not in current:  # the kernel dropped the watch already (IN_IGNORED)
                return
            rest = tuple(w for w in current if w is not watch)
            by_wd = dict(self._by_wd)
            if rest:
                by_wd[watch.wd] = rest
            else:
                del by_wd[watch.wd]
            self._by_wd = by_wd
            if not rest and not self._closed:
                _LIBC.inotify_rm_watch(self._fd, watch.wd)

    def _close(self) -> None:
        """Close every descriptor (lock held)."""
        self._closed = True
        for fd in (self._fd, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        failed = False
        try:
            while not self._stopping:
                poller.poll()
                if self._stopping:
                    break
                try:
                    data = os.read(self._fd, _READ_SIZE)
                except BlockingIOError:  # woken without an event
                    continue
                self._deliver(data)
        except Exception as exc:  # noqa: BLE001 - the reader serves every watcher: say why it stopped
            failed = not self._stopping
            logger.exception("inotify reader stopped%s", "; starting a new one and watching every directory again"
                             if failed else " while stopping")  # fmt: skip
            if isinstance(exc, OSError) and exc.errno == errno.EBADF:
                # Someone closed a descriptor of ours (a closerange in a library): its number may be
                # another file's by now, so none of the three is closed here.
                self._closed = True
        finally:
            with self._lock:
                if not self._closed:
                    self._close()
        if failed:  # after closing: the new instance may get the same descriptor numbers
            HUB.reader_died(self)

    def _deliver(self, data: bytes) -> None:
        """Hand each event in `data` (a buffer of ``struct inotify_event``) to its directory's watch."""
        pos, end = 0, len(data)
        while pos + _EVENT_SIZE <= end:
            wd, mask, cookie, size = _EVENT.unpack_from(data, pos)
            name = data[pos + _EVENT_SIZE : pos + _EVENT_SIZE + size].split(b"\0", 1)[0]
            pos += _EVENT_SIZE + size
            if mask & _IN_Q_OVERFLOW:
                logger.warning("inotify queue overflowed; rescanning every watched file")
                _rescan_everything()
                continue
            watches = self._by_wd.get(wd, ())
            if mask & _IN_IGNORED:  # the kernel dropped the watch (directory deleted, unmounted)
                if watches:
                    with self._lock:
                        by_wd = dict(self._by_wd)
                        by_wd.pop(wd, None)
                        self._by_wd = by_wd
                    for watch in watches:
                        watch.on_watch_deleted(wd)
                continue
            event = _Event(wd, mask, cookie, name)
            for watch in watches:
                watch.on_event(event)


class _WatchdogObserver:
    """The portable backend: a watchdog ``Observer`` (its emitter and observer threads)."""

    def __init__(self) -> None:
        self.observer: Any = Observer()
        self.reader: threading.Thread = self.observer

    def start(self) -> None:
        self.observer.start()

    def stop(self) -> None:
        self.observer.stop()

    def join(self, timeout: float | None = None) -> None:
        self.observer.join(timeout)
        if not self.observer.is_alive():
            _close_unread_inotify(self.observer)

    def is_alive(self) -> bool:
        return bool(self.observer.is_alive())

    @property
    def paths(self) -> list[str]:
        return sorted(e.watch.path for e in list(self.observer.emitters))

    def schedule(self, handler: _DirHandler, path: str) -> Any:
        try:
            return self.observer.schedule(handler, path, recursive=False, event_filter=_EVENT_FILTER)
        except TypeError:  # watchdog < 2.3 has no event_filter; the worker filters anyway
            return self.observer.schedule(handler, path, recursive=False)

    def unschedule(self, watch: Any) -> None:
        self.observer.unschedule(watch)


def _close_unread_inotify(observer: Any) -> None:
    """Close the descriptors of a stopped watchdog 7 observer's inotify reader that never read.

    watchdog 7.1's ``InotifyFD`` starts with ``_is_reading = True``; when it is closed before its
    thread first enters the read loop, ``close()`` only wakes the thread (which then exits without
    reading) and nobody closes its inotify fd and wake pipe: three fds leak, in about one
    start/stop cycle in ten on a loaded 2-core machine. That end state (closed, still "reading",
    thread gone) is reached on no other path, so closing them here cannot close a reused number.
    Like ``_inherited_fds``, this reaches into watchdog's private attributes, guarded for
    versions that lack them.
    """
    reader = getattr(observer, "_inotify_fd", None)
    lock = getattr(reader, "_lock", None)
    close = getattr(reader, "_close_resources", None)
    if reader is None or lock is None or close is None or reader.is_alive():
        return
    with lock:
        if getattr(reader, "_closed", False) and getattr(reader, "_is_reading", False):
            reader._is_reading = False
            with contextlib.suppress(OSError):
                close()


def _rescan_everything() -> None:
    for watcher in HUB.users:
        watcher._record(("overflow", "", "", False))


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
            _rescan_everything()
        return True


_MAX_DEATHS, _DEATHS_WINDOW_S = 3, 60  # past 3 reader failures in a minute, no new reader: poll


class _Hub:
    """The process-wide observer, its directory watches and their reference counts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.observer: Any = None
        self.users: tuple[Subscriber, ...] = ()  # inotify-mode watchers; read without the lock
        self.entries: dict[str, _DirEntry] = {}
        self.open_watchers: weakref.WeakSet[Subscriber] = weakref.WeakSet()
        self.dead: list[Any] = []  # observers whose reader died (their threads are ending), to join
        self.deaths: list[float] = []  # when readers died, within the last _DEATHS_WINDOW_S
        # Why no reader replaced a dead one (errno, text): what a watcher's re-watch raises then.
        self.unavailable: tuple[int, str] = (errno.EMFILE, "no inotify reader")
        self._filter = _OverflowFilter()

    def acquire(self, watcher: Subscriber) -> None:
        """Count `watcher` as a user, creating and starting the observer if needed (may raise OSError)."""
        with self.lock:
            if self.observer is None:
                observer = _DirectObserver() if _DIRECT else _WatchdogObserver()
                observer.start()
                self.observer = observer
                for name in _OVERFLOW_LOGGERS:
                    logging.getLogger(name).addFilter(self._filter)
            self.users = (*self.users, watcher)

    def release(self, watcher: Subscriber) -> None:
        """Drop `watcher`; the last user stops and joins the observer."""
        with self.lock:
            self.users = tuple(w for w in self.users if w is not watcher)
            if self.users:
                return
            observer, self.observer = self.observer, None
            self.entries.clear()
            for name in _OVERFLOW_LOGGERS:
                logging.getLogger(name).removeFilter(self._filter)
        if observer is not None:  # None: its reader died and no new one could be started
            observer.stop()
            observer.join()
        self._join_dead()

    def watch_dir(self, path: str, watcher: Subscriber) -> _DirEntry:
        """Subscribe `watcher` to `path`, scheduling a watch unless a live one exists (may raise OSError)."""
        with self.lock:
            entry = self.entries.get(path)
            if entry is not None and entry.handler.dead:
                self._unschedule(entry)
                entry = None
            if entry is None:
                if self.observer is None:  # its reader died and no new one could be started
                    raise OSError(*self.unavailable, path)
                handler = _DirHandler(path)
                watch = self.observer.schedule(handler, path)
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
        entry.handler.lost()

    def reader_died(self, observer: Any) -> None:
        """``observer``'s reader thread stopped on an error (on that thread): start a new observer,
        and tell the watchers that every directory was lost, so each re-watches its directories on
        the new one (the path a deleted and re-created directory takes) and checks its targets at
        once. With no new instance to be had (EMFILE), or past three failures in a minute, their
        re-watch raises an OSError that says why, and they poll."""
        with self.lock:
            if self.observer is not observer:  # stopping, or replaced already
                return
            lost = list(self.entries.values())
            self.entries.clear()
            self.dead.append(observer)  # joined by whoever stops the observer that replaces it
            now = time.monotonic()
            self.deaths = [t for t in self.deaths if now - t < _DEATHS_WINDOW_S] + [now]
            fresh: Any = None
            if len(self.deaths) > _MAX_DEATHS:  # it keeps failing: polling at least works
                why = f"the inotify reader failed {len(self.deaths)} times in {_DEATHS_WINDOW_S} s"
                logger.warning("%s; the watchers fall back to polling", why)
                self.unavailable = (errno.EIO, why)
            else:
                try:
                    fresh = _DirectObserver()
                    fresh.start()
                except OSError as exc:
                    logger.warning("cannot start a new inotify reader; the watchers fall back to polling", exc_info=True)
                    self.unavailable = (exc.errno or errno.EMFILE, f"no new inotify reader: {exc.strerror or exc}")
            self.observer = fresh
        for entry in lost:
            entry.scheduled = False  # its watch went with the old instance
            entry.handler.lost()

    def _join_dead(self) -> None:
        """Join the observers whose reader died (their threads end right after replacing them)."""
        with self.lock:
            dead, self.dead = self.dead, []
        for observer in dead:
            observer.join()

    def fork_reset(self) -> None:
        """In a forked child: forget the parent's observer and watches, touching neither."""
        observer = self.observer
        self.lock = threading.Lock()
        self.observer = None
        self.users = ()
        self.entries = {}
        self.dead = []  # the parent's threads: none of them runs in the child
        self.deaths = []
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

    The direct backend lists its own. For a watchdog ``Observer`` this is the one place that
    reaches into watchdog's private attributes: closing these descriptors in the child (never
    calling watchdog's ``close``, which would ``inotify_rm_watch`` the parent's watches) is the only
    way not to leak them. watchdog 7 keeps one ``InotifyFD`` per observer (``_inotify_fd`` with
    ``_kill_r``/``_kill_w``), watchdog 6 one inotify object per emitter.
    """
    if isinstance(observer, _DirectObserver):
        return observer.fds
    observer = getattr(observer, "observer", observer)  # the watchdog-observer backend wraps one
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
        HUB.deaths = []
        for name in _OVERFLOW_LOGGERS:
            logging.getLogger(name).removeFilter(HUB._filter)
    if observer is not None:
        observer.stop()
        observer.join()
    HUB._join_dead()
