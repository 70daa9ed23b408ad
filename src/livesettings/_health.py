"""What an engine tells health checks: counters, the last rejection, the circuit breaker.

One object per engine, written only under the engine's lock: it counts attempts and results,
remembers why the last candidate was rejected (and which input digests were rejected before, so
a feed that fires again on the same bytes neither re-validates nor re-logs them), and drives the
[circuit breaker][livesettings._breaker.CircuitBreaker]. Its log records go through the engine's
[DeferredLog][livesettings._store.DeferredLog], emitted once the locks are let go.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from ._breaker import CircuitBreaker
from ._config import ReloadConfig
from ._model import Version
from ._stats import FeedStats, ReloadStats
from ._store import DeferredLog, ReloadMetrics
from .exceptions import ReloadError

__all__ = ["Health"]

log = logging.getLogger("livesettings")
audit = logging.getLogger("livesettings.audit")

_MAX_REMEMBERED_REJECTIONS = 32


class Health:
    """Counters, ``last_error``, the rejected-digest cache and the breaker of one engine."""

    def __init__(
        self, name: str, config: ReloadConfig, logs: DeferredLog, *,
        clock: Callable[[], float], schedule: Callable[[float, Callable[[], None]], Any],
    ) -> None:
        self.name = name
        self.metrics = ReloadMetrics()
        self.breaker = CircuitBreaker(config.failure_threshold, config.breaker_cooldown_s)
        self.last_error: ReloadError | None = None
        self._logs, self._clock, self._schedule = logs, clock, schedule
        self._rejected: OrderedDict[str, ReloadError] = OrderedDict()

    def blocked(self, retry: Callable[[], None]) -> bool:
        """Whether an open breaker holds a feed-triggered reload back (then ``retry`` is armed
        for the end of the cool-down); otherwise count the attempt."""
        wait = self.breaker.blocks(self._clock())
        if wait is not None:
            self.metrics.skipped_by_breaker += 1
            self.breaker.arm(wait, retry, self._schedule)
            self._sync()
            return True
        return False

    def known(self, digest: str) -> ReloadError | None:
        """The rejection of inputs with this ``digest`` seen before (it becomes ``last_error``)."""
        known = self._rejected.get(digest)
        if known is not None:
            self.last_error = known
        return known

    def succeeded(self, digest: str | None = None) -> None:
        """An attempt (or the initial load) was accepted, or found nothing new."""
        self.metrics.last_success = self._clock()
        self.last_error = None
        if digest is not None:
            self._rejected.pop(digest, None)
        self.breaker.succeeded()
        self._sync()

    def failed(self, exc: ReloadError, digest: str | None, last_good: str | None) -> None:
        """An attempt was rejected: remember why, audit it, and maybe open the breaker."""
        self.last_error = exc
        self.metrics.rejected += 1
        if digest is not None:
            self._rejected[digest] = exc
            while len(self._rejected) > _MAX_REMEMBERED_REJECTIONS:
                self._rejected.popitem(last=False)
        self._logs.add(audit, logging.WARNING, "%s: rejected a candidate config, still serving %s: %s", self.name, last_good, exc)
        if self.breaker.failed(self._clock()):
            self._logs.add(
                log, logging.WARNING, "%s: %d rejected reloads in a row; pausing feed-triggered reloads for %.1f s",
                self.name, self.breaker.failures, self.breaker.cooldown_s,
            )
        self._sync()

    def half_open(self) -> None:
        """The cool-down ended: the next attempt is the half-open try."""
        self.breaker.retry = None
        self.breaker.half_open()
        self._sync()

    def stats(self, current: Version | None, feeds: Mapping[str, Any]) -> ReloadStats:
        """A frozen copy of the counters, for ``settings.stats()`` (no lock: a moment's view).

        Args:
            current: the version served.
            feeds: the status of each running change feed, by name.
        """
        m = self.metrics
        success = m.last_success
        return ReloadStats(
            name=self.name, attempted=m.attempted, applied=m.applied, rejected=m.rejected,
            unchanged=m.unchanged, skipped_by_breaker=m.skipped_by_breaker,
            version=current.number if current is not None else 0,
            version_id=current.id if current is not None else "",
            seconds_since_success=max(0.0, self._clock() - success) if success is not None else 0.0,
            consecutive_failures=m.consecutive_failures, breaker_state=m.breaker_state,
            feeds=tuple(_feed_stats(name, feeds[name]) for name in sorted(feeds)),
            reload_duration=m.durations.histogram(),
        )

    def _sync(self) -> None:
        self.metrics.consecutive_failures = self.breaker.failures
        self.metrics.breaker_state = self.breaker.state.value


def _feed_stats(name: str, status: Any) -> FeedStats:
    state = getattr(status, "state", None) if status is not None else None
    state = str(getattr(state, "value", state) or "new")  # a str, or an enum of them
    return FeedStats(name, state, state == "running", status)
