"""``livesettings history TARGET``: the versions recorded in the history file, oldest first.

The file is the class's ``ReloadConfig(history_file=...)`` (or ``--file``), with its rotated
files; it survives restarts (a new run numbers its versions from 1 again, and its ``pid`` differs).
Values in it were masked when they were written.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from .._historyfile import read_history
from .common import CommandError, ExitCode, Output, add_json, add_target, open_target, shown_path, warn_line

__all__ = ["register"]


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def change_text(change: dict[str, Any]) -> str:
    path, kind = change.get("path"), change.get("type")
    if kind == "add":
        return f"+ {path}: added {_value(change.get('new_value'))}"
    if kind == "delete":
        return f"- {path}: removed (was {_value(change.get('old_value'))})"
    return f"~ {path}: {_value(change.get('old_value'))} -> {_value(change.get('new_value'))}"


def run(args: argparse.Namespace) -> int:
    if args.target is None and args.file is None:
        raise CommandError("give TARGET (whose ReloadConfig names the history_file) or --file")
    path = args.file
    if path is None:
        with open_target(args) as target:
            path = target.config.history_file
            if path is None:
                raise CommandError(f"{target.spec} has no ReloadConfig(history_file=...); pass --file")
    path = os.path.abspath(os.fspath(path))
    records, bad = read_history(path)
    if args.last is not None:
        records = records[-args.last:] if args.last > 0 else []
    if bad:
        warn_line(f"{bad} line{'s' if bad != 1 else ''} of {shown_path(path)} could not be read and were skipped")
    out = Output()
    if args.json:
        out.json({"file": shown_path(path), "versions": records})
        return ExitCode.OK
    if not records:
        out.line(f"no versions recorded in {shown_path(path)}" + ("" if os.path.exists(path) else " (no such file yet)"))
        return ExitCode.OK
    if out.tty:
        rows = []
        for r in records:
            texts = [change_text(c) for c in r.get("changes", ())] or ["-"]
            head = [f"#{r.get('number')}", str(r.get("id")), str(r.get("source")), f"pid {r.get('pid')}"]
            rows.append([*head, texts[0]])
            rows.extend(["", "", "", "", t] for t in texts[1:])
        out.table(["#", "ID", "SOURCE", "PROCESS", "CHANGES"], rows, styles=["dim", "", "cyan", "dim", ""])
        return ExitCode.OK
    for r in records:
        restores = f" (restores {r['restores']})" if r.get("restores") else ""
        out.line(f"#{r.get('number')} {r.get('id')} {r.get('source')}{restores} pid {r.get('pid')}")
        for change in r.get("changes", ()):
            out.line(f"  {change_text(change)}")
    return ExitCode.OK


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "history", help="the versions recorded in the history file",
        description="Print the versions TARGET's ReloadConfig(history_file=...) recorded (also across restarts).",
    )
    add_target(parser, optional=True)
    parser.add_argument("--file", metavar="PATH", help="read this history file (default: TARGET's history_file)")
    parser.add_argument("--last", type=int, metavar="N", help="only the last N versions")
    add_json(parser)
    parser.set_defaults(run=run)
