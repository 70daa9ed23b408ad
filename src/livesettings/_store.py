"""The current version (one reference, swapped at commit), the reload counters, and the log
records an engine holds back until its locks are let go."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import _forksafe, _homes
from ._model import Version
from ._stats import Durations

__all__ = ["AtomicConfigStore", "DeferredLog", "ReloadMetrics"]


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
    """Counters for dashboards and health checks (read them; the engine writes them).

    ``settings.stats()`` gives a frozen copy of them with the duration histogram; this object is
    the live, mutable one. ``last_success`` is the engine clock's (monotonic) time of the last
    load or reload that succeeded.

    Changed in 0.3: ``last_success`` and ``durations``.
    """

    attempted: int = 0
    applied: int = 0
    rejected: int = 0
    unchanged: int = 0
    skipped_by_breaker: int = 0
    consecutive_failures: int = 0
    breaker_state: str = "closed"
    last_reload_ms: float = 0.0
    last_good_version: str | None = None
    last_success: float | None = None
    durations: Durations = field(default_factory=Durations)

    def observe(self, seconds: float) -> None:
        """Record one reload's duration (only the reloading thread, inside the pipeline, calls it)."""
        self.last_reload_ms = seconds * 1000
        self.durations = self.durations.observed(seconds)  # one reference: readers take it whole


class DeferredLog:
    """Log records and new versions made while a lock is held, handed on after it is released.

    Logging handlers and version recorders (a history file ...) are user code, and user code
    never runs under an engine's lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[tuple[logging.Logger, int, str, tuple[Any, ...]]] = []
        self._versions: list[Version] = []
        self.recorders: list[Callable[[Version], None]] = []
        _forksafe.register(self)

    def add(self, logger: logging.Logger, level: int, msg: str, *args: Any) -> None:
        """Queue one record."""
        with self._lock:
            self._records.append((logger, level, msg, args))

    def record(self, version: Version) -> None:
        """Queue a new version for the recorders (nothing to do without any)."""
        if self.recorders:
            with self._lock:
                self._versions.append(version)

    def flush(self) -> None:
        """Emit the queued records, then hand the queued versions to the recorders, in order
        (call with no lock held)."""
        with self._lock:
            records, self._records = self._records, []
            versions, self._versions = self._versions, []
        for logger, level, msg, args in records:
            if logger.isEnabledFor(level):
                logger.log(level, msg, *args)
        for version in versions:
            for recorder in list(self.recorders):
                try:
                    recorder(version)
                except Exception:  # noqa: BLE001 - a recorder must not break the reload
                    logging.getLogger("livesettings").warning("recording version %s failed", version.id, exc_info=True)

    def _fork_reset(self) -> None:
        """In a forked child: a fresh lock, and nothing the parent had queued."""
        self._lock = threading.Lock()
        self._records, self._versions = [], []


_homes.settle("livesettings.components", ('AtomicConfigStore', 'ReloadMetrics'), globals())  # a component class: its public home
