"""Delivery lanes: subscriptions that can fall behind on their own, with coalescing.

A synchronous handler without a timeout runs on the delivering thread and sees every version.
Three kinds of subscription instead get a *lane* that holds at most one pending
[Delivery][livesettings._lanes.Delivery]; a newer version merges into it (old = what the
subscriber last saw, new = the newest), so a subscriber that falls behind gets one combined diff,
never a queue of stale ones:

* [ThreadLane][livesettings._lanes.ThreadLane]: a handler with a timeout runs on a worker thread
  of its own; the delivering thread waits for it at most its timeout, then reports it as a dead
  letter and goes on (its late result is ignored);
* [LoopLane][livesettings._lanes.LoopLane]: an ``async def`` handler runs on its event loop, one
  call at a time;
* the ``changes()`` stream of ``_streams`` (a lane whose consumer is an ``async for``).

Lanes call user code through a [LaneHost][livesettings._lanes.LaneHost] (the notifier), never
while holding a lock. Every worker thread is owned by its lane, and ``stop()`` joins it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import traceback
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from . import _homes
from ._diff import changes_at
from ._model import Change, Diff, Version
from ._paths import resolve

__all__ = ["DeadLetter", "Delivery", "LaneHost", "LoopLane", "ThreadLane", "calls_for"]

log = logging.getLogger("livesettings.notify")

LOOP_GRACE_S = 0.25  # how long a delivery waits for a handler's stopped event loop to run again


@dataclass(frozen=True)
class DeadLetter:
    """A notification a handler failed to process.

    Attributes:
        handler: a readable name of the handler.
        paths: the subscribed paths.
        version_id: the version being delivered.
        error: the exception raised (a `TimeoutError` for a handler that exceeded its timeout).
        traceback: the formatted traceback.
    """

    handler: str
    paths: tuple[str, ...]
    version_id: str
    error: BaseException
    traceback: str

    @classmethod
    def of(cls, handler: str, paths: tuple[str, ...], version: Version, exc: BaseException) -> DeadLetter:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(handler, paths, version.id, exc, tb)


class Delivery:
    """One version on its way to one subscription (never changed once built).

    ``changes`` is ``None`` for a merged delivery: the changes are found again between ``old``
    (the snapshot the subscriber last saw) and ``new``.
    """

    # A plain class with slots, not a dataclass: generating dataclass methods costs import time.
    __slots__ = ("changes", "new", "old", "path", "version")

    def __init__(
        self, version: Version, old: Any, new: Any, path: str | None = None, changes: tuple[Change, ...] | None = None
    ) -> None:
        self.version = version
        self.old = old
        self.new = new
        self.path = path
        self.changes = changes

    def __repr__(self) -> str:
        return f"Delivery(version={self.version.id!r}, path={self.path!r})"  # values may be secrets

    def merge(self, newer: Delivery) -> Delivery:
        """One delivery from what this one's subscriber last saw to ``newer``'s version."""
        return Delivery(newer.version, self.old, newer.new)

    def match(self, paths: tuple[str, ...]) -> tuple[str, tuple[Change, ...]] | None:
        """(the path to report, the leaf changes at or under ``paths``), or ``None`` if nothing changed there."""
        if self.changes is not None and self.path is not None:
            return self.path, self.changes
        first: str | None = None
        found: list[Change] = []
        seen: set[str] = set()
        for path in paths:
            for change in changes_at(path, self.old, self.new):
                if change.path not in seen:
                    seen.add(change.path)
                    found.append(change)
                    first = path if first is None else first
        return None if first is None else (first, tuple(found))

    def diff(self, paths: tuple[str, ...]) -> Diff | None:
        """The [Diff][livesettings.Diff] of this delivery seen from ``paths``, if anything changed there."""
        matched = self.match(paths)
        if matched is None:
            return None
        path, changes = matched
        return Diff(path, resolve(self.old, path), resolve(self.new, path), changes, self.version)


def calls_for(style: str, delivery: Delivery, paths: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The argument tuples of the handler calls for one delivery (one ``Diff``, or one call per leaf)."""
    if style == "diff":
        diff = delivery.diff(paths)
        return [] if diff is None else [(diff,)]
    matched = delivery.match(paths)
    return [] if matched is None else [(c.path, c.old_value, c.new_value) for c in matched[1]]


