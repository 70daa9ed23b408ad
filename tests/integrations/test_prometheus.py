"""livesettings.integrations.prometheus: the collector, through a real registry and its text exposition."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from conftest import wait_for
from livesettings import ReloadableSettings, ReloadConfig, ReloadError
from livesettings.integrations.prometheus import SettingsCollector
from livesettings.testing import write_atomic


def _app(conf: Path, config: ReloadConfig = ReloadConfig(enabled=False), text: str = "rate: 1\n") -> ReloadableSettings:
    write_atomic(conf, text)

    class App(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(conf))
        reload_config = config
        rate: int = Field(default=1, ge=1)

    return App()


def scrape(registry: CollectorRegistry) -> dict[str, Any]:
    """``{family name: family}`` parsed back from the text exposition."""
    text = generate_latest(registry).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(family: Any, name: str | None = None, **labels: str) -> list[Any]:
    return [
        s for s in family.samples
        if (name is None or s.name == name) and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def value(family: Any, name: str | None = None, **labels: str) -> float:
    [sample] = samples(family, name, **labels)
    return float(sample.value)


class TestExposition:
    """What a scrape shows after real reloads of a temp file."""

    def test_after_applied_rejected_and_unchanged_reloads(self, tmp_path: Path) -> None:
        """Counts by result, the version served, breaker and failures appear with conventional names and types."""
        conf = tmp_path / "c.yaml"
        registry = CollectorRegistry()
        with _app(conf) as s:
            SettingsCollector(s, registry=registry)
            write_atomic(conf, "rate: 2\n")
            s.reload()
            write_atomic(conf, "rate: 0\n")
            with pytest.raises(ReloadError):
                s.reload()
            write_atomic(conf, "rate: 2\n")
            s.reload()  # back to what is served: unchanged
            metrics = scrape(registry)
            label = s.stats().name

        reloads = metrics["livesettings_reloads"]
        assert reloads.type == "counter"
        assert {x.labels["result"]: x.value for x in samples(reloads, "livesettings_reloads_total", settings=label)} == {
            "applied": 1.0, "rejected": 1.0, "unchanged": 1.0, "skipped_by_breaker": 0.0,
        }
        assert metrics["livesettings_config_version"].type == "gauge"
        assert value(metrics["livesettings_config_version"], settings=label) == 2
        assert value(metrics["livesettings_consecutive_failures"], settings=label) == 0
        assert value(metrics["livesettings_breaker_open"], settings=label) == 0
        state = metrics["livesettings_breaker_state"]
        assert {x.labels["state"]: x.value for x in samples(state, settings=label)} == {
            "closed": 1.0, "open": 0.0, "half-open": 0.0,
        }

    def test_rejected_reload_is_visible_at_once(self, tmp_path: Path) -> None:
        """Right after a rejection the scrape shows it counted, the version unchanged and one failure in a row."""
        conf = tmp_path / "c.yaml"
        registry = CollectorRegistry()
        with _app(conf) as s:
            SettingsCollector(s, registry=registry)
            write_atomic(conf, "rate: nope\n")
            with pytest.raises(ReloadError):
                s.reload()
            metrics = scrape(registry)
        assert value(metrics["livesettings_reloads"], "livesettings_reloads_total", result="rejected") == 1
        assert value(metrics["livesettings_config_version"]) == 1
        assert value(metrics["livesettings_consecutive_failures"]) == 1

    def test_duration_histogram(self, tmp_path: Path) -> None:
        """The histogram has cumulative le buckets ending in +Inf, a count equal to the reloads, and a sum."""
        conf = tmp_path / "c.yaml"
        registry = CollectorRegistry()
        with _app(conf) as s:
            SettingsCollector(s, registry=registry)
            for rate in (2, 3, 0):
                write_atomic(conf, f"rate: {rate}\n")
                try:
                    s.reload()
                except ReloadError:
                    pass
            metrics = scrape(registry)
        hist = metrics["livesettings_reload_duration_seconds"]
        assert hist.type == "histogram"
        buckets = samples(hist, "livesettings_reload_duration_seconds_bucket")
        assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == 3
        assert [b.value for b in buckets] == sorted(b.value for b in buckets)
        assert "0.005" in {b.labels["le"] for b in buckets}
        assert value(hist, "livesettings_reload_duration_seconds_count") == 3
        assert value(hist, "livesettings_reload_duration_seconds_sum") > 0

    def test_last_success_timestamp(self, tmp_path: Path) -> None:
        """The last-success gauge is a Unix time no earlier than just before the reload that succeeded."""
        conf = tmp_path / "c.yaml"
        registry = CollectorRegistry()
        with _app(conf) as s:
            SettingsCollector(s, registry=registry)
            write_atomic(conf, "rate: 4\n")
            before = time.time()
            s.reload()
            stamp = value(scrape(registry)["livesettings_last_success_timestamp_seconds"])
            assert before - 1.0 <= stamp <= time.time()  # 1 s of slack: wall and monotonic clocks drift apart

    def test_feed_up_and_breaker_open_with_a_watcher(self, tmp_path: Path) -> None:
        """With the file watcher running its feed is up; bad writes open the breaker and skipped reloads are counted."""
        conf = tmp_path / "c.yaml"
        registry = CollectorRegistry()
        config = ReloadConfig(debounce_ms=5, failure_threshold=1, breaker_cooldown_s=60.0)
        with _app(conf, config) as s:
            SettingsCollector(s, registry=registry)
            assert value(scrape(registry)["livesettings_feed_up"], feed="files") == 1
            write_atomic(conf, "rate: 0\n")
            wait_for(lambda: s.stats().rejected == 1)
            write_atomic(conf, "rate: -1\n")
            wait_for(lambda: s.stats().skipped_by_breaker >= 1)
            metrics = scrape(registry)
            assert value(metrics["livesettings_breaker_open"]) == 1
            assert value(metrics["livesettings_breaker_state"], state="open") == 1
            assert value(metrics["livesettings_reloads"], "livesettings_reloads_total", result="skipped_by_breaker") >= 1
            s.hot_reload.disable()
            assert samples(scrape(registry)["livesettings_feed_up"]) == []


class TestSeveralObjects:
    """One collector exports several settings objects, told apart by the ``settings`` label."""

    def test_named_objects(self, tmp_path: Path) -> None:
        """A mapping names each object; each gets its own samples."""
        registry = CollectorRegistry()
        with _app(tmp_path / "a.yaml") as web, _app(tmp_path / "b.yaml") as jobs:
            SettingsCollector({"web": web, "jobs": jobs}, registry=registry)
            write_atomic(tmp_path / "a.yaml", "rate: 7\n")
            web.reload()
            family = scrape(registry)["livesettings_config_version"]
        assert value(family, settings="web") == 2 and value(family, settings="jobs") == 1

    def test_add_later_and_label_clash(self, tmp_path: Path) -> None:
        """add() exports one more; a label already taken is a ValueError (two objects of one class need names)."""
        registry = CollectorRegistry()
        with _app(tmp_path / "a.yaml") as one, _app(tmp_path / "b.yaml") as two:
            collector = SettingsCollector(one, registry=registry)
            with pytest.raises(ValueError, match="labelled '_app.<locals>.App'"):
                collector.add(two)
            collector.add(two, name="second")
            labels = {x.labels["settings"] for x in scrape(registry)["livesettings_config_version"].samples}
        assert labels == {"_app.<locals>.App", "second"}

    def test_two_collectors_in_one_registry_are_refused(self, tmp_path: Path) -> None:
        """A registry refuses a second collector with the same metric names (describe() names them)."""
        registry = CollectorRegistry()
        with _app(tmp_path / "a.yaml") as one, _app(tmp_path / "b.yaml") as two:
            SettingsCollector(one, registry=registry)
            with pytest.raises(ValueError, match="Duplicated timeseries"):
                SettingsCollector(two, registry=registry)

    def test_providers_and_unregistered_collectors(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A provider is exported through its hot_reload manager; registry=None registers nowhere."""
        from livesettings import HotReloadableConfigProvider

        monkeypatch.chdir(tmp_path)
        write_atomic(tmp_path / "config" / "development.yaml", "a: 1\n")
        provider = HotReloadableConfigProvider(enable_hot_reload=False)
        try:
            collector = SettingsCollector({"provider": provider}, registry=None)
            registry = CollectorRegistry()
            assert scrape(registry) == {}
            registry.register(collector)
            assert value(scrape(registry)["livesettings_config_version"], settings="provider") == 1
        finally:
            provider.close()

    def test_not_a_settings_object(self) -> None:
        """Anything without stats() is refused with a TypeError."""
        with pytest.raises(TypeError, match="no stats"):
            SettingsCollector(object(), registry=None)


class TestWithoutTheExtra:
    """Without prometheus-client the import names the extra to install."""

    def test_import_error_names_the_extra(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Importing the module with prometheus_client missing raises ImportError naming livesettings[prometheus]."""
        monkeypatch.delitem(sys.modules, "livesettings.integrations.prometheus")
        for name in [m for m in sys.modules if m == "prometheus_client" or m.startswith("prometheus_client.")]:
            monkeypatch.setitem(sys.modules, name, None)
        with pytest.raises(ImportError, match=r"livesettings\[prometheus\]"):
            importlib.import_module("livesettings.integrations.prometheus")
