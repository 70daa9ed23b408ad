"""``livesettings demo``: the README's tour, run for real in a temporary directory, in a few seconds.

It writes a small project (``config/app.yaml``, ``.env`` and ``demo_settings.py`` with the
settings class below), loads it, edits the file on disk and shows the change arrive, rejects an
invalid value with its line and column, holds back a restart-only field, rolls back, prints the
history, then runs the command line on the same project: ``check``, ``show``, ``plan``,
``history``. ``--interactive`` ends with ``watch``: edit the file yourself and see each save.
The directory is deleted afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..exceptions import ReloadError
from .common import CommandError, ExitCode, Output, Target, error_line, import_target

__all__ = ["SETTINGS_PY", "register"]

WAIT_S = 10.0  # how long to wait for the file watcher before giving up

SETTINGS_PY = '''\
"""The demo's settings class (what you would write in your own app)."""
import logging
import threading
from typing import Annotated, Literal

from pydantic import BaseModel, SecretStr
from pydantic_settings import SettingsConfigDict

from livesettings import Diff, ReloadableSettings, ReloadConfig, Restart, on_change

picked_up = threading.Event()  # set by the handler below, on the reload thread
received: list[Diff] = []


class Logging(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Database(BaseModel):
    url: Annotated[str, Restart]          # a change here is reported, not applied live
    pool_size: int = 5
    password: SecretStr = SecretStr("")    # masked in diffs, logs, errors and the history file


class AppSettings(ReloadableSettings):
    model_config = SettingsConfigDict(yaml_file="config/app.yaml", env_file=".env",
                                      env_prefix="DEMO_", env_nested_delimiter="__")
    reload_config = ReloadConfig(debounce_ms=50, history_file="history.jsonl")
    logging: Logging = Logging()
    database: Database

    @on_change("logging.level")
    def _apply_level(self, diff: Diff) -> None:
        logging.getLogger("demo.app").setLevel(diff.new_value)

    @on_change("database")
    def _database_changed(self, diff: Diff) -> None:
        received.append(diff)
        picked_up.set()
'''

CONFIG = """\
logging:
  level: INFO
database:
  url: postgresql://db-primary/app
  pool_size: 5
  password: hunter2
"""

# Step 2's edit: a bigger pool, a rotated password, more logging.
EDITED = CONFIG.replace("pool_size: 5", "pool_size: 20").replace("hunter2", "correct-horse").replace("INFO", "DEBUG")

# The pull request `livesettings plan` looks at: more logging, a smaller pool, a new primary.
PROPOSAL = CONFIG.replace("INFO", "WARNING").replace("pool_size: 5", "pool_size: 8").replace("db-primary", "db-new")


def save(path: Path, text: str) -> None:
    """Write ``text`` the way editors do: to a temporary file, then rename it over ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class _Indented(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\n       ")


@contextlib.contextmanager
def _project(out: Output) -> Iterator[Path]:
    """A temporary project directory as the working directory, with the demo's log lines shown."""
    home, saved_env = os.getcwd(), dict(os.environ)
    workdir = Path(tempfile.mkdtemp(prefix="livesettings-demo-"))
    handler = logging.StreamHandler(out.stream)
    handler.setFormatter(_Indented("     [%(name)s] %(message)s"))
    root = logging.getLogger("livesettings")
    saved_log = (root.level, root.propagate)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False
    # A demo is a development session: a production setting in your shell would turn watching off.
    os.environ["LIVESETTINGS_ENV"] = "development"
    for name in [n for n in os.environ if n.startswith("DEMO_")]:
        del os.environ[name]
    sys.path.insert(0, str(workdir))
    try:
        os.chdir(workdir)
        Path("config").mkdir()
        Path("config/app.yaml").write_text(CONFIG)
        Path("demo_settings.py").write_text(SETTINGS_PY)
        yield workdir
    finally:
        os.chdir(home)
        sys.path.remove(str(workdir))
        sys.modules.pop("demo_settings", None)
        root.removeHandler(handler)
        root.setLevel(saved_log[0])
        root.propagate = saved_log[1]
        os.environ.clear()
        os.environ.update(saved_env)
        shutil.rmtree(workdir, ignore_errors=True)


def heading(out: Output, number: int, text: str) -> None:
    out.line()
    out.line(out.style(f"{number}. {text}", "bold"))


def tour(out: Output, cls: Any, module: Any) -> int:
    """Steps 1-6: the library from Python."""
    config = Path("config/app.yaml")
    with cls() as settings:
        heading(out, 1, f"Loaded {config} and validated it")
        out.line(f"   settings.database.pool_size = {settings.database.pool_size}")
        out.line(f"   settings.database.password  = {settings.database.password!r}")
        out.line(f"   settings.logging.level      = {settings.logging.level}")
        first = settings.version

        heading(out, 2, "Edit the file on disk: pool_size 5 -> 20, rotate the password, level INFO -> DEBUG")
        started = time.monotonic()
        save(config, EDITED)
        if not module.picked_up.wait(WAIT_S):
            out.line(f"   the file watcher did not pick the change up within {WAIT_S:.0f} s")
            return ExitCode.INVALID
        out.line(f"   the file watcher picked it up after {(time.monotonic() - started) * 1000:.0f} ms; "
                 "@on_change('database') got:")
        for change in module.received[-1].changes:
            out.line(f"     {change.describe()}")
        out.line(f"   settings.database.pool_size = {settings.database.pool_size}")

        heading(out, 3, "Write an invalid value: pool_size: twenty")
        save(config, EDITED.replace("pool_size: 20", "pool_size: twenty"))
        try:
            settings.reload()
        except ReloadError as error:
            out.line("   settings.reload() raised ReloadError:")
            for line in str(error).splitlines():
                out.line(f"     {line}")
        else:
            out.line("   the invalid value was accepted (it should not have been)")
            return ExitCode.INVALID
        out.line(f"   the last good config keeps serving: pool_size = {settings.database.pool_size}")

        heading(out, 4, "Fix it, and move database.url (a Restart field) to a replica")
        save(config, EDITED.replace("db-primary", "db-replica"))
        out.line(f"   settings.reload() -> {settings.reload()} (nothing to apply live)")
        for path, change in settings.pending_restart.items():
            out.line(f"   pending_restart[{path!r}]: {change.describe()}")

        heading(out, 5, "settings.rollback(): undo the last change")
        restored = settings.rollback()
        out.line(f"   version {restored.number} restores version {first.number}; "
                 f"settings.database.pool_size = {settings.database.pool_size}")

        heading(out, 6, "settings.history")
        for version in settings.history:
            lines = [c.describe() for c in version.changes] or ["-"]
            out.line(f"   #{version.number} {version.source:<9} {lines[0]}")
            for line in lines[1:]:
                out.line(f"      {'':<9} {line}")
    save(config, CONFIG)  # back to the start for the command line part
    return ExitCode.OK


def _main(argv: list[str]) -> int:
    """``livesettings ARGV`` for the commands the tour shows (``cli.main`` sits above this package)."""
    from . import check, history, plan, show  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="livesettings")
    subparsers = parser.add_subparsers()
    for module in (check, show, plan, history):
        module.register(subparsers)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except CommandError as exc:
        error_line(str(exc))
        return exc.code


def _run_cli(out: Output, argv: list[str]) -> int:
    """Run ``livesettings ARGV`` in this process and print it like a shell session."""
    out.line(out.style(f"   $ livesettings {' '.join(argv)}", "cyan"))
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        code = _main(argv)
    for line in buffer.getvalue().splitlines():
        out.line(f"     {line}")
    if code:
        out.line(f"     (exit status {code})")
    return code


def command_line(out: Output) -> int:
    """Steps 7-10: the operator's side, on the same project."""
    target = "demo_settings:AppSettings"
    heading(out, 7, "livesettings check: validate without side effects (a CI gate); then a broken file")
    if _run_cli(out, ["check", target]) != ExitCode.OK:
        return ExitCode.INVALID
    Path("broken.yaml").write_text(CONFIG.replace("pool_size: 5", "pool_size: twenty"))
    if _run_cli(out, ["plan", target, "--against", "broken.yaml"]) != ExitCode.INVALID:
        return ExitCode.INVALID

    heading(out, 8, "livesettings show: every value, where it came from, what it hides (.env vs environment)")
    Path(".env").write_text("DEMO_DATABASE__POOL_SIZE=30\n")
    os.environ["DEMO_DATABASE__POOL_SIZE"] = "50"
    try:
        _run_cli(out, ["show", target])
    finally:
        del os.environ["DEMO_DATABASE__POOL_SIZE"]
        Path(".env").unlink()

    heading(out, 9, "livesettings plan: what a pull request to config/app.yaml would do")
    Path("proposal.yaml").write_text(PROPOSAL)
    if _run_cli(out, ["plan", target, "--against", "proposal.yaml"]) != ExitCode.OK:
        return ExitCode.INVALID

    heading(out, 10, "livesettings history: the versions the tour wrote to history.jsonl (secrets masked)")
    _run_cli(out, ["history", target])
    return ExitCode.OK


def run(args: argparse.Namespace) -> int:
    out = Output()
    with _project(out) as workdir:
        out.line(out.style(f"livesettings demo in {workdir}", "bold"))
        cls = import_target("demo_settings:AppSettings")
        code = tour(out, cls, sys.modules["demo_settings"])
        if code == ExitCode.OK:
            code = command_line(out)
        if code == ExitCode.OK and args.interactive:
            from .watch import follow  # noqa: PLC0415

            out.line()
            out.line(out.style(f"Your turn: edit {workdir / 'config/app.yaml'} in an editor; every save shows "
                               "up below (Ctrl-C to stop and clean up).", "bold"))
            follow(Target("demo_settings:AppSettings", cls, "development"), out)
        out.line()
        out.line("Done; the temporary directory is removed." if code == ExitCode.OK else "The demo failed.")
    return code


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="the README's tour, in a temporary directory",
        description="Run the tour: load a YAML file, edit it and watch the change arrive, reject an invalid value, "
        "hold a restart field, roll back, then check / show / plan / history on the same project.",
    )
    parser.add_argument("--interactive", action="store_true", help="end by watching the file while you edit it")
    parser.set_defaults(run=run)
