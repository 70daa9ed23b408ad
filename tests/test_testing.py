"""The public livesettings.testing helpers."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from livesettings import Diff, Frozen, ReloadableSettings, ReloadConfig, ReloadError, on_change
from livesettings.testing import LiveFiles, SettingsFactory, capture_changes, override, write_and_wait, write_atomic


class Pool(BaseModel):
    size: int = Field(default=5, ge=1)
    shard: Annotated[int, Frozen] = 1


def _settings(tmp_path: Path) -> ReloadableSettings:
    (tmp_path / "c.yaml").write_text("pool: {size: 5}\n")

    class Settings(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(tmp_path / "c.yaml"))
        reload_config = ReloadConfig(enabled=False)
        pool: Pool = Pool()

    return Settings()


class TestOverride:
    """override() applies values through the normal pipeline."""

    def test_aliased_nested_field_by_name(self, tmp_path: Path) -> None:
        """A field with an alias (and no populate_by_name) is overridden by its name, aliases untouched."""

        class Limits(BaseModel):
            rpm: int = Field(60, alias="requestsPerMinute")
            burst: int = Field(5, alias="burstSize")

        (tmp_path / "c.yaml").write_text("limits: {requestsPerMinute: 100, burstSize: 7}\n")

        class Settings(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(tmp_path / "c.yaml"))
            reload_config = ReloadConfig(enabled=False)
            limits: Limits = Limits()

        with Settings() as s:
            version = override(s, {"limits.rpm": 5}).version
            assert version is not None and [c.path for c in version.changes] == ["limits.rpm"]
            assert (s.limits.rpm, s.limits.burst) == (5, 7)  # type: ignore[attr-defined]

    def test_applies_and_notifies(self, tmp_path: Path) -> None:
        """An override becomes a version with source 'override' and handlers see its diff."""
        with _settings(tmp_path) as s, capture_changes(s) as diffs:
            version = override(s, {"pool.size": 20}).version
            assert version is not None and version.source == "override"
            assert s.pool.size == 20  # type: ignore[attr-defined]
            assert [(c.path, c.old_value, c.new_value) for c in diffs[0].changes] == [("pool.size", 5, 20)]

    def test_invalid_override_is_rejected(self, tmp_path: Path) -> None:
        """Values are validated: a range error raises ReloadError naming the field and nothing changes."""
        with _settings(tmp_path) as s:
            with pytest.raises(ReloadError, match="pool.size"):
                override(s, {"pool.size": 0})
            assert s.pool.size == 5  # type: ignore[attr-defined]

    def test_change_rules_apply(self, tmp_path: Path) -> None:
        """A Frozen field cannot be overridden either."""
        with _settings(tmp_path) as s:
            with pytest.raises(ReloadError, match="Frozen"):
                override(s, {"pool.shard": 2})

    def test_sources_are_not_read(self, tmp_path: Path) -> None:
        """An override validates the values alone: a broken file on disk does not get in its way."""
        with _settings(tmp_path) as s:
            (tmp_path / "c.yaml").write_text("pool: [not, valid\n")
            version = override(s, {"pool.size": 7}).version
            assert version is not None and s.pool.size == 7  # type: ignore[attr-defined]

    def test_same_value_is_no_version(self, tmp_path: Path) -> None:
        """Overriding with the current value makes no version."""
        with _settings(tmp_path) as s:
            assert override(s, {"pool.size": 5}).version is None
            assert len(s.history) == 1


class TestOverrideAsContextManager:
    """``with override(...)`` restores the version that was current before, on exit."""

    def test_restores_on_exit(self, tmp_path: Path) -> None:
        """Inside the block the override serves; after it, the earlier content is back as a rollback version."""
        with _settings(tmp_path) as s:
            before = s.version
            with override(s, {"pool.size": 20}) as o:
                assert o.version is not None and o.previous is before
                assert s.pool.size == 20  # type: ignore[attr-defined]
            assert s.pool.size == 5  # type: ignore[attr-defined]
            assert s.version.source == "rollback" and s.version.restores == before.content_id
            assert s.version.number == 3

    def test_handlers_see_the_restore(self, tmp_path: Path) -> None:
        """Handlers get the override's diff and then the restoring one."""
        with _settings(tmp_path) as s, capture_changes(s, "pool") as diffs:
            with override(s, {"pool.size": 20}):
                pass
            assert [(c.old_value, c.new_value) for d in diffs for c in d.changes] == [(5, 20), (20, 5)]

    def test_restores_even_after_the_block_raised(self, tmp_path: Path) -> None:
        """An exception in the block propagates and the previous version is still restored."""
        with _settings(tmp_path) as s:
            with pytest.raises(KeyError), override(s, {"pool.size": 20}):
                raise KeyError("boom")
            assert s.pool.size == 5  # type: ignore[attr-defined]

    def test_nested_overrides_unwind_in_order(self, tmp_path: Path) -> None:
        """Each block restores what was current when it started."""
        with _settings(tmp_path) as s:
            with override(s, {"pool.size": 20}):
                with override(s, {"pool.size": 30}):
                    assert s.pool.size == 30  # type: ignore[attr-defined]
                assert s.pool.size == 20  # type: ignore[attr-defined]
            assert s.pool.size == 5  # type: ignore[attr-defined]

    def test_previous_version_found_after_it_left_the_history(self, tmp_path: Path) -> None:
        """Many versions in the block push the previous one out of the history; it is restored all the same."""
        (tmp_path / "c.yaml").write_text("pool: {size: 5}\n")

        class Short(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(tmp_path / "c.yaml"))
            reload_config = ReloadConfig(enabled=False, max_versions=2)
            pool: Pool = Pool()

        with Short() as s:
            first = s.version
            with override(s, {"pool.size": 6}):
                for size in (7, 8, 9):
                    override(s, {"pool.size": size})
                assert first.id not in [v.id for v in s.history]
            assert s.pool.size == 5 and s.version.restores == first.content_id  # type: ignore[attr-defined]

    def test_no_change_restores_nothing(self, tmp_path: Path) -> None:
        """An override that changed nothing makes no version and restores none."""
        with _settings(tmp_path) as s:
            with override(s, {"pool.size": 5}) as o:
                assert o.version is None
            assert len(s.history) == 1 and o.restore() is None

    def test_restore_once_and_a_plain_call_keeps_no_pin(self, tmp_path: Path) -> None:
        """restore() works once; an override not used with ``with`` holds no pinned version once dropped."""
        with _settings(tmp_path) as s:
            o = override(s, {"pool.size": 20})
            assert o.restore() is not None and o.restore() is None
            override(s, {"pool.size": 21})
            assert s._ls_engine.history.pins == {}

    def test_closed_object_is_left_alone(self, tmp_path: Path) -> None:
        """Closing the settings inside the block is not an error at exit."""
        s = _settings(tmp_path)
        with override(s, {"pool.size": 20}):
            s.close()
        assert s.pool.size == 20  # type: ignore[attr-defined]


