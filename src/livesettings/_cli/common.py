"""What every command shares: the TARGET import, exit codes, plain / coloured / JSON output, masking.

A command module has ``register(subparsers)``, which adds its parser and sets ``run`` (a function
of the parsed arguments returning an exit code). Everything a command prints goes through an
[Output][livesettings._cli.common.Output]; every value it prints goes through the one masking
rule (``safe_repr`` for text, [masked_json][livesettings._historyfile.masked_json] for JSON).
"""

from __future__ import annotations

import argparse
import enum
import importlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from .._config import ReloadConfig, current_environment, is_production
from .._historyfile import change_record, masked_json
from .._loader import HotReloadLoader
from .._model import Change
from .._provenance import Origin
from .._settings import ReloadableSettings
from .._unknown import UnknownKey
from ..exceptions import ErrorDetail, ReloadError

__all__ = [
    "CommandError", "ExitCode", "Output", "Target", "add_json", "add_target", "change_json", "detail_json",
    "location", "masked_json", "open_target", "origin_json", "shown_path", "unknown_json",
]  # fmt: skip


class ExitCode(enum.IntEnum):
    """The exit status of every command (fixed by the design)."""

    OK = 0
    INVALID = 1  # invalid or refused config
    USAGE = 2  # bad arguments, a TARGET or file that cannot be found
    CONFLICT = 3  # publish: someone else changed the config first


