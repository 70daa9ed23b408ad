"""Protocols for the things users write: change handlers, preparers, subscribers, error callbacks, change feeds.

Added in 0.1. ``ChangeFeed`` added in 0.2. ``Preparer`` and ``Preparation`` added in 0.3.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, Protocol

from typing_extensions import TypeAlias

from ._model import Diff
from ._model import ReloadOutcome as ReloadOutcome

__all__ = [
    "AsyncChangeHandler", "ChangeFeed", "ChangeHandler", "ErrorCallback", "LeafSubscriber", "Preparation", "Preparer",
    "ReloadOutcome",
]


class ChangeHandler(Protocol):
    """Called by ``settings.watch(path, handler)`` and ``@on_change`` methods with one [Diff][livesettings.Diff] per version."""

    def __call__(self, diff: Diff, /) -> Any: ...


class AsyncChangeHandler(Protocol):
    """An ``async def`` change handler; it runs on the event loop it was registered from."""

    def __call__(self, diff: Diff, /) -> Awaitable[Any]: ...


Preparation: TypeAlias = Generator[None, bool, None]
"""The return type of a generator preparer: it yields once, and the ``yield`` evaluates to whether
the version was committed (``True``) or not (``False``, another preparer vetoed it)."""


class Preparer(Protocol):
    """``@on_change(..., prepare=True)`` or ``watch(..., prepare=True)``: runs before a version is committed.

    Called with the candidate's [Diff][livesettings.Diff] (``diff.version`` is ``None``) on the
    reloading thread, inside the reload pipeline, with no lock held. Raising vetoes the version.
    A generator ([Preparation][livesettings.typing.Preparation]) prepares up to its ``yield`` and
    learns there whether the version was committed; a plain function only prepares or vetoes.
    """

    def __call__(self, diff: Diff, /) -> Preparation | None: ...


class LeafSubscriber(Protocol):
    """The original brief's subscriber callable: called once per leaf change at or under its path."""

    def __call__(self, path: str, old_value: Any, new_value: Any, /) -> Any: ...


class ErrorCallback(Protocol):
    """Called with the [ReloadError][livesettings.ReloadError] of every rejected reload."""

    def __call__(self, error: BaseException, /) -> Any: ...


class ChangeFeed(Protocol):
    """Something that says when a source *may* have changed while the process runs.

    A feed never decides whether the config changed: it calls ``on_change()`` and the engine
    compares the sources' digests, so a spurious call costs one digest and nothing else. File
    watching is one feed ([FileFeed][livesettings.watch.FileFeed]); an etcd watch is another.

    ``start`` runs once; ``on_change`` is called from the feed's own thread, never concurrently
    with itself, and may run a whole reload (handlers included) before it returns. ``close`` is
    idempotent, joins the feed's threads, and no ``on_change`` call starts after it returned.
    ``status`` is a small immutable value describing the feed's health (its ``state`` attribute
    says ``"new"``, ``"running"`` or ``"closed"``; a feed that lost its backend may say
    ``"degraded"``), or ``None`` before ``start``.

    A feed may also define ``report(outcome)``: the engine then calls it after every reload
    attempt with a [ReloadOutcome][livesettings.typing.ReloadOutcome] (an etcd feed writes its
    ACK/NACK record from it). It runs on the thread that reloaded, with no lock held.

    Added in 0.2.
    """

    def start(self, on_change: Callable[[], None], /) -> None: ...

    def close(self) -> None: ...

    @property
    def status(self) -> Any: ...
