"""Tests for livesettings._history and the history/rollback API of ReloadableSettings."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict

from livesettings import (
    Change,
    ChangeType,
    Diff,
    ReloadableSettings,
    ReloadConfig,
    Version,
    on_change,
)
from livesettings.components import ConfigVersion, ConfigVersionManager
from livesettings.exceptions import VersionNotFoundError
from livesettings._model import new_version_id

OFF = ReloadConfig(enabled=False)


def _v(vid: str, source: str = "reload", restores: str | None = None) -> Version:
    return Version(vid, datetime.now(timezone.utc), source, (), restores=restores)


class TestVersionIds:
    """Version ids: unique, sortable, timestamp-based."""

    def test_unique_and_increasing(self) -> None:
        """Ids made in a tight loop are unique and sort in creation order."""
        ids = [new_version_id()[0] for _ in range(2000)]
        assert len(set(ids)) == len(ids)
        assert ids == sorted(ids)

    def test_unique_across_threads(self) -> None:
        """Ids made concurrently from several threads never collide."""
        out: list[str] = []
        lock = threading.Lock()

        def make() -> None:
            mine = [new_version_id()[0] for _ in range(500)]
            with lock:
                out.extend(mine)

        threads = [threading.Thread(target=make) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(out)) == 2000

    def test_id_encodes_the_timestamp(self) -> None:
        """The id is the UTC timestamp returned with it."""
        vid, stamp = new_version_id()
        assert stamp.tzinfo is timezone.utc
        assert vid.startswith(stamp.strftime("%Y%m%dT%H%M%S.")) and vid.endswith("Z")
        assert abs((datetime.now(timezone.utc) - stamp).total_seconds()) < 60


class TestConfigVersionManager:
    """The bounded, append-only history."""

    def test_bounded_oldest_first(self) -> None:
        """The history keeps the newest ``max_versions`` versions, oldest first."""
        h = ConfigVersionManager(max_versions=3)
        for i in range(5):
            h.append(_v(f"v{i}"))
        assert [v.id for v in h] == ["v2", "v3", "v4"]
        assert h.current_version is not None and h.current_version.id == "v4"
        assert len(h) == 3

    def test_rejects_a_zero_bound(self) -> None:
        """max_versions below 1 is refused."""
        with pytest.raises(ValueError):
            ConfigVersionManager(max_versions=0)

    def test_get_unknown_is_a_lookup_error(self) -> None:
        """An unknown id raises VersionNotFoundError, which is a LookupError."""
        h = ConfigVersionManager()
        h.append(_v("v1"))
        assert h.get("v1").id == "v1"
        with pytest.raises(VersionNotFoundError):
            h.get("nope")
        with pytest.raises(LookupError):
            h.get("nope")

    def test_undo_target_walks_back_through_rollbacks(self) -> None:
        """Undoing repeatedly walks back v3 -> v2 -> v1, skipping the rollback entries."""
        h = ConfigVersionManager()
        for vid in ("v1", "v2", "v3"):
            h.append(_v(vid))
        assert h.undo_target().id == "v2"
        h.append(_v("r1", "rollback", restores="v2"))
        assert h.undo_target().content_id == "v1"
        h.append(_v("r2", "rollback", restores="v1"))
        with pytest.raises(VersionNotFoundError):
            h.undo_target()

    def test_undo_after_a_reload_that_followed_a_rollback(self) -> None:
        """Undoing a version made right after a rollback restores the rolled-back content, not an older one."""
        h = ConfigVersionManager()
        for vid in ("v1", "v2", "v3"):
            h.append(_v(vid))
        h.append(_v("r1", "rollback", restores="v1"))
        h.append(_v("v5"))
        assert h.undo_target().content_id == "v1"

    def test_undo_on_empty_history(self) -> None:
        """There is nothing to undo in an empty history."""
        with pytest.raises(VersionNotFoundError):
            ConfigVersionManager().undo_target()

    def test_content_id(self) -> None:
        """A version's content id is its own id, or the id it restores."""
        assert _v("a").content_id == "a"
        assert _v("b", "rollback", restores="a").content_id == "a"

    def test_config_version_is_an_alias(self) -> None:
        """``ConfigVersion`` is the design brief's name for ``Version``."""
        assert ConfigVersion is Version


class Section(BaseModel):
    value: int = 0


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("port: 0\nsection: {value: 0}\n")
    return path


