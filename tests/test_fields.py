"""Tests for the ``Restart`` and ``Frozen`` field markers."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from livesettings import (
    Change,
    ChangeType,
    Diff,
    Frozen,
    ReloadableSettings,
    ReloadConfig,
    ReloadError,
    Restart,
)
from livesettings._fields import Policy, collect_policies, policy_for
from livesettings.exceptions import FrozenFieldError

OFF = ReloadConfig(enabled=False)


class Database(BaseModel):
    url: Annotated[str, Restart] = "postgres://a"
    shard: Annotated[int, Frozen] = 1
    pool_size: int = 5


class Inner(BaseModel):
    database: Database = Database()


class Outer(BaseModel):
    inner: Inner = Inner()


class TestCollectPolicies:
    """Finding markers in a model."""

    def test_markers_at_any_depth(self) -> None:
        """Markers are found by dotted path through nested and Optional models."""

        class Root(BaseModel):
            workers: Annotated[int, Restart, Field(ge=1)] = 4
            outer: Outer = Outer()
            maybe: Database | None = None

        assert collect_policies(Root) == {
            "workers": Policy.RESTART,
            "outer.inner.database.url": Policy.RESTART,
            "outer.inner.database.shard": Policy.FROZEN,
            "maybe.url": Policy.RESTART,
            "maybe.shard": Policy.FROZEN,
        }

    def test_marked_section_covers_its_leaves(self) -> None:
        """A marker on a section applies to every path below it."""
        policies = {"db": Policy.RESTART, "x.y": Policy.FROZEN}
        assert policy_for("db.url", policies) == ("db", Policy.RESTART)
        assert policy_for("db", policies) == ("db", Policy.RESTART)
        assert policy_for("dbx", policies) is None
        assert policy_for("x", policies) is None
        assert policy_for("x.y.z", policies) == ("x.y", Policy.FROZEN)

    def test_self_referencing_models_terminate(self) -> None:
        """A recursive model does not make the search loop forever."""

        class Node(BaseModel):
            name: Annotated[str, Restart] = "n"
            child: Node | None = None

        Node.model_rebuild()
        found = collect_policies(Node)
        assert found["name"] is Policy.RESTART and "child.name" in found

    def test_markers_repr(self) -> None:
        """The markers have readable reprs."""
        assert (repr(Restart), repr(Frozen)) == ("Restart", "Frozen")


def write(cfg: Path, *, url: str = "postgres://a", shard: int = 1, pool_size: int = 5, port: int = 1) -> None:
    cfg.write_text(
        f"port: {port}\nouter:\n  inner:\n    database:\n"
        f"      url: {url}\n      shard: {shard}\n      pool_size: {pool_size}\n"
    )


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    write(path)
    return path


def make_app(cfg: Path) -> type[ReloadableSettings]:
    class App(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
        reload_config = OFF
        port: Annotated[int, Field(ge=0)] = 0
        workers: Annotated[int, Field(ge=1), Restart] = 4
        outer: Outer = Outer()

    return App


def restart_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "restart" in r.getMessage()]


class TestRestart:
    """``Annotated[T, Restart]``: reported, not applied live."""

    def test_change_is_kept_out_of_the_live_snapshot(self, cfg: Path) -> None:
        """A Restart field change leaves the running value and is listed in pending_restart."""
        with make_app(cfg)() as s:
            write(cfg, url="postgres://b")
            assert s.reload() is None
            assert s.outer.inner.database.url == "postgres://a"
            assert s.pending_restart == {
                "outer.inner.database.url": Change(
                    "outer.inner.database.url", ChangeType.MODIFY, "postgres://a", "postgres://b"
                )
            }
            assert len(s.history) == 1

    def test_other_changes_still_apply(self, cfg: Path) -> None:
        """A version with a Restart change and a live change applies only the live one."""
        got: list[Diff] = []
        with make_app(cfg)() as s:
            s.watch("", got.append)
            write(cfg, url="postgres://b", pool_size=9)
            v = s.reload()
            assert v is not None
            assert v.changes == (Change("outer.inner.database.pool_size", ChangeType.MODIFY, 5, 9),)
            assert s.outer.inner.database.pool_size == 9
            assert s.outer.inner.database.url == "postgres://a"
            assert got[0].paths == ("outer.inner.database.pool_size",)
            assert "outer.inner.database.url" in s.pending_restart

    def test_top_level_with_other_metadata(self, cfg: Path) -> None:
        """Restart works next to Field constraints in the same Annotated."""
        with make_app(cfg)() as s:
            cfg.write_text(cfg.read_text() + "workers: 8\n")
            s.reload()
            assert s.workers == 4 and s.pending_restart["workers"].new_value == 8
            cfg.write_text(cfg.read_text().replace("workers: 8", "workers: 0"))
            with pytest.raises(ReloadError):
                s.reload()  # constraints are still checked on a Restart field

    def test_logged_once(self, cfg: Path, caplog: pytest.LogCaptureFixture) -> None:
        """A pending restart is logged once, not again on each reload with the same pending value."""
        caplog.set_level(logging.INFO)
        with make_app(cfg)() as s:
            write(cfg, url="postgres://b")
            s.reload()
            assert len(restart_records(caplog)) == 1
            for port in (2, 3, 4):
                write(cfg, url="postgres://b", port=port)
                assert s.reload() is not None
            assert len(restart_records(caplog)) == 1
            write(cfg, url="postgres://c", port=4)
            s.reload()
            assert len(restart_records(caplog)) == 2
            assert s.pending_restart["outer.inner.database.url"].new_value == "postgres://c"

    def test_cleared_when_the_file_goes_back(self, cfg: Path) -> None:
        """Reverting the file clears pending_restart."""
        with make_app(cfg)() as s:
            write(cfg, url="postgres://b")
            s.reload()
            assert s.pending_restart
            write(cfg, url="postgres://a", port=1)
            s.reload()
            assert s.pending_restart == {}
            assert s.outer.inner.database.url == "postgres://a"

    def test_pending_restart_survives_a_rollback(self, cfg: Path) -> None:
        """A rollback does not forget a Restart change the sources still hold."""
        with make_app(cfg)() as s:
            write(cfg, url="postgres://b", port=2)
            s.reload()
            s.rollback()
            assert s.port == 1
            assert s.pending_restart["outer.inner.database.url"].new_value == "postgres://b"
            assert s.reload() is None and "outer.inner.database.url" in s.pending_restart

    def test_pending_restart_is_a_copy(self, cfg: Path) -> None:
        """Changing the returned dict does not change the settings object."""
        with make_app(cfg)() as s:
            write(cfg, url="postgres://b")
            s.reload()
            s.pending_restart.clear()
            assert s.pending_restart

    def test_new_instance_starts_with_the_new_value(self, cfg: Path) -> None:
        """A restart (a new settings object) picks up the pending value."""
        app = make_app(cfg)
        with app() as s:
            write(cfg, url="postgres://b")
            s.reload()
            with app() as fresh:
                assert fresh.outer.inner.database.url == "postgres://b"
                assert fresh.pending_restart == {}

    def test_section_appearing_with_a_restart_field(self, tmp_path: Path) -> None:
        """When an Optional section appears, its Restart fields never hold a value of the wrong type."""
        path = tmp_path / "c.yaml"
        path.write_text("port: 1\n")

        class Conn(BaseModel):
            url: Annotated[str, Restart]
            pool_size: int = 5

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(path), env_prefix="APP_")
            reload_config = OFF
            port: int = 0
            db: Conn | None = None

        with App() as s:
            path.write_text("port: 1\ndb:\n  url: postgres://new\n  pool_size: 3\n")
            s.reload()
            db = s.db
            assert db is None or isinstance(db.url, str)
            assert s.pending_restart["db.url"] == Change("db.url", ChangeType.ADD, None, "postgres://new")


class TestFrozen:
    """``Annotated[T, Frozen]``: a runtime change rejects the whole reload."""

    def test_change_rejects_everything(self, cfg: Path) -> None:
        """Changing a Frozen field raises FrozenFieldError and applies nothing, not even other changes."""
        errors: list[BaseException] = []
        with make_app(cfg)() as s:
            s.hot_reload.on_error(errors.append)
            before = s.snapshot()
            write(cfg, shard=2, pool_size=9, port=7)
            with pytest.raises(FrozenFieldError) as info:
                s.reload()
            assert isinstance(info.value, ReloadError)
            assert s.snapshot() is before and s.port == 1
            assert info.value.field == "outer.inner.database.shard"
            assert info.value.stage == "change rules"
            assert s.last_error is info.value and errors == [info.value]

    def test_unchanged_frozen_field_is_fine(self, cfg: Path) -> None:
        """Other changes apply while the Frozen field keeps its value."""
        with make_app(cfg)() as s:
            write(cfg, pool_size=9)
            assert s.reload() is not None and s.outer.inner.database.pool_size == 9

    def test_frozen_value_is_read_at_startup(self, cfg: Path) -> None:
        """A Frozen field takes its value from the sources at start-up."""
        write(cfg, shard=3)
        with make_app(cfg)() as s:
            assert s.outer.inner.database.shard == 3

    def test_reverting_the_frozen_change_recovers(self, cfg: Path) -> None:
        """After a rejected Frozen change, reverting it lets the next reload apply."""
        with make_app(cfg)() as s:
            write(cfg, shard=2)
            with pytest.raises(FrozenFieldError):
                s.reload()
            write(cfg, shard=1, port=5)
            assert s.reload() is not None and s.port == 5
