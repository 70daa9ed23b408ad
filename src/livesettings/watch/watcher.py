"""File watching: one shared observer, directory watches, event filtering, debounce.

A [`HotReloadWatcher`][livesettings.watch.HotReloadWatcher] tracks a set of *targets* and calls
``on_change(paths)`` on its own worker thread when some of them may have changed:

* a **file target** is an absolute path to a config file (it may not exist yet); only events that
  name it exactly (as ``src_path`` or ``dest_path``) count;
* a **directory target** (pass it in ``dirs=``, or pass an existing directory in ``targets``)
  counts every file in it, e.g. pydantic-settings' ``secrets_dir``.

Threads: one watchdog ``Observer`` per process is shared by every watcher (created lazily,
reference-counted, stopped and joined when the last inotify-mode watcher closes). It holds one
non-recursive watch per directory, shared across watchers, never one per file. watchdog's thread
only records raw events and wakes the worker; the worker (one per watcher) filters, debounces and
calls ``on_change``, never concurrently with itself and never while holding an internal lock.
Whoever does that holds the watcher's *step lock*; an ``on_change`` call may let go of it early
with [hand_off][livesettings.watch.handoff.hand_off] (the engine does, after a reload committed
and before its handlers run), and the watcher's *relief* thread, started on the first hand-off,
takes the next step meanwhile. So a slow ``@on_change`` handler never stops later changes from
being seen and applied, and the fast path keeps one hop: reader thread → worker, which reloads
and then runs the handlers itself. ``close()`` joins both threads.

Which event counts for which target is decided by the pure functions of
[routes][livesettings.watch.routes]; signatures, hashes and polling are in
[scan][livesettings.watch.scan]; this module keeps the worker thread and the inotify glue.
Events that never count: ``opened`` and ``closed_no_write`` (our own reads; they are not even
requested from inotify). Emacs ``.#`` lock symlinks are never stat'ed, read or followed.

Half-written files: a file that is open for writing (a ``modified`` event without its
``closed``) holds every pending batch until it is closed, for at most ``open_write_s``; past that
cap its content must settle (same metadata and content over ``settle_ms``) and a WARNING names it.
In polling mode, where no close can be seen, every change must settle over ``settle_ms``.

Fork: in a forked child, a running watcher forgets the parent's observer and watches without
touching them (the parent still uses them), then starts its own observer and worker and rescans
once (see [_forksafe][livesettings._forksafe]).

Timers: in inotify mode the only periodic wakeup is the safety re-check every
``safety_interval_s`` (it catches events lost to an inotify queue overflow or a watch that died);
while a watched directory is missing the worker also probes for it with backoff (50 ms to 2 s).
In polling mode (``poll_interval_ms``, ``LIVESETTINGS_POLL=<ms>``, or an automatic fallback when
inotify raises ``OSError``) the worker stats the targets itself.

Added in 0.1.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Literal

from .. import _forksafe
from .._state import State
from ..exceptions import ClosedError
from . import handoff
from .debounce import Debouncer
from .options import _FALLBACK_POLL_MS, WatchOptions, WatchStatus, _default_poll_interval_ms
from .observer import HUB, _DirEntry
from .observer import reset_for_tests as _reset_for_tests
from .observer import shared_observer as _shared_observer
from .routes import DEFAULT_IGNORE, Raw, Routes, classify, may_count
from .scan import Scanner, Sig, target_hash

__all__ = [
    "DEFAULT_IGNORE", "FileWatcher", "HotReloadWatcher", "WatchOptions", "WatchStatus",
    "_reset_for_tests", "_shared_observer",
]  # fmt: skip

logger = logging.getLogger(__name__)

_MAX_RAW = 20_000  # raw events queued for one worker before we stop recording and rescan everything
_PROBE_FIRST_S, _PROBE_MAX_S = 0.05, 2.0

class FileWatcher:
    """Watch config files and directories and report batches of possible changes.

    ``on_change`` gets a ``frozenset`` of the targets that may have changed (file targets by their
    path, directory targets by the directory). It may be called for a change that turns out to be
    no change (``touch``, a safety re-check): comparing content is the caller's job. A deleted
    target is reported too; a delete followed by a create inside the quiet window is one change.

    Example:
        ```python
        with FileWatcher([Path("/etc/app/config.yaml")], reload, WatchOptions(debounce_ms=50)) as w:
            ...  # reload(frozenset({Path("/etc/app/config.yaml")})) runs after each save
        ```

    Thread-safety: `set_targets`, `status` and `close` may be called from any thread, including
    from inside ``on_change``.

    Args:
        targets: absolute file paths; an existing directory here becomes a directory target.
        on_change: called on the watcher's worker thread, never concurrently with itself; an
            exception it raises is logged at WARNING and the worker carries on.
        options: debounce, polling and ignore settings.
        priority: targets that skip the quiet window and fire at once (in a batch of their own).
        name: a label for the worker thread and log messages.
        dirs: directory targets (every file in them counts), also when they do not exist yet.
    """

    def __init__(
        self,
        targets: Iterable[Path],
        on_change: Callable[[frozenset[Path]], None],
        options: WatchOptions = WatchOptions(),  # noqa: B008 - frozen, so sharing it is safe
        *,
        priority: Iterable[Path] = (),
        name: str = "",
        dirs: Iterable[Path] = (),
    ) -> None:
        self._on_change = on_change
        self._options = options
        self._name = name or f"watcher-{id(self):x}"
        self._ignore = DEFAULT_IGNORE + tuple(options.ignore)
        self._priority = frozenset(Path(os.path.abspath(p)) for p in priority)
        poll_ms = options.poll_interval_ms
        if poll_ms is None:
            poll_ms = _default_poll_interval_ms()
        self._mode: Literal["inotify", "poll"] = "inotify" if poll_ms is None else "poll"
        self._poll_s = (poll_ms or _FALLBACK_POLL_MS) / 1000
        self._fallback_reason: str | None = None
        self._state = State.NEW
        self._thread: threading.Thread | None = None  # the worker
        self._relief: threading.Thread | None = None  # takes the step while the worker is handed off
        self._unseeded: set[Path] = set()  # fired targets whose signature the next step records
        self._entries: dict[str, _DirEntry] = {}
        self._identity: dict[str, tuple[int, int]] = {}  # dir -> (st_dev, st_ino) when it was watched
        self._waiting: dict[str, tuple[float, float]] = {}  # dir -> (next probe, backoff)
        self._scanner = Scanner(self._ignore)
        self._next_safety = self._next_poll = float("inf")
        self._events_seen = 0
        self._batches = 0
        self._rechecks = 0
        self._restart_in_child = False
        self._routes = Routes.from_paths(targets, dirs)
        self._fresh_sync()
        _forksafe.register(self)

    def _fresh_sync(self) -> None:
        """Create the locks, the hand-off and the debouncer (at construction, and in a forked child)."""
        # Lock order: _step_lock -> _state_lock -> hub lock -> observer lock -> _cond. watchdog's
        # thread only ever takes _cond (in _record), so nothing waits on the observer while
        # holding _cond. _step_lock is held by the thread running the worker's step (the worker
        # or the relief thread): everything below "worker" belongs to it.
        self._step_lock = threading.Lock()
        self._generation = getattr(self, "_generation", 0) + 1  # a forked child's threads are new ones
        self._state_lock = threading.RLock()
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # the thread holding the step waits on it
        # The spare thread (the one not stepping) waits on _spare, same lock: it is woken only when
        # the step was handed off (_free) and there is work, so a hand-off itself wakes no thread.
        self._spare = threading.Condition(lock)
        self._free = False
        self._deadline = float("inf")  # when the step is next due for a timer (published at a hand-off)
        self._raw: list[Raw] = []
        self._rescan_all = False
        self._dirty = False
        self._closing = False
        self._stop = threading.Event()
        o = self._options
        self._debouncer = Debouncer(o.debounce_ms / 1000, o.max_wait_ms / 1000, o.stabilize_ms / 1000, o.open_write_s)

    # ---------------------------------------------------------------------------------------- API

    def start(self) -> None:
        """Schedule the directory watches (or start polling) and start the worker thread.

        Raises:
            ClosedError: the watcher was closed.
        """
        with self._state_lock:
            if self._state is State.CLOSED:
                raise ClosedError(f"file watcher {self._name} is closed")
            if self._state is State.RUNNING:
                return
            self._scanner.seed(self._routes.targets, self._routes)
            if self._mode == "inotify":
                try:
                    HUB.acquire(self)
                    self._sync_watches()
                except OSError as exc:
                    self._fall_back(exc)
            HUB.open_watchers.add(self)
            now = time.monotonic()
            safety_s = self._options.safety_interval_s
            self._next_safety = now + safety_s if safety_s > 0 else float("inf")
            self._next_poll = now + self._poll_s
            self._thread = threading.Thread(
                target=self._run, args=(self._generation,), name=f"livesettings-{self._name}", daemon=True
            )
            self._state = State.RUNNING
            self._thread.start()

    def set_targets(
        self, targets: Iterable[Path], *, dirs: Iterable[Path] = (), priority: Iterable[Path] | None = None
    ) -> None:
        """Replace the tracked set; watches follow at once, and new targets are not reported as changed.

        Args:
            targets: the new file targets (an existing directory here becomes a directory target).
            dirs: the new directory targets.
            priority: new priority targets, or ``None`` to keep the current ones.

        Raises:
            ClosedError: the watcher was closed.
        """
        with self._state_lock:
            if self._state is State.CLOSED:
                raise ClosedError(f"file watcher {self._name} is closed")
            routes = Routes.from_paths(targets, dirs)
            if priority is not None:
                self._priority = frozenset(Path(os.path.abspath(p)) for p in priority)
            old, self._routes = self._routes, routes  # first: events about new targets pass _record from now on
            self._scanner.seed(routes.targets - old.targets, routes)
            self._scanner.forget(old.targets - routes.targets)
            if self._state is State.RUNNING and self._mode == "inotify":
                try:
                    self._sync_watches()
                except OSError as exc:
                    self._fall_back(exc)
        with self._cond:
            self._dirty = True
            self._wake()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker (and the relief thread), join them (up to `timeout` seconds in all) and
        release the watches; idempotent.

        No new ``on_change`` call starts once ``close()`` has begun. If a running one outlasts
        `timeout`, a WARNING says so and its thread exits on its own when that call returns.

        Args:
            timeout: how long to wait for a running ``on_change`` to return.
        """
        with self._state_lock:
            if self._state is State.CLOSED:
                return
            self._state = State.CLOSED
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            self._spare.notify_all()
        self._stop.set()
        deadline = time.monotonic() + max(0.0, timeout)
        with self._state_lock:  # the relief thread starts under it, and not once CLOSED
            threads = [t for t in (self._thread, self._relief) if t is not None]
        for thread in threads:
            if thread is threading.current_thread():
                continue
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                logger.warning(
                    "file watcher %s: %s still busy in on_change after %.1f s; it exits when that call "
                    "returns, and starts nothing new", self._name, thread.name, timeout,
                )  # fmt: skip
        with self._state_lock:
            self._detach_all()
            self._waiting.clear()
        HUB.open_watchers.discard(self)

    @property
    def status(self) -> WatchStatus:
        """A snapshot of mode, missing paths, watched directories, counters and state."""
        with self._state_lock:
            routes, entries, waiting = self._routes, set(self._entries), set(self._waiting)
            mode, reason, state = self._mode, self._fallback_reason, self._state
        missing = {Path(d) for d in waiting} | {t for t in routes.targets if not os.path.lexists(t)}
        if mode == "poll":
            watched = {d for d in routes.by_dir if os.path.isdir(d)} if state is State.RUNNING else set()
        else:
            watched = entries
        return WatchStatus(
            mode=mode,
            fallback_reason=reason,
            missing=tuple(sorted(missing)),
            watched_dirs=tuple(sorted(Path(d) for d in watched)),
            events_seen=self._events_seen,
            batches_fired=self._batches,
            state=state.value,
            rechecks=self._rechecks,
        )

    def __enter__(self) -> FileWatcher:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<FileWatcher {self._name} {self._state.value} mode={self._mode}>"

    # ------------------------------------------------------------------------------------- fork

    def _fork_reset(self) -> None:
        """In a forked child: fresh locks; forget the parent's watches and thread without touching them."""
        self._restart_in_child = self._state is State.RUNNING and not self._closing
        self._fresh_sync()
        self._thread = self._relief = None
        self._entries.clear()  # the parent's watches: the hub forgets them too, unscheduling nothing
        self._identity.clear()
        self._waiting.clear()
        if self._restart_in_child:
            self._state = State.NEW
        elif self._state is State.RUNNING:  # closing in the parent when it forked
            self._state = State.CLOSED

    def _fork_restart(self) -> None:
        """In a forked child: start an observer and a worker of the child's own, then rescan once."""
        if not self._restart_in_child:
            return
        self._restart_in_child = False
        self.start()
        with self._cond:  # a change the parent had not reported yet must reach the child too
            self._rescan_all = True
            self._wake()

    # ------------------------------------------------------------- called from watchdog's threads

    def _record(self, rec: Raw) -> None:
        """Note one raw event and wake the worker; nothing else happens on the thread that reads events.

        Events that cannot count for any target (a temp file beside the config, our own reads, a
        directory's mtime) are dropped here, so they do not wake the worker.
        """
        kind = rec[0]
        if kind in ("opened", "closed_no_write") or (rec[3] and kind == "modified"):
            return  # our own reads; a directory's mtime (the file events themselves arrive too)
        if kind not in ("lost", "overflow") and not may_count(rec, self._routes):
            return
        with self._cond:
            if rec[0] == "overflow" or len(self._raw) >= _MAX_RAW:
                self._rescan_all = True
            else:
                self._raw.append(rec)
            self._cond.notify()
            if self._free:  # the step was handed off and nobody has taken it yet
                self._spare.notify()

    def _wake(self) -> None:
        """Wake whoever takes the next step (``_cond`` held)."""
        self._cond.notify()
        if self._free:
            self._spare.notify()

    # ------------------------------------------------------------------------- targets and watches

    def _sync_watches(self) -> None:
        """Make the directory watches match the routes (state lock held; may raise OSError)."""
        wanted = set(self._routes.by_dir)
        for d in set(self._entries) - wanted:
            HUB.unwatch_dir(self._entries.pop(d), self)
        for d in set(self._waiting) - wanted:
            del self._waiting[d]
        for d in sorted(wanted - set(self._entries) - set(self._waiting)):
            self._attach(d)

    def _attach(self, d: str) -> bool:
        """Watch directory `d`, or start waiting for it if it is missing (state lock held)."""
        if self._state is State.CLOSED or self._mode != "inotify":
            return False
        try:
            if not os.path.isdir(d):
                raise FileNotFoundError(errno.ENOENT, "no such directory", d)
            ident = os.stat(d)
            entry = HUB.watch_dir(d, self)
        except (FileNotFoundError, NotADirectoryError):
            self._waiting[d] = (time.monotonic() + _PROBE_FIRST_S, _PROBE_FIRST_S)
            return False
        self._entries[d] = entry
        self._identity[d] = (ident.st_dev, ident.st_ino)
        return True

    def _detach_all(self) -> None:
        for entry in self._entries.values():
            HUB.unwatch_dir(entry, self)
        self._entries.clear()
        if self in HUB.users:
            HUB.release(self)

    def _fall_back(self, exc: OSError) -> None:
        """Give up on inotify for this watcher and poll instead (state lock held)."""
        code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        reason = f"{code}: {exc.strerror or exc}"
        self._detach_all()
        self._waiting.clear()
        self._mode, self._fallback_reason = "poll", reason
        if self._options.poll_interval_ms is None:
            self._poll_s = _FALLBACK_POLL_MS / 1000
        logger.warning("file watcher %s: inotify unavailable (%s); polling every %d ms instead",
                       self._name, reason, round(self._poll_s * 1000))  # fmt: skip

    def _sig(self, target: Path) -> Sig:
        return self._scanner.sig(target, self._routes)

    # ----------------------------------------------------------------------------------- worker

    def _run(self, generation: int) -> None:
        """The loop of the worker and of the relief thread: take the step, run it, and again."""
        step_lock = self._step_lock

        def let_go() -> None:  # handoff.hand_off() from inside on_change
            self._start_relief()
            mode, _, deadline = self._timers()
            # A timer other than the safety re-check (a batch in its quiet window, a missing directory,
            # polling) must not wait for the call: wake the spare to wait for it. The safety re-check
            # alone may (the next event or the call's return runs it), so the fast path wakes no one.
            timers = bool(self._debouncer) or bool(self._waiting) or mode == "poll"
            with self._cond:
                self._deadline, self._free = deadline, True
                if self._raw or self._rescan_all or self._dirty or timers:
                    self._spare.notify()
            step_lock.release()

        while not self._closing and generation == self._generation:
            failed = False
            if not self._take_step(step_lock):
                return
            handoff.arm(let_go)
            try:
                if not self._closing:
                    self._step()
            except Exception:  # a bug or an odd file system must not end the watching
                logger.warning("file watcher %s: unexpected error; carrying on", self._name, exc_info=True)
                failed = True
            finally:
                if handoff.disarm():  # not handed off inside on_change
                    step_lock.release()
            if failed:
                self._stop.wait(0.1)

    def _take_step(self, step_lock: threading.Lock) -> bool:
        """Take the step: at once if it is free, else as the spare, once it was handed off and there
        is work (an event, a due timer). ``False``: the watcher is closing."""
        if not step_lock.acquire(blocking=False):
            with self._cond:
                while not self._closing:
                    if self._free:
                        timeout = self._deadline - time.monotonic()
                        if self._raw or self._rescan_all or self._dirty or timeout <= 0:
                            break
                        self._spare.wait(timeout)
                    else:
                        self._spare.wait()
                if self._closing:
                    return False
            step_lock.acquire()
        with self._cond:
            self._free = False
        return True

    def _timers(self) -> tuple[str, float, float]:
        """``(mode, next probe of a missing directory, deadline of the next step)`` (step held)."""
        with self._state_lock:
            mode = self._mode
            probe = min((t for t, _ in self._waiting.values()), default=float("inf"))
        deadline = min(self._next_safety, probe, self._next_poll if mode == "poll" else float("inf"))
        due = self._debouncer.due()
        if due is not None:
            deadline = min(deadline, due)
        return mode, probe, deadline

    def _start_relief(self) -> None:
        """Inside ``on_change``, on the thread holding the step: start the relief thread unless it runs."""
        relief = self._relief
        if relief is not None and relief.is_alive():  # the common case: no lock
            return
        with self._state_lock:
            relief = self._relief
            if (relief is None or not relief.is_alive()) and self._state is State.RUNNING and not self._closing:
                self._relief = threading.Thread(
                    target=self._run, args=(self._generation,), name=f"livesettings-{self._name}-relief", daemon=True
                )
                self._relief.start()

    def _step(self) -> None:
        """Sleep until an event or a timer is due, then ingest, tick timers and fire what is due."""
        if self._unseeded:  # after the last batch's on_change, off the way from event to reload
            targets, self._unseeded = self._unseeded, set()
            routes = self._routes  # on_change may have retargeted: only what is still tracked
            self._scanner.seed(targets & routes.targets, routes)
        mode, probe, deadline = self._timers()
        with self._cond:
            while not (self._closing or self._raw or self._rescan_all or self._dirty):
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    break
                self._cond.wait(timeout)
            if self._closing:
                return
            raw, self._raw = self._raw, []
            rescan, self._rescan_all, self._dirty = self._rescan_all, False, False
        now = time.monotonic()
        routes = self._routes
        if raw:
            self._ingest(raw, routes, now)
        if rescan:
            for t in routes.targets:
                self._debouncer.add(t, now, priority=t in self._priority)
        if self._waiting and now >= probe:
            self._probe(now)
        safety = now >= self._next_safety
        if safety:
            self._next_safety = now + self._options.safety_interval_s
        if mode == "poll" and (now >= self._next_poll or safety):
            self._poll(routes, now, with_hash=safety, settle_s=self._options.settle_ms / 1000)
            step = self._poll_s
            if self._debouncer and self._options.debounce_ms > 0:
                step = min(step, self._options.debounce_ms / 1000)
            if self._scanner.unsettled:
                step = min(step, max(0.01, self._options.settle_ms / 2000))
            self._next_poll = now + step
        elif safety:
            self._safety_check(routes, now)
        if safety:
            self._rechecks += 1
        ready, unclosed = self._debouncer.pop_due(time.monotonic())
        if ready:
            if unclosed:
                self._settle(unclosed)
            self._fire(ready)

    def _ingest(self, raw: list[Raw], routes: Routes, now: float) -> None:
        """Classify raw events into target changes and feed the debouncer."""
        matched = 0
        for rec in raw:
            if rec[0] == "lost":
                matched += self._lost(rec[1], now)
                continue
            for target, kind, key in classify(rec, routes, self._ignore):
                self._debouncer.add(target, now, kind=kind, key=key, priority=target in self._priority)
                matched += 1
        self._events_seen += matched

    def _lost(self, d: str, now: float) -> int:
        """A watched directory vanished or was replaced: drop its watch and wait for it to come back."""
        with self._state_lock:
            entry = self._entries.get(d)
            if entry is None or not entry.handler.dead:  # unknown, or a late report about an old watch
                return 0
            del self._entries[d]
            HUB.unwatch_dir(entry, self)
            if self._state is not State.CLOSED:
                self._waiting[d] = (now + _PROBE_FIRST_S, _PROBE_FIRST_S)
            targets = self._routes.by_dir.get(d, frozenset())
        logger.info("file watcher %s: directory %s is gone; waiting for it to come back", self._name, d)
        for t in targets:
            self._debouncer.add(t, now, priority=t in self._priority)
        return len(targets)

    def _probe(self, now: float) -> None:
        """Re-watch missing directories whose probe time has come; back off the others."""
        back: list[str] = []
        with self._state_lock:
            for d, (at, backoff) in list(self._waiting.items()):
                if at > now:
                    continue
                del self._waiting[d]
                try:
                    attached = self._attach(d)
                except OSError as exc:
                    self._fall_back(exc)
                    return
                if attached:
                    back.append(d)
                elif d in self._waiting:
                    backoff = min(backoff * 2, _PROBE_MAX_S)
                    self._waiting[d] = (now + backoff, backoff)
            routes = self._routes
        for d in back:
            logger.info("file watcher %s: directory %s is back; watching it again", self._name, d)
            for t in routes.by_dir.get(d, frozenset()):
                self._debouncer.add(t, now, priority=t in self._priority)

    def _safety_check(self, routes: Routes, now: float) -> None:
        """Catch lost events: report targets whose metadata or content moved, re-watch dead dirs."""
        with self._state_lock:
            entries = dict(self._entries)
            identity = dict(self._identity)
        for d, entry in entries.items():
            try:
                st = os.stat(d)
                alive = (st.st_dev, st.st_ino) == identity.get(d) and stat.S_ISDIR(st.st_mode)
            except OSError:
                alive = False
            if not alive:
                HUB.mark_dead(entry)
        self._poll(routes, now, with_hash=True, settle_s=0.0)

    def _poll(self, routes: Routes, now: float, *, with_hash: bool, settle_s: float) -> None:
        """Compare every target with what was last seen and feed the differences to the debouncer."""
        for t, kind in self._scanner.poll(routes, now, with_hash=with_hash, settle_s=settle_s):
            self._debouncer.add(t, now, kind=kind, priority=t in self._priority)

    def _settle(self, targets: frozenset[Path]) -> None:
        """Files still open for writing past ``open_write_s``: warn, then wait (bounded) for them to settle.

        Settled means two looks ``settle_ms`` apart agree on metadata and content; after three
        windows the batch fires regardless.
        """
        window = self._options.settle_ms / 1000
        logger.warning(
            "file watcher %s: %s still open for writing after %.0f s; applying the content once it settles",
            self._name, ", ".join(str(t) for t in sorted(targets)), self._options.open_write_s,
        )  # fmt: skip
        routes = self._routes
        prev = self._looks(targets, routes)
        for _ in range(3):
            if self._stop.wait(window):
                return
            cur = self._looks(targets, routes)
            if cur == prev:
                return
            prev = cur

    def _looks(self, targets: frozenset[Path], routes: Routes) -> list[tuple[Sig, bytes | None]]:
        out = []
        for t in sorted(targets):
            sig = self._scanner.sig(t, routes)
            out.append((sig, target_hash(t, sig, routes)))
        return out

    def _fire(self, targets: frozenset[Path]) -> None:
        """Call ``on_change``; it may hand the step off (`handoff.hand_off`), so nothing after it touches the worker's state."""
        if self._mode == "inotify":
            self._unseeded |= targets
        if self._closing:
            return
        self._batches += 1
        try:
            self._on_change(targets)
        except Exception:
            logger.warning("file watcher %s: on_change raised; carrying on", self._name, exc_info=True)


HotReloadWatcher = FileWatcher
"""The brief's name for the file watcher; the same class."""