class TestWriteAtomic:
    """write_atomic replaces a file in one step."""

    def test_creates_parents_and_keeps_the_mode(self, tmp_path: Path) -> None:
        """Missing parent directories are made; an existing file's permissions are kept; no temp file remains."""
        target = tmp_path / "a" / "b.yaml"
        assert write_atomic(target, "x: 1\n") == target and target.read_text() == "x: 1\n"
        os.chmod(target, 0o600)
        write_atomic(target, "x: 2\n")
        assert target.read_text() == "x: 2\n" and stat.S_IMODE(target.stat().st_mode) == 0o600
        assert [p.name for p in target.parent.iterdir()] == ["b.yaml"]


class TestWriteAndWait:
    """write_and_wait returns the version a write makes, watching or not."""

    def _watched(self, tmp_path: Path, *, watch: bool) -> ReloadableSettings:
        write_atomic(tmp_path / "c.yaml", "pool: {size: 5}\n")

        class Settings(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(tmp_path / "c.yaml"))
            reload_config = ReloadConfig(enabled=watch, debounce_ms=5)
            pool: Pool = Pool()

        return Settings()

    @pytest.mark.parametrize("watch", [True, False], ids=["watching", "not-watching"])
    def test_returns_the_new_version(self, tmp_path: Path, watch: bool) -> None:
        """The returned version is served, with the write's change, and handlers registered before have run."""
        with self._watched(tmp_path, watch=watch) as s, capture_changes(s) as diffs:
            version = write_and_wait(s, tmp_path / "c.yaml", "pool: {size: 8}\n")
            assert s.version is version and s.pool.size == 8  # type: ignore[attr-defined]
            assert [c.path for c in version.changes] == ["pool.size"]
            assert [d.version for d in diffs] == [version]

    @pytest.mark.parametrize("watch", [True, False], ids=["watching", "not-watching"])
    def test_rejected_content_raises(self, tmp_path: Path, watch: bool) -> None:
        """Invalid content raises the ReloadError that rejected it; the old config keeps serving."""
        with self._watched(tmp_path, watch=watch) as s:
            with pytest.raises(ReloadError, match="pool.size"):
                write_and_wait(s, tmp_path / "c.yaml", "pool: {size: 0}\n")
            assert s.pool.size == 5  # type: ignore[attr-defined]

    @pytest.mark.parametrize("watch", [True, False], ids=["watching", "not-watching"])
    def test_no_new_version_times_out(self, tmp_path: Path, watch: bool) -> None:
        """A write that changes nothing served raises TimeoutError."""
        with self._watched(tmp_path, watch=watch) as s:
            with pytest.raises(TimeoutError, match="no new version"):
                write_and_wait(s, tmp_path / "c.yaml", "pool: {size: 5}  # same\n", timeout=0.3)

    def test_files_helper(self, tmp_path: Path) -> None:
        """LiveFiles writes under its directory and waits through the same function."""
        files = LiveFiles(tmp_path)
        with self._watched(tmp_path, watch=True) as s:
            assert files / "c.yaml" == tmp_path / "c.yaml"
            version = files.write_and_wait(s, "c.yaml", "pool: {size: 11}\n")
            assert version.number == 2 and s.pool.size == 11  # type: ignore[attr-defined]


