"""Debounce: a trailing quiet window with a max-wait cap, priority targets and open-write holds.

The [`Debouncer`][livesettings.watch.Debouncer] is a pure state machine: no threads, no clock,
no I/O. The watcher's worker feeds it classified events with the current `time.monotonic()` and
asks when the next batch is due, which keeps every timing rule testable without sleeping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

__all__ = ["ConfigChangeQueue", "Debouncer", "EventKind"]

EventKind = Literal["write", "create", "close", "done", "touch"]
"""What an event says about a target's content.

* ``"write"``: bytes are being written in place (``modified``): the file is open for writing, and
  a ``closed`` event (inotify ``IN_CLOSE_WRITE``) will say when the writer is done. Holds every
  pending batch until then, for at most ``open_write_s``.
* ``"create"``: a new regular file appeared (``created``). If a writer made it, a ``modified`` or
  ``closed`` event follows; a file linked or moved in whole sees neither, so this holds only
  briefly (``stabilize_s``).
* ``"close"``: the writer closed the file: the write is complete.
* ``"done"``: the content was replaced as a whole (a rename, a delete, a ``..data`` swap); any
  write still open on that name no longer matters.
* ``"touch"``: metadata only (``attrib``); says nothing about open writes.
"""


class _Group:
    """The pending batch of one class of targets (normal or priority)."""

    # A plain class with slots, not a dataclass: generating dataclass methods costs import time.
    __slots__ = ("first", "holds", "last", "targets")

    def __init__(self) -> None:
        self.first = 0.0
        self.last = 0.0
        self.targets: set[Path] = set()
        # target -> {file key: (time the hold ends, whether it is an in-place write)}
        self.holds: dict[Path, dict[str, tuple[float, bool]]] = {}

    def __repr__(self) -> str:
        return f"_Group(first={self.first!r}, last={self.last!r}, targets={self.targets!r}, holds={self.holds!r})"

    def add(
        self, target: Path, now: float, kind: EventKind, key: str | None, create_s: float, write_s: float
    ) -> None:
        if not self.targets:
            self.first = now
        self.last = now
        self.targets.add(target)
        keys = self.holds.get(target)
        if kind in ("write", "create"):
            k = key or str(target)
            keys = self.holds.setdefault(target, {})
            held = keys.get(k)
            if kind == "write" and (held is None or not held[1]):
                keys[k] = (now + write_s, True)  # measured from the first unclosed write: a cap
            elif held is None:
                keys[k] = (now + create_s, False)
        elif keys is not None and kind in ("close", "done"):
            if key is None:
                keys.clear()
            else:
                keys.pop(key, None)
            if not keys:
                del self.holds[target]

    def base(self, debounce_s: float, max_wait_s: float, *, priority: bool) -> float | None:
        if not self.targets:
            return None
        return self.last if priority else min(self.last + debounce_s, self.first + max_wait_s)

    def hold_until(self) -> float | None:
        return max((end for keys in self.holds.values() for end, _ in keys.values()), default=None)

    def clear(self) -> None:
        self.targets.clear()
        self.holds.clear()


class Debouncer:
    """Coalesce change events into batches.

    Normal targets fire after a trailing quiet window of `debounce_s` that restarts on every event,
    capped at `max_wait_s` after the first event of the batch, so a steady stream of writes still
    fires regularly. Priority targets skip the quiet window and are due at once; they form their own
    batch and do not drag pending normal targets along.

    A file that is open for writing holds **every** batch (a reload reads every file, so no reload
    may run while one of them is half-written) until its writer closes it, for at most
    `open_write_s` from its first unclosed write. A newly created file holds for at most
    `stabilize_s` (it may have been moved or linked in whole, and then no close comes).

    Not thread-safe: it belongs to the single worker thread that feeds it.

    Args:
        debounce_s: quiet window in seconds (0 means fire on the first event).
        max_wait_s: cap in seconds from the first event of a batch to its firing.
        stabilize_s: longest wait for the close of a newly created file.
        open_write_s: longest wait for the close of an in-place write.

    Changed in 0.2: an in-place write holds until it is closed (``open_write_s``), not ``stabilize_s``.
    """

    __slots__ = ("_debounce_s", "_max_wait_s", "_normal", "_open_write_s", "_priority", "_stabilize_s")

    def __init__(self, debounce_s: float, max_wait_s: float, stabilize_s: float, open_write_s: float = 30.0) -> None:
        self._debounce_s = max(0.0, debounce_s)
        self._max_wait_s = max(self._debounce_s, max_wait_s)
        self._stabilize_s = max(0.0, stabilize_s)
        self._open_write_s = max(0.0, open_write_s)
        self._normal = _Group()
        self._priority = _Group()

    def __bool__(self) -> bool:
        return bool(self._normal.targets or self._priority.targets)

    def add(
        self,
        target: Path,
        now: float,
        *,
        kind: EventKind = "done",
        key: str | None = None,
        priority: bool = False,
    ) -> None:
        """Record one event for `target`.

        Args:
            target: the tracked target the event belongs to.
            now: the current `time.monotonic()`.
            kind: what the event says about the content (see `EventKind`).
            key: the file the event is about, to pair a ``"write"`` with its ``"close"`` inside a
                directory target; ``None`` means the target itself (for ``"done"``: every file).
            priority: put the target in the priority batch (no quiet window).
        """
        group = self._priority if priority else self._normal
        group.add(target, now, kind, key, self._stabilize_s, self._open_write_s)

    def _due(self) -> list[tuple[_Group, float]]:
        holds = [h for h in (self._normal.hold_until(), self._priority.hold_until()) if h is not None]
        hold = max(holds) if holds else None
        out: list[tuple[_Group, float]] = []
        for group, priority in ((self._priority, True), (self._normal, False)):
            base = group.base(self._debounce_s, self._max_wait_s, priority=priority)
            if base is not None:
                out.append((group, base if hold is None else max(base, hold)))
        return out

    def due(self) -> float | None:
        """Return the monotonic time at which the next batch is due, or ``None`` if nothing is pending."""
        if not (self._normal.targets or self._priority.targets):  # holds never outlive their targets
            return None
        times = [t for _, t in self._due()]
        return min(times) if times else None

    def holding(self) -> bool:
        """Whether a file that is open for writing (or just created) holds the pending batches."""
        return bool(self._normal.holds or self._priority.holds)

    def pop_due(self, now: float) -> tuple[frozenset[Path], frozenset[Path]]:
        """Take every batch that is due at `now`.

        Args:
            now: the current `time.monotonic()`.

        Returns:
            ``(ready, unclosed)``: the targets to report, and the subset whose in-place write was
            still open when its ``open_write_s`` cap ran out (the caller lets those settle first).
        """
        ready: set[Path] = set()
        unclosed: set[Path] = set()
        for group, due in self._due():
            if due <= now:
                ready |= group.targets
                unclosed |= {t for t, keys in group.holds.items() if any(hard for _, hard in keys.values())}
                group.clear()
        return frozenset(ready), frozenset(unclosed)

    def clear(self) -> None:
        """Forget everything pending."""
        self._normal.clear()
        self._priority.clear()


ConfigChangeQueue = Debouncer
"""The brief's "Change Queue": coalescing, priority and batching of change events.

It is the [Debouncer][livesettings.watch.Debouncer] itself; the thread-safe part is the hand-off in
[HotReloadWatcher][livesettings.watch.HotReloadWatcher]: watchdog's thread only appends raw events under
the watcher's condition, and the watcher's single worker owns the queue.
"""
