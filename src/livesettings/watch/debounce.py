"""Debounce: a trailing quiet window with a max-wait cap, priority targets and close-write holds.

The [`Debouncer`][livesettings.watch.Debouncer] is a pure state machine: no threads, no clock,
no I/O. The watcher's worker feeds it classified events with the current `time.monotonic()` and
asks when the next batch is due, which keeps every timing rule testable without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["ConfigChangeQueue", "Debouncer", "EventKind"]

EventKind = Literal["write", "close", "done", "touch"]
"""What an event says about a target's content.

* ``"write"``: bytes are being written in place (``modified``, or a new regular file ``created``);
  a ``closed`` event should follow when the writer is done.
* ``"close"``: the writer closed the file (inotify ``IN_CLOSE_WRITE``): the write is complete.
* ``"done"``: the content was replaced as a whole (a rename, a delete, a ``..data`` swap, a poll
  that saw new metadata); any write still open on that name no longer matters.
* ``"touch"``: metadata only (``attrib``); says nothing about open writes.
"""


@dataclass
class _Group:
    """The pending batch of one class of targets (normal or priority)."""

    first: float = 0.0
    last: float = 0.0
    targets: set[Path] = field(default_factory=set)
    open_writes: dict[Path, set[str]] = field(default_factory=dict)

    def add(self, target: Path, now: float, kind: EventKind, key: str | None) -> None:
        if not self.targets:
            self.first = now
        self.last = now
        self.targets.add(target)
        keys = self.open_writes.get(target)
        if kind == "write":
            self.open_writes.setdefault(target, set()).add(key or str(target))
        elif keys is not None and kind in ("close", "done"):
            if key is None:
                keys.clear()
            else:
                keys.discard(key)
            if not keys:
                del self.open_writes[target]

    def due(
        self, debounce_s: float, max_wait_s: float, stabilize_s: float, *, priority: bool
    ) -> float | None:
        if not self.targets:
            return None
        base = self.last if priority else min(self.last + debounce_s, self.first + max_wait_s)
        # A write that has not been closed yet holds the batch, for at most `stabilize_s` more:
        # the close event clears the hold and (as a new event) recomputes `base`.
        return base + stabilize_s if self.open_writes else base


class Debouncer:
    """Coalesce change events into batches.

    Normal targets fire after a trailing quiet window of `debounce_s` that restarts on every event,
    capped at `max_wait_s` after the first event of the batch, so a steady stream of writes still
    fires regularly. Priority targets skip the quiet window and are due at once; they form their own
    batch and do not drag pending normal targets along. In both groups, a target with an in-place
    write that has not been closed yet holds its batch for at most `stabilize_s` longer.

    Not thread-safe: it belongs to the single worker thread that feeds it.

    Args:
        debounce_s: quiet window in seconds (0 means fire on the first event).
        max_wait_s: cap in seconds from the first event of a batch to its firing.
        stabilize_s: longest extra wait for the close of an in-place write.
    """

    __slots__ = ("_debounce_s", "_max_wait_s", "_normal", "_priority", "_stabilize_s")

    def __init__(self, debounce_s: float, max_wait_s: float, stabilize_s: float) -> None:
        self._debounce_s = max(0.0, debounce_s)
        self._max_wait_s = max(self._debounce_s, max_wait_s)
        self._stabilize_s = max(0.0, stabilize_s)
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
        (self._priority if priority else self._normal).add(target, now, kind, key)

    def due(self) -> float | None:
        """Return the monotonic time at which the next batch is due, or ``None`` if nothing is pending."""
        times = [
            t
            for t in (
                self._normal.due(self._debounce_s, self._max_wait_s, self._stabilize_s, priority=False),
                self._priority.due(self._debounce_s, self._max_wait_s, self._stabilize_s, priority=True),
            )
            if t is not None
        ]
        return min(times) if times else None

    def pop_due(self, now: float) -> tuple[frozenset[Path], frozenset[Path]]:
        """Take every batch that is due at `now`.

        Args:
            now: the current `time.monotonic()`.

        Returns:
            ``(ready, unclosed)``: the targets to report, and the subset whose in-place write was
            never seen closing (the caller re-stats those until they are stable).
        """
        ready: set[Path] = set()
        unclosed: set[Path] = set()
        for group, priority in ((self._priority, True), (self._normal, False)):
            due = group.due(self._debounce_s, self._max_wait_s, self._stabilize_s, priority=priority)
            if due is not None and due <= now:
                ready |= group.targets
                unclosed |= group.open_writes.keys()
                group.targets.clear()
                group.open_writes.clear()
        return frozenset(ready), frozenset(unclosed)

    def clear(self) -> None:
        """Forget everything pending."""
        for group in (self._normal, self._priority):
            group.targets.clear()
            group.open_writes.clear()


ConfigChangeQueue = Debouncer
"""The brief's "Change Queue": coalescing, priority and batching of change events.

It is the [Debouncer][livesettings.watch.Debouncer] itself; the thread-safe part is the hand-off in
[HotReloadWatcher][livesettings.watch.HotReloadWatcher]: watchdog's thread only appends raw events under
the watcher's condition, and the watcher's single worker owns the queue.
"""
