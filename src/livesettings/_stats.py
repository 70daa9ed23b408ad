"""What ``settings.stats()`` returns: reload counts, the version served, breaker and feed state,
and the reload-duration histogram (recorded here, one immutable value per reload).

Pure values with no dependencies inside the package: the engine's counters
([ReloadMetrics][livesettings.components.ReloadMetrics]) hold a
[Durations][livesettings._stats.Durations] and replace it once per reload; ``stats()`` reads it
with one reference read, so a reader never sees a half-recorded reload and needs no lock.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import _homes

__all__ = ["DURATION_BUCKETS", "DurationHistogram", "Durations", "FeedStats", "ReloadStats"]

DURATION_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)
"""Upper bounds (seconds) of the reload-duration histogram's buckets; a last ``+Inf`` bucket follows."""


@dataclass(frozen=True)
class Durations:
    """The histogram's raw state: per-bucket counts (not cumulative; the last is ``+Inf``) and the sum.

    Immutable: recording a reload makes a new one (``observed``), so readers take it whole.
    """

    counts: tuple[int, ...] = (0,) * (len(DURATION_BUCKETS) + 1)
    total: float = 0.0

    def observed(self, seconds: float) -> Durations:
        """This histogram plus one reload that took ``seconds``."""
        i = bisect_left(DURATION_BUCKETS, seconds)  # a value equal to a bound falls in that bucket (le)
        counts = self.counts[:i] + (self.counts[i] + 1,) + self.counts[i + 1:]
        return Durations(counts, self.total + seconds)

    def histogram(self) -> DurationHistogram:
        """The cumulative (Prometheus-style) view."""
        cumulative, running = [], 0
        for bound, count in zip((*DURATION_BUCKETS, float("inf")), self.counts):
            running += count
            cumulative.append((bound, running))
        return DurationHistogram(tuple(cumulative), running, self.total)


@dataclass(frozen=True)
class DurationHistogram:
    """How long reloads took, in fixed buckets, like a Prometheus histogram.

    Attributes:
        buckets: ``(upper bound in seconds, reloads that took at most that long)`` pairs in
            increasing order; the counts are cumulative and the last bound is ``inf``.
        count: reloads measured (equal to the last bucket's count).
        sum: their total duration in seconds.

    A reload is measured from the digest of the inputs to the commit (load, validation, plan,
    preparers), not the handlers that run after it. A reload held back by the open circuit
    breaker is not measured.

    Added in 0.3.
    """

    buckets: tuple[tuple[float, int], ...]
    count: int
    sum: float


@dataclass(frozen=True)
class FeedStats:
    """The state of one change feed (file watching, an etcd watch ...).

    Attributes:
        name: the feed's key: ``"files"`` for file watching, ``"etcd:<endpoint>/<prefix>"`` ...
        state: ``"new"`` (not started yet), ``"running"``, ``"degraded"`` (lost its backend; the
            last good config keeps serving) or ``"closed"``.
        up: whether the feed is delivering changes (``state == "running"``).
        status: the feed's own status value, such as a [WatchStatus][livesettings.watch.WatchStatus]
            (``None`` before it started).

    Added in 0.3.
    """

    name: str
    state: str
    up: bool
    status: Any = None


@dataclass(frozen=True)
class ReloadStats:
    """A moment's view of one settings object's reloads, from ``settings.stats()``.

    Counters only grow while the object lives; read them as Prometheus counters (rates and
    increases), or use [livesettings.integrations.prometheus][livesettings.integrations.prometheus].

    Attributes:
        name: the settings object's name (its class's qualified name).
        attempted: reloads that ran (manual or from a feed).
        applied: reloads (and overrides, rollbacks) that made a new version.
        rejected: reloads whose candidate was rejected by validation, a change rule or a
            preparer's veto (a feed firing again on the same rejected bytes is neither validated
            nor counted again).
        unchanged: reloads (and overrides, rollbacks) that found nothing new to serve.
        skipped_by_breaker: feed-triggered reloads held back by the open circuit breaker.
        version: the number of the version served, the last good one
            ([Version.number][livesettings.Version]).
        version_id: its id.
        seconds_since_success: seconds (monotonic clock) since the last reload that succeeded
            (applied or found nothing new), or since the initial load if none did yet.
        consecutive_failures: rejected reloads in a row.
        breaker_state: ``"closed"``, ``"open"`` or ``"half-open"``.
        feeds: the change feeds being followed, by name (none while hot reload is off).
        reload_duration: the [DurationHistogram][livesettings.DurationHistogram] of reloads.

    Added in 0.3.
    """

    name: str
    attempted: int
    applied: int
    rejected: int
    unchanged: int
    skipped_by_breaker: int
    version: int
    version_id: str
    seconds_since_success: float
    consecutive_failures: int
    breaker_state: str
    feeds: tuple[FeedStats, ...]
    reload_duration: DurationHistogram

    @property
    def reloads(self) -> Mapping[str, int]:
        """The reload counts by result: ``applied``, ``rejected``, ``unchanged``, ``skipped_by_breaker``."""
        return {
            "applied": self.applied, "rejected": self.rejected, "unchanged": self.unchanged,
            "skipped_by_breaker": self.skipped_by_breaker,
        }

    @property
    def breaker_open(self) -> bool:
        """Whether the circuit breaker holds feed-triggered reloads back now."""
        return self.breaker_state == "open"


_homes.settle("livesettings", namespace=globals())  # imported on first use: point the public names home
