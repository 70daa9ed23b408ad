"""Fixtures for the command-line tests (import them: ``from cliutil import cli, project``): a small
settings project in a temp directory, and the command line run in-process on it.

Not a conftest.py: ``from conftest import wait_for`` elsewhere must keep finding tests/conftest.py.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from livesettings.cli import main

PLANTED = "hunter2-planted-5f3a"  # the database password: must never be printed
ROTATED = "rotated-planted-9c1e"  # the new password a proposal carries: must never be printed either

SETTINGS = '''\
from typing import Annotated, Literal

from pydantic import BaseModel, SecretStr
from pydantic_settings import SettingsConfigDict

from livesettings import Diff, Frozen, ReloadableSettings, ReloadConfig, Restart, on_change

CALLS = []  # (handler, diff) for every handler call: the command line must not make any


class Logging(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Database(BaseModel):
    url: Annotated[str, Restart]
    pool_size: int = 5
    password: SecretStr = SecretStr("")


class AppSettings(ReloadableSettings):
    model_config = SettingsConfigDict(yaml_file="config/app.yaml", env_file=".env", env_prefix="APP_",
                                      env_nested_delimiter="__")
    reload_config = ReloadConfig(debounce_ms=20, history_file="history.jsonl", history_max_bytes=4096)
    region: Annotated[str, Frozen] = "eu"
    logging: Logging = Logging()
    database: Database

    @on_change("logging.level")
    def _apply_level(self, diff: Diff) -> None:
        CALLS.append(("_apply_level", diff))

    @on_change("database")
    def _database_changed(self, diff: Diff) -> None:
        CALLS.append(("_database_changed", diff))


class WatchedSettings(AppSettings):
    """Asks for hot reload explicitly, without the production opt-in."""

    reload_config = ReloadConfig(enabled=True, debounce_ms=20)


class StrictSettings(AppSettings):
    reload_config = ReloadConfig(unknown_keys="error")


class TokenSettings(ReloadableSettings):
    api_token: str = "planted-default-token-77"
    dsn: str = "postgresql://app:planted-url-pw-88@db/app"
    port: int = 8080


not_settings = 42
'''

CONFIG = f"""\
region: eu
logging:
  level: INFO
database:
  url: postgresql://db-primary/app
  pool_size: 5
  password: {PLANTED}
"""


@dataclass
class Project:
    """A settings project: ``root`` is the working directory, ``module`` the importable settings module."""

    root: Path
    module: str

    @property
    def target(self) -> str:
        return f"{self.module}:AppSettings"

    def spec(self, cls: str) -> str:
        return f"{self.module}:{cls}"

    @property
    def config(self) -> Path:
        return self.root / "config" / "app.yaml"

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def settings_class(self) -> type:
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        __import__(self.module)
        return sys.modules[self.module].AppSettings  # type: ignore[no-any-return]

    def calls(self) -> list[object]:
        self.settings_class()
        return sys.modules[self.module].CALLS  # type: ignore[no-any-return]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A fresh project as the working directory, with a settings module of its own name."""
    module = f"lsapp_{uuid.uuid4().hex[:10]}"
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "app.yaml").write_text(CONFIG)
    (tmp_path / f"{module}.py").write_text(SETTINGS)
    monkeypatch.chdir(tmp_path)
    saved_path = list(sys.path)
    try:
        yield Project(tmp_path, module)
    finally:
        sys.modules.pop(module, None)
        sys.path[:] = saved_path


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> object:
    """``cli(*argv)`` runs ``livesettings.cli.main`` and returns its exit code and captured output."""

    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def console_env() -> dict[str, str]:
    """The environment for a subprocess: no environment selection, no APP_ variables."""
    drop = ("LIVESETTINGS_ENV", "APP_ENV", "ENVIRONMENT", "LIVESETTINGS_POLL", "NO_COLOR")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("APP_")}
