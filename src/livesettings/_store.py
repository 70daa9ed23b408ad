"""The current version (one reference, swapped at commit) and the reload counters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._model import Version

__all__ = ["AtomicConfigStore", "ReloadMetrics"]


class AtomicConfigStore:
    """The current version, swapped by one reference assignment (the brief's "Thread-Safe Store").

    Readers take ``store.current`` without a lock and get an immutable snapshot; only the engine
    writes, under its commit lock. ``publish`` is called inside the swap to move the façade's
    attribute dict along with it.
    """

    __slots__ = ("_publish", "current")

    def __init__(self, publish: Callable[[Version], None] | None = None) -> None:
        self.current: Version | None = None
        self._publish = publish

    @property
    def snapshot(self) -> Any:
        """The current validated snapshot (``None`` before the first load)."""
        current = self.current
        return current.snapshot if current is not None else None

    def swap(self, version: Version) -> None:
        """Make ``version`` current."""
        self.current = version
        if self._publish is not None:
            self._publish(version)


@dataclass
class ReloadMetrics:
    """Counters for dashboards and health checks (read them; the engine writes them)."""

    attempted: int = 0
    applied: int = 0
    rejected: int = 0
    unchanged: int = 0
    skipped_by_breaker: int = 0
    consecutive_failures: int = 0
    breaker_state: str = "closed"
    last_reload_ms: float = 0.0
    last_good_version: str | None = None