def make_app(cfg: Path, max_versions: int = 10) -> type[ReloadableSettings]:
    class App(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
        reload_config = ReloadConfig(enabled=False, max_versions=max_versions)
        port: int = -1
        section: Section = Section()

    return App


def set_port(cfg: Path, port: int, value: int = 0) -> None:
    cfg.write_text(f"port: {port}\nsection: {{value: {value}}}\n")


class TestSettingsHistory:
    """``history``, ``version`` and ``diff`` of a settings object."""

    def test_initial_version(self, cfg: Path) -> None:
        """A new settings object has one version with source "initial" and no changes."""
        with make_app(cfg)() as s:
            assert len(s.history) == 1
            assert s.version is s.history[0]
            assert s.version.source == "initial" and s.version.changes == ()
            assert s.version.number == 1
            assert s.version.snapshot is s.snapshot()

    def test_bounded_sorted_unique(self, cfg: Path) -> None:
        """The history holds at most max_versions, oldest first, with unique, sorted ids."""
        with make_app(cfg, max_versions=4)() as s:
            made = []
            for i in range(1, 8):
                set_port(cfg, i)
                v = s.reload()
                assert v is not None
                made.append(v)
            ids = [v.id for v in s.history]
            assert ids == [v.id for v in made[-4:]]
            assert ids == sorted(ids) and len(set(ids)) == 4
            assert [v.number for v in s.history] == [5, 6, 7, 8]
            assert s.version is made[-1]
            assert s.history[-1].snapshot.port == 7

    def test_history_is_a_copy(self, cfg: Path) -> None:
        """The history tuple does not change when later versions are added."""
        with make_app(cfg)() as s:
            before = s.history
            set_port(cfg, 1)
            s.reload()
            assert len(before) == 1 and len(s.history) == 2

    def test_diff_between_any_two_ids(self, cfg: Path) -> None:
        """diff(a, b) gives the leaf changes from version a to version b, in either direction."""
        with make_app(cfg)() as s:
            v1 = s.version.id
            set_port(cfg, 1)
            s.reload()
            set_port(cfg, 1, value=5)
            v3 = s.reload()
            assert v3 is not None
            assert s.diff(v1, v3.id) == (
                Change("port", ChangeType.MODIFY, 0, 1),
                Change("section.value", ChangeType.MODIFY, 0, 5),
            )
            assert s.diff(v3.id, v1) == (
                Change("port", ChangeType.MODIFY, 1, 0),
                Change("section.value", ChangeType.MODIFY, 5, 0),
            )
            assert s.diff(v1, v1) == ()

    def test_diff_does_not_touch_stored_versions(self, cfg: Path) -> None:
        """diff() leaves the stored snapshots' objects as they were."""
        with make_app(cfg)() as s:
            first = s.history[0].snapshot
            section = first.section
            set_port(cfg, 1, value=3)
            v2 = s.reload()
            assert v2 is not None
            s.diff(v2.id, s.history[0].id)
            assert s.history[0].snapshot.section is section and section.value == 0

    def test_diff_with_an_unknown_id(self, cfg: Path) -> None:
        """diff() with an id not in the history raises VersionNotFoundError."""
        with make_app(cfg, max_versions=2)() as s:
            first = s.version.id
            for i in (1, 2):
                set_port(cfg, i)
                s.reload()
            with pytest.raises(VersionNotFoundError):
                s.diff(first, s.version.id)

    def test_sources(self, cfg: Path) -> None:
        """Versions record what made them: "initial", "reload" or "rollback"."""
        with make_app(cfg)() as s:
            set_port(cfg, 1)
            s.reload()
            s.rollback()
            assert [v.source for v in s.history] == ["initial", "reload", "rollback"]

    def test_version_changes_are_exact(self, cfg: Path) -> None:
        """A version records exactly the leaf changes from the version before it."""
        with make_app(cfg)() as s:
            set_port(cfg, 3, value=4)
            v = s.reload()
            assert v is not None
            assert v.changes == (
                Change("port", ChangeType.MODIFY, 0, 3),
                Change("section.value", ChangeType.MODIFY, 0, 4),
            )
            assert v.source == "reload" and v.restores is None and v.number == 2
            assert v.timestamp >= s.history[0].timestamp


class TestRollback:
    """``rollback()``: undo as a new version."""

    def test_restores_previous_content_as_a_new_version(self, cfg: Path) -> None:
        """rollback() brings back the previous content as a new "rollback" version naming what it restores."""
        with make_app(cfg)() as s:
            first = s.version
            set_port(cfg, 1)
            s.reload()
            r = s.rollback()
            assert r.source == "rollback" and r.restores == first.id
            assert r.changes == (Change("port", ChangeType.MODIFY, 1, 0),)
            assert s.port == 0 and s.snapshot() == first.snapshot
            assert s.version is r and len(s.history) == 3

    def test_repeated_rollback_walks_further_back(self, cfg: Path) -> None:
        """Each rollback() goes one step further back, until there is nothing earlier."""
        with make_app(cfg)() as s:
            ids = [s.version.id]
            for i in (1, 2, 3):
                set_port(cfg, i)
                v = s.reload()
                assert v is not None
                ids.append(v.id)
            assert [s.rollback().restores for _ in range(3)] == [ids[2], ids[1], ids[0]]
            assert s.port == 0
            with pytest.raises(VersionNotFoundError):
                s.rollback()
            assert s.port == 0

    def test_rollback_to_an_id(self, cfg: Path) -> None:
        """rollback(version_id) restores that version's content."""
        with make_app(cfg)() as s:
            set_port(cfg, 1)
            target = s.reload()
            assert target is not None
            for i in (2, 3):
                set_port(cfg, i)
                s.reload()
            r = s.rollback(target.id)
            assert r.restores == target.id and s.port == 1
            assert s.snapshot() == target.snapshot

    def test_unknown_id(self, cfg: Path) -> None:
        """rollback() to an unknown id raises VersionNotFoundError, a LookupError, and changes nothing."""
        with make_app(cfg)() as s:
            current = s.version
            with pytest.raises(LookupError):
                s.rollback("19700101T000000.000000000Z")
            assert s.version is current

    def test_nothing_to_roll_back_to(self, cfg: Path) -> None:
        """With only the initial version, rollback() raises VersionNotFoundError."""
        with make_app(cfg)() as s, pytest.raises(VersionNotFoundError):
            s.rollback()

    def test_rollback_is_sticky(self, cfg: Path) -> None:
        """After a rollback, reload() with unchanged files does not re-apply them; a file change does."""
        with make_app(cfg)() as s:
            set_port(cfg, 1)
            s.reload()
            s.rollback()
            assert s.reload() is None
            assert s.port == 0
            set_port(cfg, 2)
            v = s.reload()
            assert v is not None and v.source == "reload"
            assert v.changes == (Change("port", ChangeType.MODIFY, 0, 2),)
            assert s.port == 2

    def test_undo_a_reload_made_after_a_rollback(self, cfg: Path) -> None:
        """Rolling back a reload that followed a rollback restores the rolled-back content."""
        with make_app(cfg)() as s:
            for i in (1, 2):
                set_port(cfg, i)
                s.reload()
            s.rollback(s.history[0].id)  # back to port 0
            set_port(cfg, 7)
            s.reload()
            s.rollback()
            assert s.port == 0

    def test_rollback_notifies_handlers(self, cfg: Path) -> None:
        """A rollback is delivered to handlers like any other version."""
        got: list[Diff] = []

        class App(make_app(cfg)):  # type: ignore[misc, valid-type]
            @on_change("port")
            def _seen(self, diff: Diff) -> None:
                got.append(diff)

        with App() as s:
            set_port(cfg, 1)
            s.reload()
            r = s.rollback()
            assert [(d.old_value, d.new_value) for d in got] == [(0, 1), (1, 0)]
            assert got[-1].version is r

    def test_rollback_to_the_current_content(self, cfg: Path) -> None:
        """Rolling back to a version with the same content records a version without changes."""
        with make_app(cfg)() as s:
            set_port(cfg, 1)
            v = s.reload()
            assert v is not None
            r = s.rollback(v.id)
            assert r.source == "rollback" and r.changes == () and s.port == 1

    def test_rollback_keeps_objects_of_the_restored_version(self, cfg: Path) -> None:
        """A rollback never modifies the snapshot it restores from."""
        with make_app(cfg)() as s:
            first = s.version.snapshot
            section = first.section
            set_port(cfg, 1, value=9)
            s.reload()
            s.rollback()
            assert first.section is section and section.value == 0 and first.port == 0
