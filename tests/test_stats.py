"""settings.stats(): reload counts by result, the version served, breaker and feed state, durations."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from conftest import wait_for
from livesettings import DurationHistogram, FeedStats, ReloadableSettings, ReloadConfig, ReloadError, ReloadStats
from livesettings._stats import DURATION_BUCKETS, Durations
from livesettings.testing import override, write_atomic


def _app(conf: Path, config: ReloadConfig, text: str = "rate: 1\n") -> ReloadableSettings:
    write_atomic(conf, text)

    class App(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(conf))
        reload_config = config
        rate: int = Field(default=1, ge=1)

    return App()


OFF = ReloadConfig(enabled=False)


class TestCounts:
    """The counters follow real reloads of a temp file."""

    def test_fresh_object(self, tmp_path: Path) -> None:
        """Right after the initial load: version 1, no reload counted, breaker closed, no duration yet."""
        with _app(tmp_path / "c.yaml", OFF) as s:
            stats = s.stats()
            assert isinstance(stats, ReloadStats)
            assert (stats.name, stats.version, stats.version_id) == ("_app.<locals>.App", 1, s.version.id)
            assert (stats.attempted, stats.applied, stats.rejected, stats.unchanged, stats.skipped_by_breaker) == (0,) * 5
            assert stats.breaker_state == "closed" and not stats.breaker_open and stats.consecutive_failures == 0
            assert stats.feeds == () and stats.reload_duration.count == 0

    def test_applied_rejected_unchanged(self, tmp_path: Path) -> None:
        """An applied, a rejected and an unchanged reload are each counted once, by result."""
        conf = tmp_path / "c.yaml"
        with _app(conf, OFF) as s:
            write_atomic(conf, "rate: 2\n")
            assert s.reload() is not None
            write_atomic(conf, "rate: 0\n")
            with pytest.raises(ReloadError):
                s.reload()
            write_atomic(conf, "rate: 2\n")
            assert s.reload() is None
            stats = s.stats()
            assert stats.reloads == {"applied": 1, "rejected": 1, "unchanged": 1, "skipped_by_breaker": 0}
            assert stats.attempted == 3 and stats.version == 2 and stats.version_id == s.version.id

    def test_rejection_keeps_the_last_good_version(self, tmp_path: Path) -> None:
        """After a rejected reload the version reported is still the one served; failures in a row are counted."""
        conf = tmp_path / "c.yaml"
        with _app(conf, OFF) as s:
            write_atomic(conf, "rate: 5\n")
            good = s.reload()
            for bad in ("rate: 0\n", "rate: -1\n"):
                write_atomic(conf, bad)
                with pytest.raises(ReloadError):
                    s.reload()
            stats = s.stats()
            assert good is not None and (stats.version, stats.version_id) == (good.number, good.id)
            assert stats.consecutive_failures == 2 and stats.rejected == 2

    def test_override_and_rollback_are_versions_too(self, tmp_path: Path) -> None:
        """An override and a rollback move the version number; the override counts as applied."""
        with _app(tmp_path / "c.yaml", OFF) as s:
            version = override(s, {"rate": 9}).version
            assert version is not None and s.stats().version == version.number == 2
            rollback = s.rollback()
            stats = s.stats()
            assert stats.version == rollback.number == 3 and stats.applied == 2

    def test_is_frozen(self, tmp_path: Path) -> None:
        """The value is a frozen copy: it does not move when the object reloads later."""
        conf = tmp_path / "c.yaml"
        with _app(conf, OFF) as s:
            before = s.stats()
            with pytest.raises(dataclasses.FrozenInstanceError):
                before.applied = 5  # type: ignore[misc]
            write_atomic(conf, "rate: 3\n")
            s.reload()
            assert before.applied == 0 and s.stats().applied == 1

    def test_providers_have_stats_through_hot_reload(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The untyped providers give the same stats from provider.hot_reload.stats()."""
        from livesettings import HotReloadableConfigProvider

        monkeypatch.chdir(tmp_path)
        (tmp_path / "config").mkdir()
        write_atomic(tmp_path / "config" / "development.yaml", "a: 1\n")
        provider = HotReloadableConfigProvider(enable_hot_reload=False)
        try:
            write_atomic(tmp_path / "config" / "development.yaml", "a: 2\n")
            provider.hot_reload.reload_now()
            stats = provider.hot_reload.stats()
            assert stats.applied == 1 and stats.version == 2
        finally:
            provider.close()


