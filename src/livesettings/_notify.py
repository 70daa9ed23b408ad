"""Change notification: path-prefix subscriptions, ordered delivery, isolation, dead letters.

Subscriptions live in an index keyed by path, so finding who cares about a change costs
O(changes × depth), not O(subscribers). The index is copy-on-write: publishing reads it without
a lock. Delivery runs with no internal lock held, in registration order; one failing handler
is logged with its traceback, lands in ``dead_letters`` and never stops the others.

Versions are delivered in commit order even when several threads commit: whoever commits queues
the notification, and one thread at a time drains the queue (see ``ConfigChangeNotifier.drain``).

Closing: ``close(timeout)`` refuses every handler call from then on (the check and the count of
running calls share one lock, so no call starts after ``close()`` returns) and waits up to
``timeout`` for calls already running on other threads; one still running then is named in a
WARNING. An async handler is handed to its event loop only while that loop runs.
"""

from __future__ import annotations

import asyncio
import bisect
import inspect
import itertools
import logging
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from . import _forksafe
from ._diff import changes_at
from ._model import Change, Diff, Version
from ._paths import prefixes, resolve

__all__ = ["ConfigChangeNotifier", "DeadLetter", "SubscriptionHandle"]

log = logging.getLogger("livesettings.notify")

_seq = itertools.count(1)
_LOOP_GRACE_S = 0.25  # how long a delivery waits for a handler's stopped event loop to run again


@dataclass(eq=False)
class Subscription:
    """One registered handler (internal)."""

    paths: tuple[str, ...]
    callback: Callable[..., Any] | weakref.WeakMethod[Callable[..., Any]]
    style: str  # "diff": callback(Diff); "leaf": callback(path, old, new) once per leaf change
    critical: bool = False
    loop: asyncio.AbstractEventLoop | None = None
    name: str = ""
    on_error: Callable[[BaseException], Any] | None = None  # told about rejected reloads while active
    seq: int = field(default_factory=lambda: next(_seq))
    active: bool = True

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


@dataclass(frozen=True)
class DeadLetter:
    """A notification a handler failed to process.

    Attributes:
        handler: a readable name of the handler.
        paths: the subscribed paths.
        version_id: the version being delivered.
        error: the exception raised.
        traceback: the formatted traceback.
    """

    handler: str
    paths: tuple[str, ...]
    version_id: str
    error: BaseException
    traceback: str


@dataclass
class _Pending:
    version: Version
    old: Any
    new: Any
    changes: tuple[Change, ...]


def _describe(cb: Callable[..., Any]) -> str:
    name = getattr(cb, "__qualname__", None) or type(cb).__qualname__
    return f"{getattr(cb, '__module__', '?')}.{name}"


