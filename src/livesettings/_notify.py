"""Change notification: path-prefix subscriptions, preparers, ordered delivery, isolation, dead letters.

Subscriptions live in an index keyed by path, so finding who cares about a change costs
O(changes × depth), not O(subscribers). The index is copy-on-write: publishing reads it without
a lock. Delivery runs with no internal lock held, in registration order; one failing handler
is logged with its traceback, lands in ``dead_letters`` and never stops the others.

Versions are delivered in commit order even when several threads commit: whoever commits queues
the notification, and one thread at a time drains the queue (see ``ConfigChangeNotifier.drain``).
A synchronous handler without a timeout runs on the draining thread and sees every version; a
handler with a timeout, an ``async def`` handler and a ``changes()`` stream each get a lane of
their own (``_lanes``) where a subscriber that falls behind gets one combined diff.

Preparers (``prepare()``) are a second index: they run before a commit, inside the engine's
pipeline, and may veto the version.

Closing: ``close(timeout)`` refuses every handler call from then on (the check and the count of
running calls share one lock, so no call starts after ``close()`` returns) and waits up to
``timeout`` for calls already running on other threads (not for one already abandoned after its
timeout); one still running then is named in a WARNING. Lane worker threads are joined within the
same deadline. An async handler is handed to its event loop only while that loop runs.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import math
import threading
import time
import typing
import weakref
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future
from typing import Any

from . import _forksafe, _homes
from ._index import PathIndex
from ._lanes import LOOP_GRACE_S, DeadLetter, Delivery, LoopLane, ThreadLane, calls_for
from ._model import Change, Diff, Version
from ._paths import resolve
from ._redact import redact_text, secret_strings
from .exceptions import ClosedError, ReloadError

__all__ = ["ConfigChangeNotifier", "DeadLetter", "Prepared", "SubscriptionHandle"]

log = logging.getLogger("livesettings.notify")

_seq = itertools.count(1)


class Subscription:
    """One registered handler or preparer (internal)."""

    # A plain class with slots, not a dataclass: generating dataclass methods costs import time.
    __slots__ = ("active", "bound", "callback", "critical", "is_async", "lane", "loop", "name", "on_error",
                 "paths", "seq", "style", "timeout", "__weakref__")

    def __init__(
        self,
        paths: tuple[str, ...],
        callback: Callable[..., Any] | weakref.WeakMethod[Callable[..., Any]],
        style: str,  # "diff": callback(Diff); "leaf": callback(path, old, new) once per leaf change
        critical: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,  # the loop it was registered from, or bound to
        name: str = "",
        on_error: Callable[[BaseException], Any] | None = None,  # told about rejected reloads while active
        timeout: float | None = None,  # seconds; None: runs on the delivering thread, no timeout
    ) -> None:
        self.paths = paths
        self.callback = callback
        self.style = style
        self.critical = critical
        self.loop = loop
        self.name = name
        self.on_error = on_error
        self.seq = next(_seq)
        self.active = True
        self.timeout = timeout
        self.is_async = False
        self.bound = False  # its loop was bound explicitly (handle.bind_loop)
        self.lane: Any = None  # a ThreadLane / LoopLane, created at the first delivery; or a stream

    def __repr__(self) -> str:
        return f"Subscription(name={self.name!r}, paths={self.paths!r})"

    def target(self) -> Callable[..., Any] | None:
        cb = self.callback
        if isinstance(cb, weakref.WeakMethod):
            return cb()
        return cb


class SubscriptionHandle:
    """Returned by ``subscribe``/``watch``; ``cancel()`` stops delivery (idempotent).

    Also usable as a context manager that cancels on exit.
    """

    __slots__ = ("_notifier", "_sub")

    def __init__(self, notifier: ConfigChangeNotifier, sub: Subscription) -> None:
        self._notifier = notifier
        self._sub = sub

    @property
    def path(self) -> str:
        """The (first) subscribed dotted path (``""`` for everything)."""
        return self._sub.paths[0]

    @property
    def paths(self) -> tuple[str, ...]:
        """Every subscribed dotted path."""
        return self._sub.paths

    @property
    def active(self) -> bool:
        """Whether the subscription still receives changes."""
        return self._sub.active

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop an ``async def`` handler runs on (``None``: ``asyncio.run`` on the delivering thread)."""
        return self._notifier.loop_for(self._sub)

    def bind_loop(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Run this ``async def`` handler on ``loop`` (default: the running loop) from the next version on.

        Raises:
            RuntimeError: no ``loop`` given and none is running.

        Added in 0.3.
        """
        self._sub.loop = loop if loop is not None else asyncio.get_running_loop()
        self._sub.bound = True

    def cancel(self) -> None:
        """Stop delivering changes to this subscription."""
        self._notifier.unsubscribe(self)

    def __enter__(self) -> SubscriptionHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def __repr__(self) -> str:
        return f"<SubscriptionHandle paths={self._sub.paths!r} active={self._sub.active}>"


WatchHandle = SubscriptionHandle


class _Pending:
    __slots__ = ("changes", "new", "old", "version")

    def __init__(self, version: Version, old: Any, new: Any, changes: tuple[Change, ...]) -> None:
        self.version = version
        self.old = old
        self.new = new
        self.changes = changes


def _describe(cb: Callable[..., Any]) -> str:
    name = getattr(cb, "__qualname__", None) or type(cb).__qualname__
    return f"{getattr(cb, '__module__', '?')}.{name}"


def _is_async(cb: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(cb) or inspect.iscoroutinefunction(getattr(cb, "__call__", None))  # noqa: B004


class Prepared:
    """The preparers that prepared one candidate; ``finish(committed)`` tells each whether it was committed."""

    def __init__(self, notifier: ConfigChangeNotifier, started: list[tuple[Subscription, Generator[Any, bool, Any]]]) -> None:
        self._notifier, self._started = notifier, started

    def finish(self, committed: bool) -> None:
        """Resume every preparer with ``committed`` (in registration order; on abort, in reverse).

        Call with no lock held: the code after a preparer's ``yield`` is user code.
        """
        started, self._started = self._started, []
        for sub, gen in started if committed else reversed(started):
            self._notifier._resume(sub, gen, committed)


class ConfigChangeNotifier:
    """Subscriber registry and delivery (the brief's "Notification Service").

    Args:
        max_dead_letters: how many dead letters ``dead_letters`` keeps.
        handler_timeout: the timeout of a handler registered without one (``None``: no timeout).

    Thread-safety: ``subscribe``/``unsubscribe`` may be called from any thread, including from
    inside a handler. ``publish`` and ``drain`` never hold an internal lock while calling a handler.
    """

    def __init__(self, *, max_dead_letters: int = 100, handler_timeout: float | None = None) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when a handler call ends
        self._running: dict[int, tuple[int, str]] = {}  # call id -> (thread ident, handler name)
        self._abandoned: set[int] = set()  # calls past their timeout: close() does not wait for them
        self._closed = False
        self._subs: PathIndex[Subscription] = PathIndex()
        self._preps: PathIndex[Subscription] = PathIndex()
        self._lanes: list[Any] = []  # every lane created, stopped on close
        self.dead_letters: deque[DeadLetter] = deque(maxlen=max_dead_letters)
        self._queue: deque[_Pending] = deque()
        self._draining = False
        self._error_callbacks: tuple[Callable[[BaseException], Any], ...] = ()
        self.handler_timeout = handler_timeout
        # The loop of async handlers that have none of their own (``bind_loop``).
        self.default_loop: asyncio.AbstractEventLoop | None = None
        _forksafe.register(self)

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called: no handler is called any more."""
        return self._closed

    def close(self, timeout: float = 5.0) -> bool:
        """Stop calling handlers at once; wait up to `timeout` s for calls running on other threads.

        A call on the calling thread (``close()`` from inside a handler) is not waited for, nor is
        a call already abandoned after its timeout (it was reported as a dead letter). Lane
        worker threads are joined within the same `timeout`; change streams end.

        Args:
            timeout: the longest wait for running handler calls.

        Returns:
            ``True`` if no handler call is running on another thread any more; ``False`` if the
            wait gave up (a WARNING names the handlers still running).
        """
        me = threading.get_ident()
        deadline = time.monotonic() + max(0.0, timeout)
        with self._idle:
            self._closed = True
            self._queue.clear()
            while True:
                others = sorted(
                    {name for token, (tid, name) in self._running.items() if tid != me and token not in self._abandoned}
                )
                left = deadline - time.monotonic()
                if not others or left <= 0:
                    break
                self._idle.wait(left)
            lanes = list(self._lanes)
        for lane in lanes:
            lane.stop(deadline)
        if others:
            log.warning(
                "close(): handler %s still running after %.1f s; not waiting any longer "
                "(no other handler call starts)", ", ".join(others), timeout,
            )
            return False
        return True

    def _fork_reset(self) -> None:
        """In a forked child: a fresh lock; calls and lane threads of the parent do not exist here."""
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._running = {}
        self._abandoned = set()
        self._draining = False
        for lane in self._lanes:
            lane._fork_reset()

    # -- registry ------------------------------------------------------------------------
    def subscribe(
        self,
        path: str | Iterable[str],
        callback: Callable[..., Any],
        *,
        style: str = "diff",
        critical: bool = False,
        weak: bool = False,
        on_error: Callable[[BaseException], Any] | None = None,
        timeout: float | None = None,
    ) -> SubscriptionHandle:
        """Register ``callback`` for changes at or under dotted ``path`` (``""`` = everything).

        ``path`` may be several paths: the callback is still called once per version.

        Async callbacks (``async def``) run on the event loop that was running when they were
        subscribed, or on the one bound later (``bind_loop``); without either, to completion on
        the delivering thread (one WARNING at registration says so).

        ``timeout``: seconds a call may take before it is abandoned as a dead letter; ``None``
        uses ``handler_timeout``; ``math.inf`` means none.
        """
        if style not in ("diff", "leaf"):
            raise ValueError(f"unknown style {style!r}")
        sub = self._new(path, callback, style=style, weak=weak)
        sub.critical, sub.on_error = critical, on_error
        timeout = self.handler_timeout if timeout is None else timeout
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, not {timeout!r}")
        sub.timeout = None if timeout is None or math.isinf(timeout) else float(timeout)
        sub.is_async = _is_async(callback)
        if sub.is_async and sub.loop is None and self.default_loop is None:
            log.warning(
                "async handler %s was registered with no event loop running: until a loop is bound "
                "(settings.bind_loop(loop) or handle.bind_loop(loop)) it runs with asyncio.run() on the "
                "thread that delivers each version (the file watcher's, or the caller of reload())", sub.name,
            )
        with self._lock:
            self._subs.add(sub)
        return SubscriptionHandle(self, sub)

    def add_preparer(self, path: str | Iterable[str], callback: Callable[..., Any], *, weak: bool = False) -> SubscriptionHandle:
        """Register a preparer: called with the candidate's [Diff][livesettings.Diff] before each commit.

        See ``prepare``. Async preparers are refused (they run inside the reload pipeline).
        """
        if _is_async(callback) or inspect.isasyncgenfunction(callback):
            raise TypeError(f"preparer {_describe(callback)} must be synchronous (it runs before the commit)")
        sub = self._new(path, callback, style="diff", weak=weak)
        with self._lock:
            self._preps.add(sub)
        return SubscriptionHandle(self, sub)

    def attach(self, path: str | Iterable[str], lane: Any, name: str) -> SubscriptionHandle:
        """Register a lane of our own (a change stream): ``lane.deliver(delivery)`` per matching version."""
        sub = self._new(path, lane.deliver, style="diff", weak=False)
        sub.lane, sub.name = lane, name
        with self._lock:
            self._subs.add(sub)
            self._lanes = [x for x in self._lanes if x.alive()]
            self._lanes.append(lane)
        return SubscriptionHandle(self, sub)

    def _new(self, path: str | Iterable[str], callback: Callable[..., Any], *, style: str, weak: bool) -> Subscription:
        if not callable(callback):
            raise TypeError(f"{callback!r} is not callable")
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        ref: Callable[..., Any] | weakref.WeakMethod[Callable[..., Any]] = callback
        if weak and inspect.ismethod(callback):
            ref = weakref.WeakMethod(callback)
        paths = (path,) if isinstance(path, str) else tuple(path)
        paths = tuple(dict.fromkeys(p.strip(".") for p in paths)) or ("",)
        return Subscription(paths=paths, callback=ref, style=style, loop=loop, name=_describe(callback))

    def unsubscribe(self, handle: SubscriptionHandle) -> None:
        """Remove a subscription or preparer (idempotent)."""
        sub = handle._sub
        with self._lock:
            sub.active = False
            self._subs.remove(sub)
            self._preps.remove(sub)
            lane = sub.lane
        if lane is not None:
            lane.stop(time.monotonic())  # no wait: a worker still in a call is joined by close()

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run every ``async def`` handler that has no loop of its own (or whose loop closed) on ``loop``."""
        self.default_loop = loop

    def loop_for(self, sub: Subscription) -> asyncio.AbstractEventLoop | None:
        """The loop ``sub``'s async calls run on now (``None``: ``asyncio.run`` on the delivering thread)."""
        loop, default = sub.loop, self.default_loop
        if default is not None and (loop is None or (loop.is_closed() and not sub.bound)):
            return default
        return loop

    def on_error(self, callback: Callable[[BaseException], Any]) -> Callable[[], None]:
        """Call ``callback(error)`` after every rejected reload; returns a function that removes it."""
        with self._lock:
            self._error_callbacks = (*self._error_callbacks, callback)

        def remove() -> None:
            with self._lock:
                self._error_callbacks = tuple(c for c in self._error_callbacks if c is not callback)

        return remove

    def __len__(self) -> int:
        with self._lock:
            return len(self._subs.subscriptions()) + len(self._preps.subscriptions())

    # -- before the commit ---------------------------------------------------------------
    def prepare(self, old: Any, new: Any, changes: tuple[Change, ...]) -> Prepared:
        """Run the preparers whose paths ``changes`` touch, in registration order, before a commit.

        A preparer is called with the candidate's [Diff][livesettings.Diff] (its ``version`` is
        ``None``: the version does not exist yet). A generator preparer runs up to its ``yield``
        now and learns the outcome there (see ``Prepared.finish``);
        a plain function only prepares or vetoes. Call inside the pipeline, with no lock held.

        Raises:
            ReloadError: a preparer raised (its ``stage`` is ``"prepare"``); every preparer that had
                prepared was resumed with ``False`` (abort).
            ClosedError: the notifier closed; every preparer that had prepared was aborted.
        """
        started: list[tuple[Subscription, Generator[Any, bool, Any]]] = []
        for sub, found, path in self._preps.match(self._lock, old, new, changes):
            target = sub.target()
            if not sub.active or target is None:
                continue
            token = self.begin(sub.name)
            if token is None:
                Prepared(self, started).finish(False)
                raise ClosedError("the settings object closed while preparing a change")
            try:
                result = target(Diff(path, resolve(old, path), resolve(new, path), found, None))
                if inspect.isgenerator(result):
                    try:
                        next(result)
                    except StopIteration:
                        pass  # prepared, and nothing to hear about the outcome
                    else:
                        started.append((sub, typing.cast("Generator[Any, bool, Any]", result)))
            except Exception as exc:  # noqa: BLE001 - a veto: reported as a rejected candidate
                self.end(token)
                Prepared(self, started).finish(False)
                text = redact_text(repr(exc), [*secret_strings(new), *secret_strings(old)])
                error = ReloadError(f"preparer {sub.name} vetoed the change of {', '.join(c.path for c in found)}: {text}")
                error.stage = "prepare"
                error.preparer = sub.name  # type: ignore[attr-defined]
                raise error from exc
            self.end(token)
        return Prepared(self, started)

    def _resume(self, sub: Subscription, gen: Generator[Any, bool, Any], committed: bool) -> None:
        """Send the outcome into one preparer (after its ``yield``); a failure is a dead letter."""
        try:
            gen.send(committed)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - the version is decided; the failure is reported
            what = "commit" if committed else "abort"
            log.warning("preparer %s failed on %s", sub.name, what, exc_info=(type(exc), exc, exc.__traceback__))
            return
        gen.close()
        log.warning("preparer %s yielded more than once; closed it", sub.name)

    # -- delivery ------------------------------------------------------------------------
    def enqueue(self, version: Version, old: Any, new: Any, changes: tuple[Change, ...]) -> None:
        """Queue a committed version for delivery. Call while still holding the commit lock."""
        self._queue.append(_Pending(version, old, new, changes))

    @property
    def pending(self) -> bool:
        """Whether a committed version waits for delivery (read without the lock: a hint)."""
        return bool(self._queue)

    def drain(self, on_critical: Callable[[Version, DeadLetter], None] | None = None) -> None:
        """Deliver queued versions in order, unless another thread is already doing so."""
        with self._lock:
            if self._draining:
                return
            self._draining = True
        try:
            while True:
                with self._lock:
                    if not self._queue:
                        self._draining = False
                        return
                    item = self._queue.popleft()
                failure = self.publish(item.version, item.old, item.new, item.changes)
                if failure is not None and on_critical is not None:
                    on_critical(item.version, failure)
        except BaseException:
            with self._lock:
                self._draining = False
            raise

    def publish(self, version: Version, old: Any, new: Any, changes: tuple[Change, ...]) -> DeadLetter | None:
        """Deliver one version now; returns the first failure of a critical handler, if any."""
        critical_failure: DeadLetter | None = None
        for sub, found, path in self._subs.match(self._lock, old, new, changes):
            if not sub.active:
                continue
            letter = self._deliver(sub, Delivery(version, old, new, path, found))
            if letter is not None and sub.critical and critical_failure is None:
                critical_failure = letter
        return critical_failure

    def _deliver(self, sub: Subscription, delivery: Delivery) -> DeadLetter | None:
        """One delivery to one subscription: inline, or through its lane."""
        if sub.lane is not None and not isinstance(sub.lane, (ThreadLane, LoopLane)):
            sub.lane.deliver(delivery)  # a change stream of our own
            return None
        if sub.target() is None:  # the owner of a weak method is gone
            return None
        if sub.is_async:
            loop = self.loop_for(sub)
            if loop is not None:
                lane = self._lane(sub, LoopLane)
                try:
                    lane.deliver(delivery, loop)
                except RuntimeError as exc:
                    return self.record(DeadLetter.of(sub.name, sub.paths, delivery.version, exc))
                return None
        if sub.timeout is not None:
            thread_lane: ThreadLane = self._lane(sub, ThreadLane)
            return thread_lane.deliver(delivery)
        letter = None
        for args in calls_for(sub.style, delivery, sub.paths):
            letter = self._call(sub, args, delivery.version) or letter
        return letter

    def _lane(self, sub: Subscription, kind: type[Any]) -> Any:
        lane = sub.lane
        if not isinstance(lane, kind):
            with self._lock:
                lane = sub.lane
                if not isinstance(lane, kind):
                    lane = sub.lane = kind(self, sub, sub.timeout)
                    self._lanes = [x for x in self._lanes if x.alive()]
                    self._lanes.append(lane)
        return lane

    def report_error(self, error: BaseException) -> None:
        """Tell the error callbacks, then the subscriptions that asked, about a rejected reload.

        Called with no lock held. A cancelled subscription is no longer told.
        """
        with self._lock:
            subs = self._subs.subscriptions()
        callbacks = [*self._error_callbacks, *(s.on_error for s in subs if s.on_error is not None)]
        for cb in callbacks:
            token = self.begin(_describe(cb))
            if token is None:
                return
            try:
                cb(error)
            except Exception:  # noqa: BLE001 - an error callback must not break the reload thread
                log.warning("error callback %s failed", _describe(cb), exc_info=True)
            finally:
                self.end(token)

    # -- the lanes' host -----------------------------------------------------------------
    def begin(self, name: str) -> int | None:
        """Count a handler call as running, or return ``None`` if the notifier is closed."""
        with self._lock:
            if self._closed:
                return None
            token = next(_seq)
            self._running[token] = (threading.get_ident(), name)
            return token

    def end(self, token: int) -> None:
        with self._idle:
            self._running.pop(token, None)
            self._abandoned.discard(token)
            self._idle.notify_all()

    def abandon(self, token: int) -> None:
        """A call ran past its timeout: ``close()`` no longer waits for it."""
        with self._idle:
            if token in self._running:
                self._abandoned.add(token)
            self._idle.notify_all()

    def record(self, letter: DeadLetter) -> DeadLetter:
        """Keep ``letter`` and log it at WARNING (with no lock held)."""
        self.dead_letters.append(letter)
        exc = letter.error
        if isinstance(exc, TimeoutError) and "abandoned" in str(exc):
            log.warning("%s", exc)
        else:
            log.warning(
                "handler %s for %s failed on version %s", letter.handler, ",".join(letter.paths) or "*",
                letter.version_id, exc_info=(type(exc), exc, exc.__traceback__),
            )
        return letter

    def run(self, sub: Subscription, delivery: Delivery) -> BaseException | None:
        """Call ``sub`` for ``delivery`` on this thread (a lane's worker); returns the first exception."""
        target = sub.target()
        if not sub.active or target is None:
            return None
        try:
            for args in calls_for(sub.style, delivery, sub.paths):
                result = target(*args)
                if inspect.isawaitable(result):
                    asyncio.run(_as_coroutine(result))
        except Exception as exc:  # noqa: BLE001 - isolate handlers from each other and from the engine
            return exc
        return None

    async def arun(self, sub: Subscription, delivery: Delivery, timeout: float | None) -> BaseException | None:
        """Await ``sub`` for ``delivery`` on its loop (a LoopLane's task); returns the exception, if any."""
        target = sub.target()
        if not sub.active or target is None:
            return None
        try:
            for args in calls_for(sub.style, delivery, sub.paths):
                result = target(*args)
                if inspect.isawaitable(result):
                    if timeout is None:
                        await result
                    else:
                        try:
                            await asyncio.wait_for(_as_coroutine(result), timeout)
                        except asyncio.TimeoutError:  # (not yet the builtin on Python 3.10)
                            return TimeoutError(
                                f"async handler {sub.name} did not finish within {timeout:g} s on version "
                                f"{delivery.version.id}; cancelled"
                            )
        except Exception as exc:  # noqa: BLE001 - isolate handlers from each other and from the engine
            return exc
        return None

    # -- inline calls --------------------------------------------------------------------
    def _call(self, sub: Subscription, args: tuple[Any, ...], version: Version) -> DeadLetter | None:
        target = sub.target()
        if target is None:
            return None
        token = self.begin(sub.name)
        if token is None:
            return None
        try:
            result = target(*args)
            if inspect.isawaitable(result):
                self._run_async(sub, result, version)
        except Exception as exc:  # noqa: BLE001 - isolate handlers from each other and from the engine
            return self.record(DeadLetter.of(sub.name, sub.paths, version, exc))
        finally:
            self.end(token)
        return None

    def _run_async(self, sub: Subscription, awaitable: Any, version: Version) -> None:
        """An awaitable from a handler not known to be async (or with no loop): run it somewhere."""
        loop = self.loop_for(sub)
        if loop is not None:
            deadline = time.monotonic() + LOOP_GRACE_S
            while not loop.is_running() and not loop.is_closed() and time.monotonic() < deadline:
                time.sleep(0.005)  # e.g. between run_until_complete() and run_forever()
            if not loop.is_running():
                if inspect.iscoroutine(awaitable):
                    awaitable.close()  # it will never run: no "never awaited" warning
                state = "closed" if loop.is_closed() else "not running"
                raise RuntimeError(f"the event loop of async handler {sub.name} is {state}; the call was dropped")
            future: Future[Any] = asyncio.run_coroutine_threadsafe(_as_coroutine(awaitable), loop)

            def done(f: Future[Any]) -> None:
                exc = f.exception() if not f.cancelled() else None
                if exc is not None:
                    self.record(DeadLetter.of(sub.name, sub.paths, version, exc))

            future.add_done_callback(done)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:  # delivered inline from code already inside a loop
            task = running.create_task(_as_coroutine(awaitable))
            task.add_done_callback(
                lambda t: None if t.cancelled() or t.exception() is None else self.record(DeadLetter.of(sub.name, sub.paths, version, t.exception()))  # type: ignore[arg-type]
            )
            return
        asyncio.run(_as_coroutine(awaitable))


async def _as_coroutine(awaitable: Any) -> Any:
    return await awaitable


_homes.settle("livesettings", namespace=globals())  # imported on first use: point the public names home


_homes.settle("livesettings.components", ('ConfigChangeNotifier',), globals())  # a component class: its public home