class TestSinceSuccess:
    """seconds_since_success counts from the last load or reload that succeeded (monotonic clock)."""

    def test_bounded_by_the_reload_that_succeeded(self, tmp_path: Path) -> None:
        """It is never more than the time since just before the last successful reload started."""
        conf = tmp_path / "c.yaml"
        with _app(conf, OFF) as s:
            write_atomic(conf, "rate: 2\n")
            started = time.monotonic()
            s.reload()
            stats = s.stats()
            assert 0.0 <= stats.seconds_since_success <= time.monotonic() - started

    def test_a_rejection_does_not_reset_it(self, tmp_path: Path) -> None:
        """After a rejected reload it still counts from the earlier success."""
        conf = tmp_path / "c.yaml"
        with _app(conf, OFF) as s:
            after_success = time.monotonic()  # the initial load succeeded before this
            write_atomic(conf, "rate: 0\n")
            with pytest.raises(ReloadError):
                s.reload()
            before_read = time.monotonic()
            assert s.stats().seconds_since_success >= before_read - after_success

    def test_an_unchanged_reload_is_a_success(self, tmp_path: Path) -> None:
        """A reload that finds the same content confirms the config: the clock starts again."""
        with _app(tmp_path / "c.yaml", OFF) as s:
            started = time.monotonic()
            assert s.reload() is None
            assert s.stats().seconds_since_success <= time.monotonic() - started


class TestDurations:
    """The reload-duration histogram: fixed buckets, cumulative counts, a sum."""

    def test_every_measured_reload_is_in_it(self, tmp_path: Path) -> None:
        """Each reload that ran adds one observation; buckets are cumulative and end with +Inf = count."""
        conf = tmp_path / "c.yaml"
        with _app(conf, OFF) as s:
            for text in ("rate: 2\n", "rate: 0\n", "rate: 0\n", "rate: 3\n"):
                write_atomic(conf, text)
                try:
                    s.reload()
                except ReloadError:
                    pass
            stats = s.stats()
            hist = stats.reload_duration
            assert isinstance(hist, DurationHistogram)
            assert hist.count == stats.attempted == 4
            assert [b for b, _ in hist.buckets] == [*DURATION_BUCKETS, float("inf")]
            counts = [c for _, c in hist.buckets]
            assert counts == sorted(counts) and counts[-1] == 4
            assert hist.sum > 0

    def test_bucket_bounds_are_inclusive(self) -> None:
        """A duration equal to a bound counts in that bucket (Prometheus ``le``); a huge one only in +Inf."""
        durations = Durations().observed(0.005).observed(0.0051).observed(1e6)
        hist = durations.histogram()
        le = dict(hist.buckets)
        assert le[0.0025] == 0 and le[0.005] == 1 and le[0.01] == 2 and le[10.0] == 2 and le[float("inf")] == 3
        assert hist.count == 3 and hist.sum == pytest.approx(0.005 + 0.0051 + 1e6)

    def test_recording_makes_a_new_value(self) -> None:
        """Observing never changes a histogram a reader holds (readers take it whole, without a lock)."""
        first = Durations()
        second = first.observed(0.2)
        assert first.histogram().count == 0 and second.histogram().count == 1


class TestBreakerAndFeeds:
    """Breaker state, skipped reloads and feed status, with a real file watcher."""

    def test_feed_status_while_watching(self, tmp_path: Path) -> None:
        """With hot reload on, the file feed is listed and up; closing the object stops it."""
        s = _app(tmp_path / "c.yaml", ReloadConfig(debounce_ms=5))
        with s:
            [feed] = s.stats().feeds
            assert isinstance(feed, FeedStats)
            assert (feed.name, feed.state, feed.up) == ("files", "running", True)
            assert feed.status.mode in ("inotify", "poll")
        assert s.stats().feeds == ()

    def test_watching_off_then_on(self, tmp_path: Path) -> None:
        """No feed while hot reload is off; enabling it adds the file feed."""
        with _app(tmp_path / "c.yaml", ReloadConfig(enabled=False, debounce_ms=5)) as s:
            assert s.stats().feeds == ()
            s.hot_reload.enable()
            assert [f.name for f in s.stats().feeds] == ["files"]

    def test_skipped_by_breaker(self, tmp_path: Path) -> None:
        """A feed-triggered reload during the cool-down is counted as skipped; the breaker shows open."""
        conf = tmp_path / "c.yaml"
        config = ReloadConfig(debounce_ms=5, failure_threshold=1, breaker_cooldown_s=60.0)
        with _app(conf, config) as s:
            write_atomic(conf, "rate: 0\n")
            wait_for(lambda: s.stats().rejected == 1)
            assert s.stats().breaker_state == "open" and s.stats().breaker_open
            write_atomic(conf, "rate: -1\n")
            wait_for(lambda: s.stats().skipped_by_breaker >= 1)
            stats = s.stats()
            assert stats.rejected == 1 and stats.version == 1
            assert stats.reload_duration.count == stats.attempted  # a skipped reload is not measured

    def test_feed_state_of_a_status(self) -> None:
        """A feed's status maps to state and up: running is up, degraded and new are not; enums are read by value."""
        import enum

        from livesettings._health import _feed_stats

        class Mode(enum.Enum):
            RUNNING = "running"

        @dataclasses.dataclass
        class Status:
            state: object

        assert _feed_stats("etcd:x", Status("degraded")) == FeedStats("etcd:x", "degraded", False, Status("degraded"))
        assert _feed_stats("files", None) == FeedStats("files", "new", False, None)
        assert _feed_stats("files", Status(Mode.RUNNING)).up