class LaneHost(Protocol):
    """What a lane needs from its notifier."""

    @property
    def closed(self) -> bool: ...

    def begin(self, name: str) -> int | None: ...

    def end(self, token: int) -> None: ...

    def abandon(self, token: int) -> None: ...

    def record(self, letter: DeadLetter) -> None: ...

    def run(self, sub: Any, delivery: Delivery) -> BaseException | None: ...

    async def arun(self, sub: Any, delivery: Delivery, timeout: float | None) -> BaseException | None: ...


class _Ticket:
    """One delivering thread's wait for its delivery."""

    __slots__ = ("done", "letter")

    def __init__(self) -> None:
        self.done = False
        self.letter: DeadLetter | None = None


class _Call:
    __slots__ = ("abandoned", "deadline", "delivery", "finished", "tickets", "token")

    def __init__(self, delivery: Delivery, deadline: float, tickets: list[_Ticket], token: int) -> None:
        self.delivery = delivery
        self.deadline = deadline
        self.tickets = tickets
        self.token = token
        self.finished = False
        self.abandoned = False


class ThreadLane:
    """A synchronous handler with a timeout: its own worker thread, started at its first delivery.

    ``deliver`` hands a version over and waits until the handler returned, or until the call in
    progress has run ``timeout`` seconds: then that call is abandoned (a ``TimeoutError`` dead
    letter and a WARNING; its late result is ignored) and the delivering thread goes on. While an
    abandoned call still runs, newer versions merge into one pending delivery that the worker
    runs once the call returns, so the handler's calls never overlap and keep version order.
    """

    def __init__(self, host: LaneHost, sub: Any, timeout: float) -> None:
        self.host, self.sub, self.timeout = host, sub, timeout
        self._fork_reset()

    def _fork_reset(self) -> None:
        self._cond = threading.Condition()
        self._pending: Delivery | None = None
        self._tickets: list[_Ticket] = []
        self._current: _Call | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    def deliver(self, delivery: Delivery) -> DeadLetter | None:
        """Hand ``delivery`` over; returns its dead letter if the handler failed or timed out."""
        ticket = _Ticket()
        late: _Call | None = None
        with self._cond:
            if self._stopped:
                return None
            self._pending = delivery if self._pending is None else self._pending.merge(delivery)
            self._tickets.append(ticket)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name=f"livesettings-handler {self.sub.name}", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()
            while not ticket.done and not self._stopped:
                current = self._current
                left: float | None = None
                if current is not None:
                    if current.abandoned:
                        break  # stuck: this delivery waits for it in the lane, nobody waits here
                    left = current.deadline - time.monotonic()
                    if left <= 0:
                        current.abandoned, late = True, current
                        break
                self._cond.wait(left)
            if ticket.done:
                return ticket.letter
        if late is None:
            return None
        self.host.abandon(late.token)
        error = TimeoutError(
            f"handler {self.sub.name} did not return within {self.timeout:g} s on version "
            f"{late.delivery.version.id}; abandoned (its late result is ignored)"
        )
        letter = DeadLetter.of(self.sub.name, self.sub.paths, late.delivery.version, error)
        self.host.record(letter)
        return letter if ticket in late.tickets else None

    def _work(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stopped:
                    self._cond.wait()
                token = None if self._stopped else self.host.begin(self.sub.name)
                if token is None:  # stopped, or the notifier closed
                    self._stopped = True
                    self._pending, tickets, self._tickets = None, self._tickets, []
                    for t in tickets:
                        t.done = True
                    self._cond.notify_all()
                    return
                delivery, tickets = self._pending, self._tickets
                assert delivery is not None
                self._pending, self._tickets = None, []
                call = _Call(delivery, time.monotonic() + self.timeout, tickets, token)
                self._current = call
                self._cond.notify_all()
            error = self.host.run(self.sub, delivery)  # user code: no lock held
            with self._cond:
                call.finished = True
                abandoned = call.abandoned
            letter = None
            if abandoned:
                log.debug("handler %s returned after its timeout; result ignored", self.sub.name)
            elif error is not None:
                letter = DeadLetter.of(self.sub.name, self.sub.paths, delivery.version, error)
                self.host.record(letter)
            self.host.end(token)
            with self._cond:
                self._current = None
                for t in tickets:
                    t.done, t.letter = True, letter
                self._cond.notify_all()

    def alive(self) -> bool:
        """Whether ``close()`` still has something to stop or join here."""
        thread = self._thread
        return not self._stopped or (thread is not None and thread.is_alive())

    def stop(self, deadline: float) -> bool:
        """Start no call any more; join the worker until ``deadline`` (not waiting for an abandoned call).

        Returns:
            Whether the worker thread has ended.
        """
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            thread, current = self._thread, self._current
        if thread is None or thread is threading.current_thread():
            return True
        wait = 0.0 if current is not None and current.abandoned else max(0.0, deadline - time.monotonic())
        thread.join(wait)
        return not thread.is_alive()


class LoopLane:
    """An ``async def`` handler on its event loop: one call at a time, newer versions merged.

    The first pending delivery starts a task on the loop (``asyncio.run_coroutine_threadsafe``);
    that task runs the handler until nothing is pending. A delivering thread never waits for it.
    With a timeout the call is awaited with ``asyncio.wait_for``: one that takes longer is
    cancelled and becomes a ``TimeoutError`` dead letter.
    """

    def __init__(self, host: LaneHost, sub: Any, timeout: float | None) -> None:
        self.host, self.sub, self.timeout = host, sub, timeout
        self._fork_reset()

    def _fork_reset(self) -> None:
        self._lock = threading.Lock()
        self._pending: Delivery | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop of the running task, if any
        self._stopped = False

    def deliver(self, delivery: Delivery, loop: asyncio.AbstractEventLoop) -> None:
        """Hand ``delivery`` to the handler on ``loop``.

        Raises:
            RuntimeError: ``loop`` is stopped or closed; the delivery was dropped.
        """
        with self._lock:
            if self._stopped:
                return
            self._pending = delivery if self._pending is None else self._pending.merge(delivery)
            running = self._loop
            if running is not None and running.is_running():
                return  # the task on the loop picks it up
            self._loop = loop
        deadline = time.monotonic() + LOOP_GRACE_S
        while not loop.is_running() and not loop.is_closed() and time.monotonic() < deadline:
            time.sleep(0.005)  # e.g. between run_until_complete() and run_forever()
        future: Future[None] | None = None
        if loop.is_running():
            try:
                future = asyncio.run_coroutine_threadsafe(self._drive(), loop)
            except RuntimeError:  # closed in between
                future = None
        if future is None:
            with self._lock:
                self._pending, self._loop = None, None
            state = "closed" if loop.is_closed() else "not running"
            raise RuntimeError(f"the event loop of async handler {self.sub.name} is {state}; the call was dropped")
        future.add_done_callback(self._ended)

    def alive(self) -> bool:
        """Whether ``close()`` still has something to stop here."""
        return not self._stopped

    def stop(self, deadline: float) -> bool:
        """Nothing to join: a call already handed to the loop runs there to its end, no new one starts."""
        with self._lock:
            self._pending, self._stopped = None, True
        return True

    def _ended(self, future: Future[None]) -> None:
        if future.cancelled() or future.exception() is not None:  # the loop went away under the task
            with self._lock:
                self._loop = None

    async def _drive(self) -> None:
        while True:
            with self._lock:
                delivery, self._pending = self._pending, None
                if delivery is None or self.host.closed:
                    self._loop = None
                    return
            error = await self.host.arun(self.sub, delivery, self.timeout)
            if error is not None:
                self.host.record(DeadLetter.of(self.sub.name, self.sub.paths, delivery.version, error))


_homes.settle("livesettings", namespace=globals())  # imported on first use: point the public names home
