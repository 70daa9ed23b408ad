"""``livesettings show TARGET``: every setting, its (masked) value, the source that won and what it hid.

The classic trap it answers: a value in ``.env`` that never takes effect because an environment
variable sets the same key. Like ``check`` it only loads (no watcher, no handler, no audit line).
"""

from __future__ import annotations

import argparse
from typing import Any

from .._paths import find
from .._provenance import Origin
from ..exceptions import ReloadError
from .common import (
    ExitCode, Output, Target, add_json, add_target, masked_json, open_target, origin_json, print_rejection,
    rejection_json,
)  # fmt: skip

__all__ = ["register", "show_target"]


def show_target(target: Target) -> tuple[list[Origin], Any]:
    """The origin of every leaf of ``target``'s configuration as loaded now, and the snapshot.

    Raises:
        ReloadError: the configuration is invalid.
    """
    candidate = target.loader(enabled=False).load(reloading=False)
    return list(candidate.provenance.leaves()), candidate.snapshot


def _shadows(origin: Origin) -> str:
    return ", ".join(f"{o.location} = {o.value}" for o in origin.shadowed)


def _appended(origin: Origin) -> str:
    """Each file's part of a list concatenated from several files (``merge="append"``)."""
    return ", ".join(f"{o.location} = {o.value}" for o in origin.appended)


def run(args: argparse.Namespace) -> int:
    out = Output()
    with open_target(args) as target:
        try:
            leaves, snapshot = show_target(target)
        except ReloadError as exc:
            if args.json:
                out.json({"target": target.spec, "settings": target.name, "valid": False, **rejection_json(exc),
                          "leaves": []})
            else:
                print_rejection(out, exc)
            return ExitCode.INVALID
    if args.json:
        out.json({
            "target": target.spec,
            "settings": target.name,
            "environment": target.environment,
            "valid": True,
            "leaves": [origin_json(o, value=masked_json(find(snapshot, o.path), o.path), with_value=True) for o in leaves],
        })
        return ExitCode.OK
    if out.tty:
        rows = [[o.path, o.value, o.location + (f" (appended: {_appended(o)})" if o.appended else ""), _shadows(o)]
                for o in leaves]
        out.table(["SETTING", "VALUE", "SOURCE", "SHADOWS"], rows, styles=["", "", "cyan", "yellow"])
    else:
        for o in leaves:
            tail = f"  (appended: {_appended(o)})" if o.appended else ""
            tail += f"  (shadows {_shadows(o)})" if o.shadowed else ""
            out.line(f"{o.path} = {o.value}  {o.location}{tail}")
    return ExitCode.OK


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "show", help="every setting with its value, winning source and shadowed sources",
        description="Load TARGET (no side effects) and print every setting: its value (secrets masked), "
        "the source that won (file:line:column, environment variable, .env line, default) and the sources it hid.",
    )
    add_target(parser)
    add_json(parser)
    parser.set_defaults(run=run)
