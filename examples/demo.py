"""livesettings in one screen: load, hot reload, a rejected change, a restart field, rollback, history.

Run it from the repository root with ``make demo`` (or ``python examples/demo.py``).
It works in a temporary directory that it creates and deletes, and finishes in about a second.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, SecretStr
from pydantic_settings import SettingsConfigDict

from livesettings import Diff, ReloadableSettings, ReloadConfig, ReloadError, Restart, on_change

WAIT_S = 10.0  # how long to wait for the file watcher before giving up

CONFIG = """\
logging:
  level: INFO
database:
  url: postgresql://db-primary/app
  pool_size: 5
  password: hunter2
"""

# Step 2's edit: a bigger pool, a rotated password, more logging.
EDITED = (
    CONFIG.replace("pool_size: 5", "pool_size: 20")
    .replace("hunter2", "correct-horse")
    .replace("INFO", "DEBUG")
)

# The @on_change handler (on the reload thread) hands its Diff to the main thread through these.
picked_up = threading.Event()
received: list[Diff] = []


class Logging(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Database(BaseModel):
    url: Annotated[str, Restart]  # a change here is reported, not applied live
    pool_size: int = 5
    password: SecretStr = SecretStr("")  # masked in diffs, logs and errors


class AppSettings(ReloadableSettings):
    model_config = SettingsConfigDict(
        yaml_file="config/app.yaml", env_prefix="DEMO_", env_nested_delimiter="__"
    )
    reload_config = ReloadConfig(debounce_ms=50)

    logging: Logging = Logging()
    database: Database

    @on_change("logging.level")
    def _apply_level(self, diff: Diff) -> None:
        logging.getLogger("demo.app").setLevel(diff.new_value)

    @on_change("database")
    def _database_changed(self, diff: Diff) -> None:
        received.append(diff)
        picked_up.set()


def save(path: Path, text: str) -> None:
    """Write ``text`` the way editors do: to a temporary file, then rename it over ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def heading(number: int, text: str) -> None:
    print(f"\n{number}. {text}")


class _Indented(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\n       ")


def show_log() -> None:
    """Print livesettings' own log lines (the audit trail included), indented under the step."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_Indented("     [%(name)s] %(message)s"))
    root = logging.getLogger("livesettings")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False


def main() -> int:
    # A demo is a development session: a production setting in your shell would turn watching off.
    os.environ["LIVESETTINGS_ENV"] = "development"
    show_log()
    home = os.getcwd()
    workdir = Path(tempfile.mkdtemp(prefix="livesettings-demo-"))
    try:
        os.chdir(workdir)
        config = Path("config/app.yaml")
        config.parent.mkdir()
        config.write_text(CONFIG)
        print(f"livesettings demo in {workdir}")
        with AppSettings() as settings:
            return run(settings, config)
    finally:
        os.chdir(home)
        shutil.rmtree(workdir, ignore_errors=True)


def run(settings: AppSettings, config: Path) -> int:
    heading(1, f"Loaded {config} and validated it")
    print(f"   settings.database.pool_size = {settings.database.pool_size}")
    print(f"   settings.database.password  = {settings.database.password!r}")
    print(f"   settings.logging.level      = {settings.logging.level}")
    first = settings.version

    heading(2, "Edit the file on disk: pool_size 5 -> 20, rotate the password, level INFO -> DEBUG")
    started = time.monotonic()
    save(config, EDITED)
    if not picked_up.wait(WAIT_S):
        print(f"   the file watcher did not pick the change up within {WAIT_S:.0f} s", file=sys.stderr)
        return 1
    elapsed_ms = (time.monotonic() - started) * 1000
    print(f"   the file watcher picked it up after {elapsed_ms:.0f} ms; @on_change('database') got:")
    for change in received[-1].changes:
        print(f"     {change.describe()}")
    print(f"   settings.database.pool_size = {settings.database.pool_size}")
    print(f"   logger 'demo.app' level     = {logging.getLevelName(logging.getLogger('demo.app').level)}")

    heading(3, "Write an invalid value: pool_size: twenty")
    save(config, EDITED.replace("pool_size: 20", "pool_size: twenty"))
    try:
        settings.reload()
    except ReloadError as error:
        print("   settings.reload() raised ReloadError:")
        for line in str(error).splitlines():
            print(f"     {line}")
        print(f"   error.line = {error.line}, error.column = {error.column}, error.field = {error.field!r}")
    else:
        print("   the invalid value was accepted (it should not have been)", file=sys.stderr)
        return 1
    print(f"   the last good config keeps serving: pool_size = {settings.database.pool_size}")

    heading(4, "Fix it, and move database.url (a Restart field) to a replica")
    save(config, EDITED.replace("db-primary", "db-replica"))
    applied = settings.reload()
    print(f"   settings.reload() -> {applied} (nothing to apply live)")
    for path, change in settings.pending_restart.items():
        print(f"   pending_restart[{path!r}]: {change.describe()}")
    print(f"   still running settings.database.url = {settings.database.url}")

    heading(5, "settings.rollback(): undo the last change")
    restored = settings.rollback()
    print(f"   version {restored.number} restores version {first.number} (source={restored.source!r})")
    print(f"   settings.database.pool_size = {settings.database.pool_size}")
    same = settings.diff(first.id, restored.id)
    print(f"   settings.diff(version 1, version {restored.number}) = {same} (the same content)")

    heading(6, "settings.history")
    print(f"   {'#':>2}  {'id':<27} {'source':<9} changes")
    for version in settings.history:
        lines = [c.describe() for c in version.changes] or ["-"]
        if version.restores:
            lines[0] += f"  (restores {version.restores})"
        print(f"   {version.number:>2}  {version.id:<27} {version.source:<9} {lines[0]}")
        for line in lines[1:]:
            print(f"   {'':>2}  {'':<27} {'':<9} {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
