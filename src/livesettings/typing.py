"""Protocols for the things users write: change handlers, subscribers, error callbacks.

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from ._changes import Diff

__all__ = ["AsyncChangeHandler", "ChangeHandler", "ErrorCallback", "LeafSubscriber"]


class ChangeHandler(Protocol):
    """Called by ``settings.watch(path, handler)`` and ``@on_change`` methods with one [Diff][livesettings.Diff] per version."""

    def __call__(self, diff: Diff, /) -> Any: ...


class AsyncChangeHandler(Protocol):
    """An ``async def`` change handler; it runs on the event loop it was registered from."""

    def __call__(self, diff: Diff, /) -> Awaitable[Any]: ...


class LeafSubscriber(Protocol):
    """The original brief's subscriber callable: called once per leaf change at or under its path."""

    def __call__(self, path: str, old_value: Any, new_value: Any, /) -> Any: ...


class ErrorCallback(Protocol):
    """Called with the [ReloadError][livesettings.ReloadError] of every rejected reload."""

    def __call__(self, error: BaseException, /) -> Any: ...
