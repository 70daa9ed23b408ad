"""The asyncio side of a settings object: ``wait_for_version`` and the ``changes()`` stream.

Both are woken from the thread that committed (or delivered) a version, with
``loop.call_soon_threadsafe``, and hold no lock while user code runs. A change stream is a lane
of the notifier (see ``_lanes``): it keeps one pending delivery, so a consumer that falls behind
gets one combined [Diff][livesettings.Diff] from what it last saw to the newest version.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncGenerator, Callable
from typing import Any

from . import _forksafe
from ._lanes import Delivery
from ._model import Diff, Version
from .exceptions import ClosedError

__all__ = ["ChangeStream", "VersionWaiters", "iterate"]


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any) -> bool:
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the loop is closed
        return False
    return True


def _resolve(future: asyncio.Future[Version], version: Version) -> None:
    if not future.done():
        future.set_result(version)


def _fail(future: asyncio.Future[Version], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


class VersionWaiters:
    """Coroutines waiting until a settings object serves version number ``n`` or later."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._fork_reset()
        _forksafe.register(self)

    def _fork_reset(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[Version]]] = []
        self._closed = False

    async def wait(self, current: Callable[[], Version], number: int, timeout: float | None) -> Version:
        """The current version once its number is at least ``number``.

        Raises:
            TimeoutError: not within ``timeout`` seconds.
            ClosedError: the settings object closed first.
        """
        version = current()
        if version.number >= number:
            return version
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Version] = loop.create_future()
        entry = (number, loop, future)
        with self._lock:
            if self._closed:
                raise ClosedError(f"{self.name} is closed")
            self._waiting.append(entry)
        try:
            version = current()  # committed between the first look and the registration
            if version.number >= number:
                return version
            try:
                return await asyncio.wait_for(future, timeout)
            except asyncio.TimeoutError:  # (not yet the builtin on Python 3.10)
                raise TimeoutError(f"{self.name}: no version {number} within {timeout} s") from None
        finally:
            with self._lock:
                if entry in self._waiting:
                    self._waiting.remove(entry)

    def notify(self, version: Version | None) -> None:
        """Wake the waiters ``version`` satisfies (call with no lock held)."""
        if not self._waiting or version is None:
            return
        with self._lock:
            ready = [w for w in self._waiting if w[0] <= version.number]
            self._waiting = [w for w in self._waiting if w[0] > version.number]
        for _, loop, future in ready:
            _call_soon(loop, _resolve, future, version)

    def close(self) -> None:
        """Fail every waiter with ``ClosedError`` (idempotent)."""
        with self._lock:
            self._closed = True
            waiting, self._waiting = self._waiting, []
        for _, loop, future in waiting:
            _call_soon(loop, _fail, future, ClosedError(f"{self.name} is closed"))


class ChangeStream:
    """One ``changes(path)`` consumer: a notifier lane with one pending delivery.

    ``deliver`` runs on the delivering thread (it only stores and wakes the loop); ``next``
    runs on the consumer's loop.
    """

    def __init__(self, paths: tuple[str, ...]) -> None:
        self.paths = paths
        self._loop: asyncio.AbstractEventLoop | None
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None  # bound at the first ``next``
        self._event: asyncio.Event | None = None
        self._fork_reset()
        self.cancel: Callable[[], None] = lambda: None

    def _fork_reset(self) -> None:
        self._lock = threading.Lock()
        self._pending: Delivery | None = None
        self._closed = False

    def deliver(self, delivery: Delivery) -> None:
        with self._lock:
            if self._closed:
                return
            self._pending = delivery if self._pending is None else self._pending.merge(delivery)
            loop = self._loop
        if loop is not None and not _call_soon(loop, self._wake):
            self.close()  # its loop has ended

    def _wake(self) -> None:
        if self._event is not None:
            self._event.set()

    def alive(self) -> bool:
        """Whether the stream still receives."""
        return not self._closed

    def stop(self, deadline: float) -> bool:
        """The settings object closed: the consumer's ``async for`` ends."""
        with self._lock:
            self._closed = True
            loop = self._loop
        if loop is not None:
            _call_soon(loop, self._wake)
        return True

    def close(self) -> None:
        """Stop receiving (idempotent)."""
        with self._lock:
            self._closed = True
            self._pending = None
        self.cancel()

    async def next(self) -> Diff:
        """The next (possibly combined) Diff.

        Raises:
            StopAsyncIteration: the stream or its settings object closed.
        """
        if self._event is None:
            self._event = asyncio.Event()
            with self._lock:
                self._loop = asyncio.get_running_loop()
        while True:
            self._event.clear()  # before looking: a delivery after the look sets it again
            with self._lock:
                delivery, self._pending = self._pending, None
                closed = self._closed
            if delivery is not None:
                diff = delivery.diff(self.paths)
                if diff is not None:  # (a value that went back to what the consumer last saw: nothing)
                    return diff
                continue
            if closed:
                raise StopAsyncIteration
            await self._event.wait()


async def _iterate(stream: ChangeStream) -> AsyncGenerator[Diff, None]:
    try:
        while True:
            try:
                diff = await stream.next()
            except StopAsyncIteration:
                return
            yield diff
    finally:
        stream.close()


def iterate(stream: ChangeStream) -> AsyncGenerator[Diff, None]:
    """An async generator over ``stream``; it unsubscribes when closed, finalised or never started."""
    gen = _iterate(stream)
    weakref.finalize(gen, stream.close)
    return gen
