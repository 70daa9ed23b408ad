"""``livesettings diff A B``: the leaf changes between two config files, secrets masked (``kubectl diff``).

No TARGET is needed: both files are parsed with livesettings' strict parsers (duplicate keys,
YAML alias bombs and bad encodings are errors with a line and column) and compared leaf by
leaf. Masking follows the credential-name and URL-password rules (without TARGET there are no
field types, so a ``SecretStr`` field with an innocent name is not known to be secret).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import _parsers
from .._diff import diff_snapshots
from .._model import Change
from ..exceptions import ReloadError
from .common import (
    CommandError, ExitCode, Output, add_json, change_json, change_mark, print_rejection, rejection_json, shown_path,
)  # fmt: skip

__all__ = ["diff_files", "register"]

_FORMATS = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json", ".env": "dotenv"}


def format_of(path: Path, given: str | None = None) -> str:
    """The format of ``path``: ``given``, else from its name (``.env``, ``.env.prod`` and ``*.env`` are dotenv)."""
    if given:
        return given
    if path.name.startswith(".env") or path.suffix == ".env":
        return "dotenv"
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CommandError(f"cannot tell the format of {path} from its name: use --format")
    return fmt


def read_config(path: Path, fmt: str | None = None) -> dict[str, Any]:
    """The parsed content of one config file (``{}`` for an empty one).

    Raises:
        CommandError: the file does not exist (usage).
        SourceError: it does not parse.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror or exc}") from None
    return _parsers.parse(format_of(path, fmt), data, shown_path(path.resolve()) or str(path)) or {}


def diff_files(a: Path, b: Path, fmt: str | None = None) -> tuple[Change, ...]:
    """The leaf changes from file ``a`` to file ``b``."""
    return diff_snapshots(read_config(a, fmt), read_config(b, fmt), share=False)


def run(args: argparse.Namespace) -> int:
    out = Output()
    a, b = Path(args.a), Path(args.b)
    try:
        changes = diff_files(a, b, args.format)
    except ReloadError as exc:
        if args.json:
            out.json({"a": args.a, "b": args.b, "valid": False, **rejection_json(exc), "changes": []})
        else:
            print_rejection(out, exc)
        return ExitCode.INVALID
    if args.json:
        out.json({"a": args.a, "b": args.b, "valid": True, "changes": [change_json(c) for c in changes]})
        return ExitCode.OK
    if not changes:
        out.line(f"no differences between {args.a} and {args.b}")
    for change in changes:
        out.line(f"{change_mark(out, change)} {change.describe()}")
    return ExitCode.OK


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diff", help="the leaf changes between two config files (secrets masked)",
        description="Compare two config files leaf by leaf (YAML, TOML, JSON or .env; no TARGET needed). "
        "Exit 0 whether or not they differ, 1 if one does not parse.",
    )
    parser.add_argument("a", metavar="A", help="the old file")
    parser.add_argument("b", metavar="B", help="the new file")
    parser.add_argument("--format", choices=["yaml", "toml", "json", "dotenv"], help="the files' format (default: from the names)")
    add_json(parser)
    parser.set_defaults(run=run)
