"""Tests for pickling snapshots and versions: a multiprocessing hand-off gets an equal, immutable snapshot.

The settings classes live at module level, as pickling by reference needs (the spawned child
imports this module to find them).
"""

from __future__ import annotations

import copy
import multiprocessing
import pickle
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from livesettings import ReloadableSettings, ReloadConfig, Version


class Server(BaseModel):
    host: str = "a"
    port: int = 1


class Database(BaseModel):
    url: str = ""
    password: SecretStr = SecretStr("")


class Creds(BaseModel):
    user: str = ""


class PickleApp(ReloadableSettings):
    model_config = SettingsConfigDict(yaml_file="pickle-app.yaml")
    reload_config = ReloadConfig(enabled=False)
    name: str = "app"
    database: Database = Database()
    servers: list[Server] = []
    tokens: dict[str, str] = {}
    auth: Creds = Creds()


CONFIG = (
    "name: svc\n"
    "database: {url: 'postgres://u:PLANT-url@h/x', password: PLANT-pw}\n"
    "servers: [{host: s1, port: 80}, {host: s2, port: 81}]\n"
    "tokens: {github: PLANT-gh}\n"
    "auth: {user: PLANT-user}\n"
)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pickle-app.yaml").write_text(CONFIG)
    with PickleApp() as settings:
        yield settings


def _immutable(snapshot: Any) -> list[str]:
    """Names of the parts of ``snapshot`` that accepted an assignment (should be none)."""
    mutable = []
    for target, attr, value in (
        (snapshot, "name", "x"),
        (snapshot.database, "url", "x"),
        (snapshot.servers[0], "port", 2),
        (snapshot.auth, "user", "x"),
    ):
        try:
            setattr(target, attr, value)
        except ValidationError:
            continue
        mutable.append(f"{type(target).__name__}.{attr}")
    return mutable


def _child(conn: Any) -> None:
    """Runs in a spawned process: receive a snapshot and a version, report on them, send them back."""
    snapshot, version = conn.recv()
    conn.send(
        {
            "same_as_version": snapshot == version.snapshot,
            "repr": repr(snapshot) + repr(snapshot.auth) + repr(version),
            "password": snapshot.database.password.get_secret_value(),
            "mutable": _immutable(snapshot),
            "back": (snapshot, version),
        }
    )


class TestPickle:
    """Snapshots, sections and versions pickle, and come back equal and still immutable."""

    def test_snapshot_round_trip(self, app: Any) -> None:
        """A snapshot unpickles to an equal snapshot whose sections are still frozen and masked."""
        snapshot = app.snapshot()
        back = pickle.loads(pickle.dumps(snapshot))
        assert back == snapshot and type(back) is type(snapshot)
        assert type(back.database) is type(snapshot.database) and isinstance(back.database, Database)
        assert _immutable(back) == []
        assert "PLANT" not in repr(back) + repr(back.auth) + repr(back.database)

    def test_version_round_trip(self, app: Any) -> None:
        """A Version unpickles with its snapshot and changes."""
        (Path.cwd() / "pickle-app.yaml").write_text(CONFIG.replace("name: svc", "name: svc2"))
        version = app.reload()
        assert isinstance(version, Version)
        back = pickle.loads(pickle.dumps(version))
        assert back == version and back.snapshot == version.snapshot and back.changes == version.changes

    def test_copies(self, app: Any) -> None:
        """copy.copy and copy.deepcopy of a snapshot are equal and immutable too."""
        snapshot = app.snapshot()
        for dup in (copy.copy(snapshot), copy.deepcopy(snapshot)):
            assert dup == snapshot and _immutable(dup) == []

    def test_multiprocessing_hand_off(self, app: Any) -> None:
        """A spawned worker receives an equal, immutable snapshot and version, and can send them back."""
        ctx = multiprocessing.get_context("spawn")
        here, there = ctx.Pipe()
        worker = ctx.Process(target=_child, args=(there,), name="pickle-hand-off")
        worker.start()
        try:
            here.send((app.snapshot(), app.version))  # pickles here and now: an error raises at once
            assert here.poll(60), "the worker sent nothing back"
            report = here.recv()
        finally:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()
                worker.join()
        assert worker.exitcode == 0
        assert report["same_as_version"] and report["password"] == "PLANT-pw"
        assert report["mutable"] == []
        assert "PLANT" not in report["repr"]
        snapshot, version = report["back"]
        assert snapshot == app.snapshot() and version == app.version