class Level(ReloadableSettings):
    """A module-level class with relative paths, as an application declares it."""

    model_config = SettingsConfigDict(yaml_file="config/app.yaml", env_file="/etc/app/.env", extra="ignore")
    reload_config = ReloadConfig(debounce_ms=500, allowed_roots=(Path("/etc/app"),))
    level: str = "INFO"
    token: str = ""

    @on_change("level")
    def _seen(self, diff: Diff) -> None:
        SEEN.append(diff.new_value)


SEEN: list[str] = []


class TestSettingsFactory:
    """SettingsFactory builds the class on files in one directory and closes what it built."""

    def test_redirects_relative_and_absolute_paths(self, tmp_path: Path) -> None:
        """``config/app.yaml`` keeps its place under the directory; ``/etc/app/.env`` keeps its name."""
        factory = SettingsFactory(tmp_path)
        try:
            s = factory(Level, {"config/app.yaml": "level: DEBUG\n", ".env": "TOKEN=abc\n"})
            assert isinstance(s, Level) and (s.level, s.token) == ("DEBUG", "abc")
            assert type(s).__qualname__ == "Level" and not s.hot_reload.is_enabled()
        finally:
            factory.close()
        assert s._ls_engine.closed

    def test_watching_and_handlers(self, tmp_path: Path) -> None:
        """With watch=True the file is followed and the class's @on_change handlers run."""
        SEEN.clear()
        factory = SettingsFactory(LiveFiles(tmp_path))
        try:
            s = factory(Level, {"config/app.yaml": "level: INFO\n"}, watch=True)
            assert s.hot_reload.is_enabled()
            factory.files.write_and_wait(s, "config/app.yaml", "level: WARNING\n")
            assert SEEN == ["WARNING"]
        finally:
            factory.close()
        assert not s.hot_reload.is_enabled()

    def test_invalid_files_raise(self, tmp_path: Path) -> None:
        """Building on invalid files raises ReloadError and keeps nothing open."""
        factory = SettingsFactory(tmp_path)
        with pytest.raises(ReloadError):
            factory(Strict, {"c.yaml": "n: many\n"})
        factory.close()


class Strict(ReloadableSettings):
    model_config = SettingsConfigDict(yaml_file="c.yaml")
    n: int = 0
