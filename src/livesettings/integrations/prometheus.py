"""Prometheus metrics for settings objects: a prometheus-client collector built from ``stats()``.

Needs the ``prometheus`` extra (``pip install livesettings[prometheus]``). The collector reads
[ReloadStats][livesettings.ReloadStats] at each scrape; nothing is recorded twice and nothing
runs between scrapes.

Metrics (each with a ``settings`` label naming the object):

| name | type | labels | what |
| --- | --- | --- | --- |
| ``livesettings_reloads_total`` | counter | ``result`` | reloads by result: ``applied``, ``rejected``, ``unchanged``, ``skipped_by_breaker`` |
| ``livesettings_config_version`` | gauge | | number of the version served (the last good one) |
| ``livesettings_last_success_timestamp_seconds`` | gauge | | Unix time of the last load or reload that succeeded |
| ``livesettings_consecutive_failures`` | gauge | | rejected reloads in a row |
| ``livesettings_breaker_open`` | gauge | | 1 while the circuit breaker holds feed-triggered reloads back |
| ``livesettings_breaker_state`` | gauge | ``state`` | 1 for the breaker's state (``closed``, ``open``, ``half-open``), 0 for the others |
| ``livesettings_feed_up`` | gauge | ``feed`` | 1 while a change feed (``files``, ``etcd:...``) delivers changes |
| ``livesettings_reload_duration_seconds`` | histogram | | how long reloads took (load, validation, plan, commit) |

Example:
    ```python
    from prometheus_client import start_http_server
    from livesettings.integrations.prometheus import SettingsCollector

    SettingsCollector(settings)                         # registers with prometheus_client.REGISTRY
    SettingsCollector({"web": web, "jobs": jobs})       # several objects: one collector, named
    start_http_server(9100)
    ```

Added in 0.3.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from typing import Any

try:
    from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
    from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry
except ImportError as exc:
    raise ImportError(
        "livesettings.integrations.prometheus needs prometheus-client: pip install 'livesettings[prometheus]'"
    ) from exc

from .._stats import ReloadStats

__all__ = ["SettingsCollector"]

_BREAKER_STATES = ("closed", "open", "half-open")


def _stats_of(target: Any) -> Any:
    """The ``stats`` method of a settings object, or of a provider's ``hot_reload`` manager."""
    stats = getattr(target, "stats", None)
    if callable(stats):
        return stats
    manager = getattr(target, "hot_reload", None)
    stats = getattr(manager, "stats", None)
    if callable(stats):
        return stats
    raise TypeError(f"{target!r} is not a livesettings settings object or provider (it has no stats())")


class SettingsCollector(Collector):
    """Exports the [stats][livesettings.ReloadableSettings.stats] of one or more settings objects.

    Args:
        settings: a [ReloadableSettings][livesettings.ReloadableSettings] object (or a provider),
            labelled with its class name, or a mapping ``{label: object}`` for several. More can
            be added later with [add][livesettings.integrations.prometheus.SettingsCollector.add].
        registry: the registry to register with; ``None`` registers nowhere (call
            ``registry.register(collector)`` yourself). As with prometheus-client's own
            collectors, the default is the global ``REGISTRY``. Export several objects through
            one collector: a registry refuses two collectors with the same metric names.

    Raises:
        ValueError: two objects would get the same label.
        TypeError: an object has no ``stats()``.

    Thread-safety: ``collect`` may run on the scrape thread while the settings reload; each
    object's numbers come from one ``stats()`` call (no lock is taken).

    Added in 0.3.
    """

    def __init__(self, settings: Any = None, *, registry: CollectorRegistry | None = REGISTRY) -> None:
        self._targets: dict[str, Any] = {}
        if isinstance(settings, Mapping):
            for name, target in settings.items():
                self.add(target, name=name)
        elif settings is not None:
            self.add(settings)
        if registry is not None:
            registry.register(self)

    def add(self, settings: Any, *, name: str | None = None) -> None:
        """Export ``settings`` too, labelled ``name`` (default: its class name).

        Raises:
            ValueError: the label is taken.
            TypeError: ``settings`` has no ``stats()``.
        """
        stats = _stats_of(settings)
        label = name if name is not None else stats().name
        if label in self._targets:
            raise ValueError(
                f"a settings object labelled {label!r} is exported already; give each a name: "
                f"SettingsCollector({{'web': web, 'jobs': jobs}}) or add(obj, name=...)"
            )
        self._targets[label] = stats

    def describe(self) -> Iterator[Metric]:
        """The metric families without samples (so a registry checks names without a scrape)."""
        return iter(_families())

    def collect(self) -> Iterator[Metric]:
        """One scrape: every metric family, one sample set per settings object."""
        families = _families()
        reloads, version, success, failures, is_open, state, feed_up, duration = families
        now = time.time()
        for label, stats_fn in list(self._targets.items()):
            stats: ReloadStats = stats_fn()
            for result, count in stats.reloads.items():
                reloads.add_metric([label, result], count)
            version.add_metric([label], stats.version)
            success.add_metric([label], now - stats.seconds_since_success)
            failures.add_metric([label], stats.consecutive_failures)
            is_open.add_metric([label], 1.0 if stats.breaker_open else 0.0)
            for name in _BREAKER_STATES:
                state.add_metric([label, name], 1.0 if stats.breaker_state == name else 0.0)
            for feed in stats.feeds:
                feed_up.add_metric([label, feed.name], 1.0 if feed.up else 0.0)
            hist = stats.reload_duration
            duration.add_metric(
                [label], [(_le(bound), float(count)) for bound, count in hist.buckets], hist.sum
            )
        return iter(families)

    def __repr__(self) -> str:
        return f"<SettingsCollector {sorted(self._targets)}>"


def _le(bound: float) -> str:
    """A bucket bound as prometheus-client writes it (``0.005``, ``1.0``, ``+Inf``)."""
    return "+Inf" if math.isinf(bound) else repr(bound)


def _families() -> tuple[Any, ...]:
    return (
        CounterMetricFamily(
            "livesettings_reloads", "Reloads of the settings by result (applied, rejected, unchanged, skipped_by_breaker).",
            labels=["settings", "result"],
        ),
        GaugeMetricFamily(
            "livesettings_config_version", "Number of the config version served (the last good one).", labels=["settings"]
        ),
        GaugeMetricFamily(
            "livesettings_last_success_timestamp_seconds", "Unix time of the last load or reload that succeeded.",
            labels=["settings"],
        ),
        GaugeMetricFamily(
            "livesettings_consecutive_failures", "Rejected reloads in a row.", labels=["settings"]
        ),
        GaugeMetricFamily(
            "livesettings_breaker_open", "1 while the circuit breaker holds feed-triggered reloads back.",
            labels=["settings"],
        ),
        GaugeMetricFamily(
            "livesettings_breaker_state", "1 for the circuit breaker's current state, 0 for the others.",
            labels=["settings", "state"],
        ),
        GaugeMetricFamily(
            "livesettings_feed_up", "1 while a change feed delivers changes, 0 when it is degraded or stopped.",
            labels=["settings", "feed"],
        ),
        HistogramMetricFamily(
            "livesettings_reload_duration_seconds", "How long reloads took: load, validation, plan and commit.",
            labels=["settings"],
        ),
    )