class ConfigChangeNotifier:
    """Subscriber registry and delivery (the brief's "Notification Service").

    Thread-safety: ``subscribe``/``unsubscribe`` may be called from any thread, including from
    inside a handler. ``publish`` and ``drain`` never hold an internal lock while calling a handler.
    """

    def __init__(self, *, max_dead_letters: int = 100) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when a handler call ends
        self._running: dict[int, tuple[int, str]] = {}  # call id -> (thread ident, handler name)
        self._closed = False
        self._index: dict[str, tuple[Subscription, ...]] = {}
        # The index's paths, sorted (finds subscriptions below a change); rebuilt lazily by
        # publish after the registry changed, so registering n handlers stays O(n log n) overall.
        self._keys: tuple[str, ...] | None = ()
        self.dead_letters: deque[DeadLetter] = deque(maxlen=max_dead_letters)
        self._queue: deque[_Pending] = deque()
        self._draining = False
        self._error_callbacks: tuple[Callable[[BaseException], Any], ...] = ()
        _forksafe.register(self)

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called: no handler is called any more."""
        return self._closed

    def close(self, timeout: float = 5.0) -> bool:
        """Stop calling handlers at once; wait up to `timeout` s for calls running on other threads.

        A call on the calling thread (``close()`` from inside a handler) is not waited for.

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
                others = sorted({name for tid, name in self._running.values() if tid != me})
                left = deadline - time.monotonic()
                if not others or left <= 0:
                    break
                self._idle.wait(left)
        if others:
            log.warning(
                "close(): handler %s still running after %.1f s; not waiting any longer "
                "(no other handler call starts)", ", ".join(others), timeout,
            )
            return False
        return True

    def _fork_reset(self) -> None:
        """In a forked child: a fresh lock; calls that were running in the parent do not exist here."""
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._running = {}
        self._draining = False

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
    ) -> SubscriptionHandle:
        """Register ``callback`` for changes at or under dotted ``path`` (``""`` = everything).

        ``path`` may be several paths: the callback is still called once per version.

        Async callbacks (``async def``) run on the event loop that was running when they were
        subscribed, or, without one, to completion on the delivering thread.
        """
        if style not in ("diff", "leaf"):
            raise ValueError(f"unknown style {style!r}")
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
        sub = Subscription(
            paths=paths, callback=ref, style=style, critical=critical, loop=loop, name=_describe(callback),
            on_error=on_error,
        )
        with self._lock:
            # Mutated in place: publish only looks keys up (never iterates), and each value is
            # an immutable tuple swapped whole, so a concurrent publish sees old or new, never half.
            for p in sub.paths:
                self._index[p] = (*self._index.get(p, ()), sub)
            self._keys = None
        return SubscriptionHandle(self, sub)

    def unsubscribe(self, handle: SubscriptionHandle) -> None:
        """Remove a subscription (idempotent)."""
        sub = handle._sub
        with self._lock:
            sub.active = False
            for p in sub.paths:
                rest = tuple(s for s in self._index.get(p, ()) if s is not sub)
                if rest:
                    self._index[p] = rest
                else:
                    self._index.pop(p, None)
            self._keys = None

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
            return len({s.seq for subs in self._index.values() for s in subs})

    # -- delivery ------------------------------------------------------------------------
    def enqueue(self, version: Version, old: Any, new: Any, changes: tuple[Change, ...]) -> None:
        """Queue a committed version for delivery. Call while still holding the commit lock."""
        self._queue.append(_Pending(version, old, new, changes))

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
        index, keys = self._index, self._keys
        if keys is None:
            with self._lock:
                keys = self._keys = tuple(sorted(self._index)) if self._keys is None else self._keys
        matched: dict[int, tuple[Subscription, list[Change], str]] = {}

        def match(sub: Subscription, change: Change, prefix: str) -> None:
            entry = matched.get(sub.seq)
            if entry is None:
                matched[sub.seq] = (sub, [change], prefix)
            elif entry[1][-1] is not change:
                entry[1].append(change)

        for change in changes:
            for prefix in prefixes(change.path):
                for sub in index.get(prefix, ()):
                    match(sub, change, prefix)
            # Subscriptions *below* a leaf change (``hosts.0`` under a list, ``a.b`` under a value
            # that became a mapping): the change seen from their path, if their value changed.
            below = change.path + "."
            for i in range(bisect.bisect_left(keys, below), len(keys)):
                key = keys[i]
                if not key.startswith(below):
                    break
                subs = index.get(key, ())
                if subs:
                    for sub_change in changes_at(key, old, new):
                        for sub in subs:
                            match(sub, sub_change, key)
        critical_failure: DeadLetter | None = None
        for seq in sorted(matched):
            sub, subchanges, path = matched[seq]
            if not sub.active:
                continue
            target = sub.target()
            if target is None:  # the owner of a weak method is gone
                continue
            if sub.style == "diff":
                diff = Diff(path, resolve(old, path), resolve(new, path), tuple(subchanges), version)
                calls: list[tuple[Any, ...]] = [(diff,)]
            else:
                calls = [(c.path, c.old_value, c.new_value) for c in subchanges]
            for args in calls:
                letter = self._call(sub, target, args, version)
                if letter is not None and sub.critical and critical_failure is None:
                    critical_failure = letter
        return critical_failure

    def report_error(self, error: BaseException) -> None:
        """Tell the error callbacks, then the subscriptions that asked, about a rejected reload.

        Called with no lock held. A cancelled subscription is no longer told.
        """
        with self._lock:
            subs = sorted({s.seq: s for subs in self._index.values() for s in subs if s.on_error}.items())
        callbacks = [*self._error_callbacks, *(s.on_error for _, s in subs if s.on_error is not None)]
        for cb in callbacks:
            token = self._begin(_describe(cb))
            if token is None:
                return
            try:
                cb(error)
            except Exception:  # noqa: BLE001 - an error callback must not break the reload thread
                log.warning("error callback %s failed", _describe(cb), exc_info=True)
            finally:
                self._end(token)

    def _begin(self, name: str) -> int | None:
        """Count a handler call as running, or return ``None`` if the notifier is closed."""
        with self._lock:
            if self._closed:
                return None
            token = next(_seq)
            self._running[token] = (threading.get_ident(), name)
            return token

    def _end(self, token: int) -> None:
        with self._idle:
            self._running.pop(token, None)
            self._idle.notify_all()

    def _call(self, sub: Subscription, target: Callable[..., Any], args: tuple[Any, ...], version: Version) -> DeadLetter | None:
        token = self._begin(sub.name)
        if token is None:
            return None
        try:
            result = target(*args)
            if inspect.isawaitable(result):
                self._run_async(sub, result, version)
        except Exception as exc:  # noqa: BLE001 - isolate handlers from each other and from the engine
            return self._dead_letter(sub, version, exc)
        finally:
            self._end(token)
        return None

    def _dead_letter(self, sub: Subscription, version: Version, exc: BaseException) -> DeadLetter:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        letter = DeadLetter(sub.name, sub.paths, version.id, exc, tb)
        self.dead_letters.append(letter)
        log.warning(
            "handler %s for %s failed on version %s", sub.name, ",".join(sub.paths) or "*", version.id,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        return letter

    def _run_async(self, sub: Subscription, awaitable: Any, version: Version) -> None:
        loop = sub.loop
        if loop is not None:
            deadline = time.monotonic() + _LOOP_GRACE_S
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
                    self._dead_letter(sub, version, exc)

            future.add_done_callback(done)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:  # delivered inline from code already inside a loop
            task = running.create_task(_as_coroutine(awaitable))
            task.add_done_callback(
                lambda t: None if t.cancelled() or t.exception() is None else self._dead_letter(sub, version, t.exception())  # type: ignore[arg-type]
            )
            return
        asyncio.run(_as_coroutine(awaitable))


async def _as_coroutine(awaitable: Any) -> Any:
    return await awaitable