class CommandError(Exception):
    """Stops a command: ``livesettings: error: <message>`` on stderr, and ``code`` as the exit status."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- output


_STYLES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34", "cyan": "36"}


class Output:
    """Where a command prints: plain lines, colour and aligned tables on a terminal, or JSON.

    Colour and tables only when the stream is a terminal and ``NO_COLOR`` is not set
    (https://no-color.org); piped or in CI the output is plain lines that grep well.
    """

    def __init__(self, stream: IO[str] | None = None, *, tty: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty and isatty()) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        self.tty = tty

    def line(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def style(self, text: str, *styles: str) -> str:
        """``text`` in ``styles`` (``"red"``, ``"bold"`` ...) on a terminal, else as is."""
        if not self.tty or not styles:
            return text
        codes = ";".join(_STYLES[s] for s in styles)
        return f"\033[{codes}m{text}\033[0m"

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]], *, styles: Sequence[str] = ()) -> None:
        """Rows as an aligned table on a terminal, else one line per row, columns split by two spaces."""
        if not self.tty:
            for row in rows:
                self.line("  ".join(cell for cell in row if cell).rstrip())
            return
        widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
        self.line(self.style("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(), "bold"))
        for row in rows:
            cells = [
                self.style(c.ljust(w), styles[i]) if i < len(styles) and styles[i] else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths))
            ]
            self.line("  ".join(cells).rstrip())

    def json(self, data: Any, *, compact: bool = False) -> None:
        """``data`` as JSON: indented, or one line per document for a stream (``watch``)."""
        if compact:
            self.line(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        else:
            self.line(json.dumps(data, ensure_ascii=False, indent=2))


def error_line(message: str) -> None:
    """``livesettings: error: <message>`` on stderr."""
    print(f"livesettings: error: {message}", file=sys.stderr, flush=True)


def warn_line(message: str) -> None:
    """``livesettings: warning: <message>`` on stderr."""
    print(f"livesettings: warning: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- arguments


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (the documented, stable shape)")


def add_target(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    """TARGET, ``--app-dir`` and ``--env``."""
    parser.add_argument(
        "target", metavar="TARGET", nargs="?" if optional else None,
        help="the settings class, as module:Class (e.g. app.settings:AppSettings)",
    )
    parser.add_argument(
        "--app-dir", default=".", metavar="DIR",
        help="import TARGET with DIR on sys.path (default: the current directory)",
    )
    parser.add_argument(
        "--env", metavar="NAME",
        help="the environment to load for (sets LIVESETTINGS_ENV; default: the current one)",
    )


# --------------------------------------------------------------------------- the target


@dataclass(frozen=True)
class Target:
    """The imported settings class and the environment it is loaded for."""

    spec: str
    cls: type[ReloadableSettings]
    environment: str

    @property
    def name(self) -> str:
        return self.cls.__qualname__

    @property
    def config(self) -> ReloadConfig:
        return self.cls.reload_config

    @property
    def production(self) -> bool:
        return is_production(self.environment)

    def loader(self, **changes: Any) -> HotReloadLoader:
        """A fresh loader of the class's sources (``changes`` replace fields of its ``ReloadConfig``).

        A loader reads and validates; it starts no thread, calls no handler and logs no audit line.
        """
        config = replace(self.config, history_file=None, **changes)
        return HotReloadLoader(self.cls.__snapshot__, {}, config, self.name)


def import_target(spec: str) -> type[ReloadableSettings]:
    """The class ``spec`` (``module:Class``, or ``module:obj.Class``) names; uvicorn-style.

    Raises:
        CommandError: a malformed spec, a module or attribute that does not exist (usage), or a
            module that fails while being imported (a ``ReloadError`` there is an invalid config).
    """
    module_name, sep, attrs = spec.partition(":")
    if not sep or not module_name or not attrs:
        raise CommandError(f"TARGET must be module:Class (like app.settings:AppSettings), not {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise CommandError(
                f"cannot import module {module_name!r} (looked in {os.getcwd()} and sys.path; use --app-dir)"
            ) from None
        raise CommandError(f"importing {module_name!r} failed: {exc}", ExitCode.INVALID) from exc
    except ReloadError:
        raise  # the module built a settings object at import and its config is invalid
    except Exception as exc:
        raise CommandError(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}", ExitCode.INVALID) from exc
    obj: Any = module
    for attr in attrs.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise CommandError(f"module {module_name!r} has no attribute {attrs!r}") from None
    if isinstance(obj, ReloadableSettings):
        obj = type(obj)
    if not (isinstance(obj, type) and issubclass(obj, ReloadableSettings) and obj is not ReloadableSettings):
        raise CommandError(f"{spec} is not a ReloadableSettings class (got {type(obj).__name__})")
    return obj


@contextmanager
def open_target(args: argparse.Namespace) -> Iterator[Target]:
    """Import ``args.target`` with ``--app-dir`` on ``sys.path`` and ``--env`` in effect; both are
    put back afterwards (so ``main()`` can be called again in one process)."""
    app_dir = os.path.abspath(args.app_dir)
    if not os.path.isdir(app_dir):
        raise CommandError(f"--app-dir {args.app_dir!r} is not a directory")
    saved_env = os.environ.get("LIVESETTINGS_ENV")
    added = app_dir not in sys.path
    if added:
        sys.path.insert(0, app_dir)
    if getattr(args, "env", None):
        os.environ["LIVESETTINGS_ENV"] = args.env
    try:
        yield Target(args.target, import_target(args.target), current_environment())
    finally:
        if added and app_dir in sys.path:
            sys.path.remove(app_dir)
        if saved_env is None:
            os.environ.pop("LIVESETTINGS_ENV", None)
        else:
            os.environ["LIVESETTINGS_ENV"] = saved_env


# --------------------------------------------------------------------------- rendering


def shown_path(path: str | os.PathLike[str] | None) -> str | None:
    """A file path as people want to read it: relative to the working directory when below it."""
    if path is None:
        return None
    text = os.fspath(path)
    if not os.path.isabs(text):
        return text
    try:
        rel = Path(text).relative_to(Path.cwd())
    except ValueError:
        return text
    return rel.as_posix()


def location(source: str | None, line: int | None, column: int | None) -> str | None:
    """``file:line:column`` (what editors and CI problem matchers jump to), or the source as is."""
    if source is None:
        return None
    shown = shown_path(source) if not source.startswith("environment variable") else source
    if line is None:
        return shown
    return f"{shown}:{line}:{column}" if column is not None else f"{shown}:{line}"


def detail_line(detail: ErrorDetail) -> str:
    """``config/app.yaml:5:14: database.pool_size: <message>``: one problem, compiler-style."""
    where = location(detail.source, detail.line, detail.column)
    parts = [p for p in (where, detail.field, detail.message) if p]
    return ": ".join(parts)


def detail_json(detail: ErrorDetail) -> dict[str, Any]:
    return {
        "field": detail.field,
        "message": detail.message,
        "source": shown_path(detail.source) if detail.source and os.path.isabs(detail.source) else detail.source,
        "line": detail.line,
        "column": detail.column,
    }


def unknown_json(key: UnknownKey) -> dict[str, Any]:
    return {
        "path": key.path, "source": shown_path(key.source), "line": key.line, "column": key.column,
        "suggestion": key.suggestion,
    }


def unknown_line(key: UnknownKey) -> str:
    return detail_line(key.detail())


def origin_json(origin: Origin, *, value: Any = None, with_value: bool = False) -> dict[str, Any]:
    """An [Origin][livesettings.Origin] as JSON data; ``value`` (already masked) replaces its text."""
    data: dict[str, Any] = {
        "path": origin.path,
        "value": value if with_value else origin.value,
        "source": origin.source,
        "location": origin.location,
        "file": shown_path(origin.file),
        "line": origin.line,
        "column": origin.column,
        "variable": origin.variable,
    }
    data["shadowed"] = [
        {k: v for k, v in origin_json(o).items() if k not in ("path", "shadowed", "appended")} for o in origin.shadowed
    ]
    data["appended"] = [
        {k: v for k, v in origin_json(o).items() if k not in ("path", "shadowed", "appended")} for o in origin.appended
    ]
    return data


def change_json(change: Change) -> dict[str, Any]:
    """A leaf change as JSON data: ``path``, ``type``, ``value`` (the new one), ``old_value``, ``new_value``."""
    record = change_record(change)
    return {"path": record["path"], "type": record["type"], "value": record["new_value"],
            "old_value": record["old_value"], "new_value": record["new_value"]}


_MARKS = {"add": ("+", "green"), "modify": ("~", "yellow"), "delete": ("-", "red")}


def change_mark(out: Output, change: Change) -> str:
    """``+``, ``~`` or ``-`` (coloured on a terminal)."""
    mark, colour = _MARKS[change.type.value]
    return out.style(mark, colour)


def rejection_json(error: ReloadError) -> dict[str, Any]:
    """``{"summary", "stage", "errors"}`` of a rejected config."""
    return {"summary": error.summary, "stage": error.stage, "errors": [detail_json(d) for d in error.details]}


def print_rejection(out: Output, error: ReloadError, *, indent: str = "") -> None:
    """The reload's own summary, then one compiler-style line per problem."""
    out.line(indent + out.style(error.summary, "red", "bold"))
    for detail in error.details:
        out.line(f"{indent}  {detail_line(detail)}")
