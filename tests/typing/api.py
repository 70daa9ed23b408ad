"""Never run: mypy checks that documented usage type-checks and keeps the declared types.

`make test` runs mypy (strict) over this file; `reveal_type` lines are checked with assert_type.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from pydantic import BaseModel, SecretStr
from pydantic_settings import SettingsConfigDict
from typing_extensions import assert_type

from livesettings import (
    Change,
    ConfigSubscriber,
    Diff,
    DurationHistogram,
    FeedStats,
    HotReloadableConfigProvider,
    ReloadableSettings,
    ReloadConfig,
    ReloadError,
    ReloadStats,
    Restart,
    SubscriptionHandle,
    ValidationResult,
    Version,
    on_change,
)


class Logging(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Database(BaseModel):
    url: Annotated[str, Restart]
    pool_size: int = 5
    password: SecretStr = SecretStr("")


class AppSettings(ReloadableSettings):
    model_config = SettingsConfigDict(yaml_file="config/development.yaml", env_prefix="APP_")
    reload_config = ReloadConfig(debounce_ms=100, max_versions=10)
    logging: Logging = Logging()
    database: Database

    @on_change("logging.level")
    def _apply_level(self, diff: Diff) -> None:
        logging.getLogger().setLevel(diff.new_value)

    @on_change
    def _any(self, diff: Diff) -> None:
        for change in diff.changes:
            assert_type(change, Change)

    @on_change("database", critical=True)
    async def _db(self, diff: Diff) -> None:
        pass


def typed_reads(settings: AppSettings) -> None:
    assert_type(settings.logging.level, Literal["DEBUG", "INFO", "WARNING", "ERROR"])
    assert_type(settings.database.pool_size, int)
    assert_type(settings.database.url, str)
    assert_type(settings.database.password, SecretStr)
    assert_type(settings.reload(), Version | None)
    assert_type(settings.rollback(), Version)
    assert_type(settings.rollback("20260101T000000.000000000Z"), Version)
    assert_type(settings.history, tuple[Version, ...])
    assert_type(settings.version, Version)
    assert_type(settings.diff("a", "b"), tuple[Change, ...])
    assert_type(settings.last_error, ReloadError | None)
    assert_type(settings.pending_restart, dict[str, Change])
    assert_type(settings.check(), ValidationResult)
    handle = settings.watch("database.pool_size", lambda diff: None)
    assert_type(handle, SubscriptionHandle)
    handle.cancel()
    with AppSettings() as s:
        assert_type(s, AppSettings)
    settings.close()


class Component(ConfigSubscriber):
    def on_config_change(self, path: str, old_value: object, new_value: object) -> None:
        pass


def compat() -> None:
    config = HotReloadableConfigProvider(enable_hot_reload=True)
    handle = config.hot_reload.subscribe("api.timeout", Component())
    config.hot_reload.unsubscribe(handle)
    config.hot_reload.subscribe("test.value", lambda p, o, n: None)
    config.watch_value("database.pool_size", lambda new_size: print(new_size))
    config.hot_reload.reload_now()
    for version in config.hot_reload.get_version_history():
        assert_type(version.id, str)
    config.hot_reload.rollback()
    assert config.get("test.value") is None
    assert_type(config.hot_reload.stats(), ReloadStats)


def stats(settings: AppSettings) -> None:
    stats = settings.stats()
    assert_type(stats, ReloadStats)
    assert_type(stats.applied, int)
    assert_type(stats.version, int)
    assert_type(stats.seconds_since_success, float)
    assert_type(stats.breaker_open, bool)
    assert_type(stats.reloads["rejected"], int)
    for feed in stats.feeds:
        assert_type(feed, FeedStats)
        assert_type(feed.up, bool)
    histogram = stats.reload_duration
    assert_type(histogram, DurationHistogram)
    for bound, count in histogram.buckets:
        assert_type(bound, float)
        assert_type(count, int)
    assert_type(histogram.sum, float)


def testing_helpers(settings: AppSettings, tmp: str) -> None:
    from livesettings.testing import LiveFiles, Override, SettingsFactory, override, write_and_wait

    with override(settings, {"database.pool_size": 20}) as o:
        assert_type(o, Override)
        assert_type(o.version, Version | None)
    assert_type(write_and_wait(settings, f"{tmp}/c.yaml", "x: 1\n"), Version)
    factory = SettingsFactory(LiveFiles(tmp))
    assert_type(factory(AppSettings, {"config/development.yaml": "database: {url: x}\n"}, watch=True), AppSettings)
    factory.close()


def prometheus(settings: AppSettings) -> None:
    from prometheus_client import CollectorRegistry

    from livesettings.integrations.prometheus import SettingsCollector

    registry = CollectorRegistry()
    collector = SettingsCollector({"app": settings}, registry=registry)
    collector.add(settings, name="again")
    for family in collector.collect():
        assert_type(family.name, str)


def merge_strategies() -> None:
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

    from livesettings import Merge, Origin
    from livesettings.sources import YamlSource

    class Merged(ReloadableSettings):
        reload_config = ReloadConfig(merge="deep")
        hosts: Annotated[list[str], Merge("append")] = []

        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (YamlSource(settings_cls, ["base.yaml", "prod.yaml"], merge="append"),)

    with Merged() as s:
        origin = s.explain("hosts")
        assert_type(origin.appended, tuple[Origin, ...])
        assert_type(s.hosts, list[str])
