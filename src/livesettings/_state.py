"""The lifecycle state shared by every object that owns a thread (watchers, feeds, the engine)."""

from __future__ import annotations

from enum import Enum

__all__ = ["State"]


class State(Enum):
    """Lifecycle of a thread-owning object (a watcher, an engine)."""

    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"
