"""The operator's read-only commands: ``check``, ``show``, ``plan``, ``schema`` and ``diff``.

Each one loads through the engine's own [loader][livesettings.components.HotReloadLoader] and
plans with the engine's own [plan][livesettings.Plan], so what they say is what a reload does.
None of them starts a watcher, runs a handler or writes an audit line: they build no engine.
Every value they print goes through the masking rule.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from . import _parsers
from ._config import is_production
from ._diff import diff_snapshots
from ._digest import content_digest
from ._fields import collect_policies
from ._loader import Candidate, HotReloadLoader
from ._model import Change, ChangeType, Effect, Plan
from ._paths import under
from ._policy import Rules
from ._provenance import Origin, shadowed_edits
from ._redact import safe_repr
from .exceptions import ErrorDetail, ReloadError

__all__ = ["register"]

OK, INVALID, USAGE = 0, 1, 2
_FORMATS = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json", ".env": "dotenv"}


class CommandError(Exception):
    """A usage problem the command line reports with exit code 2."""


def register(sub: Any, load_target: Any) -> None:
    """Add the commands to ``sub`` (argparse subparsers); ``load_target(target, app_dir)`` imports a class."""

    def target(p: argparse.ArgumentParser) -> None:
        p.add_argument("target", metavar="TARGET", help="the settings class, as module:Class")
        p.add_argument("--app-dir", default=".", help="directory to import TARGET from (default: the current one)")
        p.add_argument("--env", metavar="NAME", help="the environment to load for (sets LIVESETTINGS_ENV)")

    def json_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("check", help="load and validate TARGET's sources, applying nothing (like nginx -t)")
    target(p)
    json_flag(p)
    p.add_argument("--strict", action="store_true", help="also fail on unknown keys and shadowed values")
    p.set_defaults(run=lambda a, out: _check(load_target(a.target, a.app_dir), a, out))

    p = sub.add_parser("show", help="every leaf with its value, the source that won and what it shadowed")
    target(p)
    json_flag(p)
    p.set_defaults(run=lambda a, out: _show(load_target(a.target, a.app_dir), a, out))

    p = sub.add_parser("plan", help="what replacing a source file with FILE would do (like terraform plan)")
    target(p)
    json_flag(p)
    p.add_argument("--against", required=True, metavar="FILE", help="the proposed content of the source file")
    p.add_argument("--source", metavar="PATH", help="the source file FILE replaces (needed when TARGET reads several)")
    p.set_defaults(run=lambda a, out: _plan(load_target(a.target, a.app_dir), a, out))

    p = sub.add_parser("schema", help="the JSON Schema of TARGET's settings, for editors")
    p.add_argument("target", metavar="TARGET", help="the settings class, as module:Class")
    p.add_argument("--app-dir", default=".", help="directory to import TARGET from (default: the current one)")
    p.add_argument("--output", metavar="FILE", help="write the schema to FILE instead of printing it")
    p.set_defaults(run=lambda a, out: _schema(load_target(a.target, a.app_dir), a, out))

    p = sub.add_parser("diff", help="the leaf changes from config file A to config file B")
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    json_flag(p)
    p.set_defaults(run=_diff)


# --------------------------------------------------------------------------- loading


@contextmanager
def _environment(name: str | None) -> Iterator[None]:
    saved = os.environ.get("LIVESETTINGS_ENV")
    if name is not None:
        os.environ["LIVESETTINGS_ENV"] = name
    try:
        yield
    finally:
        if name is not None:
            if saved is None:
                os.environ.pop("LIVESETTINGS_ENV", None)
            else:
                os.environ["LIVESETTINGS_ENV"] = saved


def _loader(cls: type) -> HotReloadLoader:
    snapshot_cls = getattr(cls, "__snapshot__", None)
    if snapshot_cls is None:
        raise CommandError(f"{cls.__qualname__} is not a livesettings ReloadableSettings class")
    return HotReloadLoader(snapshot_cls, {}, cls.reload_config, cls.__qualname__)  # type: ignore[attr-defined]


def _rules(cls: type, env: str | None) -> Rules:
    config = cls.reload_config  # type: ignore[attr-defined]
    return Rules(collect_policies(cls.__snapshot__), is_production(env) and config.allow_in_production)  # type: ignore[attr-defined]


def _emit(out: TextIO, body: Any) -> None:
    json.dump(body, out, indent=2)
    out.write("\n")


def _detail(d: ErrorDetail) -> dict[str, Any]:
    return {"path": d.field, "message": d.message, "source": d.source, "line": d.line, "column": d.column}


def _print_error(error: ReloadError, out: TextIO, as_json: bool) -> int:
    if as_json:
        _emit(out, {"valid": False, "errors": [_detail(d) for d in error.details] or [{"message": str(error)}]})
    else:
        print(error, file=out)
    return INVALID


def _hidden(origin: Origin) -> list[Origin]:
    """The shadowed sources that held a different value than the winner (the classic trap)."""
    return [o for o in origin.shadowed if o.value != origin.value]


# --------------------------------------------------------------------------- commands


def _check(cls: type, args: argparse.Namespace, out: TextIO) -> int:
    with _environment(args.env):
        try:
            candidate = _loader(cls).load(reloading=False)
        except ReloadError as exc:
            return _print_error(exc, out, args.json)
    unknown = candidate.unknown_keys
    shadowing = [o for o in candidate.provenance.leaves() if _hidden(o)] if args.strict else []
    failed = bool(args.strict and (unknown or shadowing))
    if args.json:
        _emit(out, {
            "valid": not failed,
            "errors": [],
            "unknown_keys": [
                {"path": k.path, "source": k.source, "line": k.line, "column": k.column, "suggestion": k.suggestion}
                for k in unknown
            ],
            "shadowed": [_origin_json(o) for o in shadowing],
        })
        return INVALID if failed else OK
    for key in unknown:
        print(f"warning: {key}", file=out)
    for origin in shadowing:
        hidden = ", ".join(f"{o.location} = {o.value}" for o in _hidden(origin))
        print(f"warning: {origin.path} = {origin.value} from {origin.location} hides {hidden}", file=out)
    verdict = "invalid (--strict)" if failed else "ok"
    print(f"{cls.__qualname__}: configuration {verdict}", file=out)
    return INVALID if failed else OK


def _origin_json(origin: Origin) -> dict[str, Any]:
    return {
        "path": origin.path,
        "value": origin.value,
        "source": origin.location,
        "kind": origin.source,
        "shadowed": [{"value": o.value, "source": o.location, "kind": o.source} for o in origin.shadowed],
    }


def _show(cls: type, args: argparse.Namespace, out: TextIO) -> int:
    with _environment(args.env):
        try:
            candidate = _loader(cls).load(reloading=False)
        except ReloadError as exc:
            return _print_error(exc, out, args.json)
    leaves = list(candidate.provenance.leaves())
    if args.json:
        _emit(out, {"leaves": [_origin_json(o) for o in leaves]})
        return OK
    rows = [("PATH", "VALUE", "SOURCE", "SHADOWS")]
    for o in leaves:
        rows.append((o.path, o.value, o.location, ", ".join(f"{s.location} = {s.value}" for s in o.shadowed)))
    _table(rows, out)
    return OK


def _table(rows: Sequence[tuple[str, ...]], out: TextIO) -> None:
    widths = [min(60, max(len(r[i]) for r in rows)) for i in range(len(rows[0]))]
    bold = out.isatty()
    for n, row in enumerate(rows):
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
        print(f"\033[1m{line}\033[0m" if bold and n == 0 else line, file=out)


def _source_path(candidate: Candidate, args: argparse.Namespace) -> Path:
    files = [p for p, st in candidate.ctx.files.items() if st.fmt in ("yaml", "toml", "json", "dotenv")]
    if args.source is not None:
        wanted = Path(os.path.abspath(args.source))
        if wanted not in candidate.ctx.files:
            raise CommandError(f"{args.source} is not one of the files TARGET reads: {', '.join(map(str, files))}")
        return wanted
    structured = [p for p in files if candidate.ctx.files[p].fmt != "dotenv"]  # .env only when named
    if len(structured) != 1:
        raise CommandError(f"TARGET reads {len(files)} files; name the one FILE replaces with --source")
    return structured[0]


def _plan(cls: type, args: argparse.Namespace, out: TextIO) -> int:
    against = Path(args.against)
    if not against.is_file():
        raise CommandError(f"no such file: {against}")
    with _environment(args.env):
        loader = _loader(cls)
        try:
            current = loader.load(reloading=False)
        except ReloadError as exc:
            print("the sources as they are now are invalid already:", file=sys.stderr)
            return _print_error(exc, out, args.json)
        source = _source_path(current, args)
        data = against.read_bytes()
        loader.committed(current)  # the missing/empty-file rules compare with what is serving
        try:
            candidate = loader.load(reloading=True, prefetched={source: (data, content_digest(data))})
            edits = shadowed_edits(current.provenance, candidate.provenance)
            shadowed = tuple((Change(e.path, ChangeType.MODIFY, e.old_value, e.new_value), str(e)) for e in edits)
            proposal = loader.plan(current.snapshot, candidate.snapshot, _rules(cls, args.env), shadowed=shadowed)
        except ReloadError as exc:
            refused = getattr(exc, "stage", None) == "change rules"
            if args.json:
                _emit(out, {"valid": False, "source": str(source), "against": str(against),
                            "errors": [_detail(d) for d in exc.details], "changes": []})
            else:
                print(f"{'refused' if refused else 'invalid'}: {exc}", file=out)
            return INVALID
    handlers = _handlers(cls, proposal)
    if args.json:
        _emit(out, {
            "valid": True,
            "source": str(source),
            "against": str(against),
            "errors": [],
            "changes": [_planned_json(p) for p in proposal.changes],
            "handlers": handlers,
            "unknown_keys": [{"path": k.path, "line": k.line, "column": k.column} for k in candidate.unknown_keys],
        })
        return OK
    if not proposal.changes:
        print(f"{source}: no changes", file=out)
        return OK
    print(f"{source} -> {against}: {len(proposal.changes)} change(s)", file=out)
    for planned in proposal.changes:
        print(f"  {planned.describe()}", file=out)
    for key in candidate.unknown_keys:
        print(f"  warning: {key}", file=out)
    if handlers:
        print(f"handlers that would run: {', '.join(handlers)}", file=out)
    return OK


def _planned_json(planned: Any) -> dict[str, Any]:
    c = planned.change
    shown = c.new_value if planned.effect is Effect.SHADOWED else safe_repr(c.new_value, c.path)
    old = c.old_value if planned.effect is Effect.SHADOWED else safe_repr(c.old_value, c.path)
    return {"path": c.path, "type": c.type.value, "value": shown, "old_value": old,
            "effect": planned.effect.value, "reason": planned.reason}


def _handlers(cls: type, proposal: Plan) -> list[str]:
    live = [c.path for c in proposal.live]
    names = []
    for attr, spec in getattr(cls, "__livesettings_handlers__", ()):
        paths = spec.paths or ("",)
        if any(under(change, p) or under(p, change) for change in live for p in paths):
            names.append(f"{cls.__qualname__}.{attr}")
    return names


def _schema(cls: type, args: argparse.Namespace, out: TextIO) -> int:
    snapshot_cls = getattr(cls, "__snapshot__", None)
    if snapshot_cls is None:
        raise CommandError(f"{cls.__qualname__} is not a livesettings ReloadableSettings class")
    schema = snapshot_cls.model_json_schema()
    schema["title"] = cls.__qualname__
    text = json.dumps(schema, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote the JSON Schema of {cls.__qualname__} to {args.output}", file=out)
    else:
        out.write(text)
    return OK


def _read(path: str) -> Mapping[str, Any]:
    p = Path(path)
    fmt = _FORMATS.get(p.suffix.lower()) or ("dotenv" if p.name.startswith(".env") else None)
    if fmt is None:
        raise CommandError(f"cannot tell the format of {path} from its name (.yaml, .yml, .toml, .json, .env)")
    if not p.is_file():
        raise CommandError(f"no such file: {path}")
    return _parsers.parse(fmt, p.read_bytes(), str(p), _parsers.ParseLimits()) or {}


def _diff(args: argparse.Namespace, out: TextIO) -> int:
    try:
        old, new = _read(args.a), _read(args.b)
    except ReloadError as exc:
        return _print_error(exc, out, args.json)
    changes = diff_snapshots(dict(old), dict(new), share=False)
    if args.json:
        _emit(out, {"changes": [
            {"path": c.path, "type": c.type.value, "value": safe_repr(c.new_value, c.path),
             "old_value": safe_repr(c.old_value, c.path)}
            for c in changes
        ]})
        return OK
    for change in changes:
        print(change.describe(), file=out)
    if not changes:
        print("no changes", file=out)
    return OK
