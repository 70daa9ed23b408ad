"""The env and dotenv sources are re-run only when their variables or options change.

What they return is a function of their variables and options, so a reload remembers it; these
tests prove the remembered result is never stale and never shared with a snapshot.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_settings import EnvSettingsSource, SettingsConfigDict

from livesettings import ReloadableSettings, ReloadConfig


class Db(BaseModel):
    host: str = "localhost"
    ports: list[int] = [5432]


def _app(env_file: Path | None = None, prefix: str = "", yaml_file: Path | None = None) -> type[ReloadableSettings]:
    class App(ReloadableSettings):
        model_config = SettingsConfigDict(
            env_file=env_file, env_nested_delimiter="__", env_prefix=prefix, yaml_file=yaml_file
        )
        reload_config = ReloadConfig(enabled=False)
        name: str = "app"
        port: int = 1
        level: int = 0
        db: Db = Db()

    return App


def _edit(path: Path, level: int) -> None:
    """A change to the YAML file: the reload that follows really loads (an unchanged input set is skipped)."""
    path.write_text(f"level: {level}\n")


@pytest.fixture
def env_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every time pydantic-settings' env source really walks the fields."""
    calls: list[Any] = []
    real = EnvSettingsSource.__call__

    def spy(self: Any) -> dict[str, Any]:
        calls.append(type(self).__name__)
        return real(self)

    monkeypatch.setattr(EnvSettingsSource, "__call__", spy)
    return calls


def test_unchanged_environment_is_not_walked_again(
    env_calls: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A reload of an edited file with the same environment reuses the env source's result;
    a changed environment re-runs it."""
    monkeypatch.setenv("PORT", "8080")
    yaml_file = tmp_path / "c.yaml"
    _edit(yaml_file, 1)
    with _app(yaml_file=yaml_file)() as s:
        first = len(env_calls)
        assert first >= 1 and (s.port, s.level) == (8080, 1)
        _edit(yaml_file, 2)
        assert s.reload() is not None and s.level == 2
        assert len(env_calls) == first
        monkeypatch.setenv("PORT", "9090")
        _edit(yaml_file, 3)
        s.reload()
        assert (s.port, s.level) == (9090, 3) and len(env_calls) == first + 1


def test_back_and_forth_gives_each_environment_its_own_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A, B, then A again: each reload serves what a cold start on that environment serves."""
    yaml_file = tmp_path / "c.yaml"
    _edit(yaml_file, 0)
    App = _app(yaml_file=yaml_file)
    with App() as live:
        for level, value in enumerate(("1", "2", "1", "2")):
            _edit(yaml_file, level)
            monkeypatch.setenv("DB__HOST", f"h{value}")
            monkeypatch.setenv("DB__PORTS", f"[{value}, 9]")
            with App() as cold:
                expected = cold.model_dump()
            live.reload()
            assert live.model_dump() == expected
            assert live.db.host == f"h{value}"


def test_dotenv_edit_re_runs_the_dotenv_source(tmp_path: Path) -> None:
    """A changed .env file is a changed input: its new values are served."""
    env = tmp_path / ".env"
    env.write_text("NAME=one\nDB__HOST=a\n")
    with _app(env)() as s:
        assert (s.name, s.db.host) == ("one", "a")
        env.write_text("NAME=two\nDB__HOST=b\n")
        s.reload()
        assert (s.name, s.db.host) == ("two", "b")
        env.write_text("NAME=one\nDB__HOST=a\n")
        s.reload()
        assert (s.name, s.db.host) == ("one", "a")


def test_different_options_are_not_confused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Two classes (same fields, different prefixes) in one process read their own variables."""
    monkeypatch.setenv("A_PORT", "1000")
    monkeypatch.setenv("B_PORT", "2000")
    yaml_file = tmp_path / "c.yaml"
    _edit(yaml_file, 1)
    with _app(prefix="A_", yaml_file=yaml_file)() as a, _app(prefix="B_", yaml_file=yaml_file)() as b:
        _edit(yaml_file, 2)
        a.reload()
        b.reload()
        assert (a.port, b.port, a.level, b.level) == (1000, 2000, 2, 2)


def test_remembered_result_is_a_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing a load does to the env source's result reaches the next load."""
    from livesettings import _sources

    monkeypatch.setenv("DB__PORTS", "[1, 2]")
    seen: list[dict[str, Any]] = []
    real = _sources._remembered

    def tamper(source: Any, compute: Any) -> dict[str, Any]:
        data = real(source, compute)
        seen.append(data)
        if isinstance(data.get("db"), dict):
            data["db"]["ports"].append(99)  # a later step mutating its input must not poison the memo
        return data

    monkeypatch.setattr(_sources, "_remembered", tamper)
    yaml_file = tmp_path / "c.yaml"
    _edit(yaml_file, 1)
    with _app(yaml_file=yaml_file)() as s:
        _edit(yaml_file, 2)
        s.reload()
        _edit(yaml_file, 3)
        s.reload()
        assert len(seen) == 3 and s.level == 3
        assert [d["db"]["ports"] for d in seen if "db" in d][-1] == [1, 2, 99]
        assert s.db.ports == [1, 2, 99]  # each load got a fresh [1, 2] and added one 99
    assert os.environ["DB__PORTS"] == "[1, 2]"
