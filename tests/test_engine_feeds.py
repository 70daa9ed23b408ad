"""The engine driven through its seams alone: an in-memory source with a fake change feed, a fake
clock and a fake timer. No files, no threads: every step happens on the test's thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from livesettings import Diff, ReloadableSettings, ReloadConfig
from livesettings._engine import Engine
from livesettings._model import ReloadOutcome
from livesettings._sources import current_context
from livesettings.exceptions import ClosedError


class Store:
    """The in-memory backend: a dict and a revision that moves on every write."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.revision = 1

    def put(self, **values: Any) -> None:
        self.data = {**self.data, **values}
        self.revision += 1


class FakeFeed:
    """A ChangeFeed the test fires by hand; records its lifecycle and the outcomes it was told."""

    def __init__(self) -> None:
        self.on_change: Callable[[], None] | None = None
        self.closed = False
        self.outcomes: list[ReloadOutcome] = []

    def start(self, on_change: Callable[[], None], /) -> None:
        if self.closed:
            raise ClosedError("fake feed is closed")
        self.on_change = on_change

    def fire(self) -> None:
        assert self.on_change is not None, "the engine did not start the feed"
        self.on_change()

    def close(self) -> None:
        self.closed = True

    @property
    def status(self) -> Any:
        return {"state": "closed" if self.closed else "running"}

    def report(self, outcome: ReloadOutcome) -> None:
        self.outcomes.append(outcome)


class MemorySource(PydanticBaseSettingsSource):
    """A custom pydantic-settings source over a Store, registering its input and feed on each load."""

    store: Store
    feed: FakeFeed

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        ctx = current_context()
        if ctx is not None:
            store = self.store
            ctx.add_input("memory:test", str(store.revision), lambda: str(store.revision))
            ctx.add_feed("memory:test", lambda: self.feed)
        return dict(self.store.data)


class Limits(BaseModel):
    rate: int = Field(10, ge=1)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Timers:
    """``schedule(delay, callback)`` that only records; the test runs the callback when it likes."""

    def __init__(self) -> None:
        self.armed: list[tuple[float, Callable[[], None], Any]] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> Any:
        handle = _Handle()
        self.armed.append((delay, callback, handle))
        return handle


class _Handle:
    cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


@pytest.fixture
def rig() -> Iterator[tuple[Engine, Store, FakeFeed, Clock, Timers]]:
    """An engine over an in-memory source, watching on, with a fake clock and timers."""
    store, feed = Store({"name": "a", "limits": {"rate": 10}}), FakeFeed()

    class App(ReloadableSettings):
        reload_config = ReloadConfig(enabled=True, failure_threshold=2, breaker_cooldown_s=5.0)
        name: str = ""
        limits: Limits = Limits()

        @classmethod
        def settings_customise_sources(cls, settings_cls: type[BaseSettings], *args: Any, **kwargs: Any) -> Any:
            source = MemorySource(settings_cls)
            source.store, source.feed = store, feed
            return (source,)

    clock, timers = Clock(), Timers()
    threads = threading.active_count()
    engine = Engine(App.__snapshot__, {}, App.reload_config, name="App", clock=clock, schedule=timers)
    engine.start()
    try:
        yield engine, store, feed, clock, timers
        assert threading.active_count() == threads, "the engine started a thread"
    finally:
        engine.close()


class TestFeedDrivenPipeline:
    """A feed firing runs the one pipeline; digests decide whether anything is loaded."""

    def test_the_engine_starts_the_feed_a_source_asked_for(self, rig: Any) -> None:
        """The source's ``add_feed`` on the first load makes the engine start that feed (and no file feed)."""
        engine, _, feed, _, _ = rig
        assert feed.on_change is not None
        assert "memory:test" in engine.feeds and "files" not in engine.feeds

    def test_a_spurious_fire_changes_nothing(self, rig: Any) -> None:
        """A fire with the same input digest is no version, counted as unchanged, reported as such."""
        engine, _, feed, _, _ = rig
        feed.fire()
        assert len(engine.history) == 1 and engine.metrics.unchanged == 1
        assert feed.outcomes[-1].result == "unchanged" and feed.outcomes[-1].inputs == {"memory:test": "1"}

    def test_a_write_then_fire_commits_one_version_and_notifies(self, rig: Any) -> None:
        """The new content becomes a version with source ``memory``; handlers get the diff; the feed its ACK."""
        engine, store, feed, _, _ = rig
        diffs: list[Diff] = []
        engine.notifier.subscribe("limits", diffs.append)
        store.put(limits={"rate": 20})
        feed.fire()
        version = engine.store.current
        assert version.source == "memory" and [c.path for c in version.changes] == ["limits.rate"]
        assert [d.new_value.rate for d in diffs] == [20]
        assert feed.outcomes[-1] == ReloadOutcome({"memory:test": "2"}, "applied", version.id)

    def test_invalid_content_is_rejected_and_reported(self, rig: Any) -> None:
        """A rejected candidate keeps the last good version; last_error and the NACK say why."""
        engine, store, feed, _, _ = rig
        store.put(limits={"rate": 0})
        feed.fire()
        assert engine.store.snapshot.limits.rate == 10
        assert engine.health.last_error is not None and engine.health.last_error.field == "limits.rate"
        outcome = feed.outcomes[-1]
        assert outcome.result == "rejected" and outcome.inputs == {"memory:test": "2"}
        assert outcome.error is not None and "limits.rate" in outcome.error

    def test_close_closes_the_feed(self, rig: Any) -> None:
        """Closing the engine closes every feed it started."""
        engine, _, feed, _, _ = rig
        engine.close()
        assert feed.closed


class TestBreakerOnAFakeClock:
    """The circuit breaker's cool-down and half-open retry, on a clock the test moves."""

    def test_opens_skips_and_retries_half_open(self, rig: Any) -> None:
        """Two rejections open it; a fire during the cool-down is skipped and arms one retry; the retry applies good content."""
        engine, store, feed, clock, timers = rig
        for bad in (0, -1):
            store.put(limits={"rate": bad})
            feed.fire()
        assert engine.metrics.breaker_state == "open" and engine.metrics.consecutive_failures == 2
        store.put(limits={"rate": 30})  # a good write during the cool-down
        clock.now += 1.0
        feed.fire()
        assert engine.metrics.skipped_by_breaker == 1 and engine.store.snapshot.limits.rate == 10
        [(delay, retry, _)] = timers.armed
        assert delay == pytest.approx(4.0)
        feed.fire()  # a second skipped fire arms nothing more
        assert len(timers.armed) == 1
        clock.now += delay
        retry()
        assert engine.store.snapshot.limits.rate == 30
        assert engine.metrics.breaker_state == "closed" and engine.health.last_error is None

    def test_cool_down_over_lets_the_next_fire_through(self, rig: Any) -> None:
        """Once the clock passes the cool-down, a fire runs the pipeline again."""
        engine, store, feed, clock, _ = rig
        for bad in (0, -1):
            store.put(limits={"rate": bad})
            feed.fire()
        store.put(limits={"rate": 40})
        clock.now += 5.0
        feed.fire()
        assert engine.store.snapshot.limits.rate == 40

    def test_close_cancels_an_armed_retry(self, rig: Any) -> None:
        """close() cancels the armed retry and no retry runs afterwards."""
        engine, store, feed, clock, timers = rig
        for bad in (0, -1, -2):
            store.put(limits={"rate": bad})
            feed.fire()
        [(_, retry, handle)] = timers.armed
        engine.close()
        assert handle.cancelled
        retry()  # a timer that fired anyway does nothing after close
        assert engine.store.snapshot.limits.rate == 10
