"""``livesettings plan TARGET --against FILE``: what replacing one source file with FILE would do.

Like ``terraform plan`` for a config pull request: the candidate is loaded with the bytes of FILE
standing in for the source file (the loader's ``prefetched`` bytes; the real file is never
touched), validated, diffed against the configuration as the sources give it now, and every
change classified live / restart / refused / shadowed by the same pure ``plan()`` a reload
follows. The ``@on_change`` handlers that would run are listed, not called. Exit 1 if the
candidate is invalid or anything is refused, so CI can gate the pull request.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._diff import changes_at
from .._fields import collect_policies
from .._loader import Candidate, HotReloadLoader
from .._model import Effect, Plan, PlannedChange
from .._paths import under
from .._policy import Rules
from .._provenance import shadowed_edits
from .._digest import content_digest
from .._unknown import UnknownKey
from ..exceptions import ErrorDetail, ReloadError
from .common import (
    CommandError, ExitCode, Output, Target, add_json, add_target, change_json, change_mark, detail_json, open_target,
    print_rejection, shown_path, unknown_json, unknown_line,
)  # fmt: skip

__all__ = ["PlanReport", "plan_against", "register"]

_SUFFIX_FORMATS = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json", ".env": "dotenv"}
_EFFECT_STYLE = {Effect.LIVE: "green", Effect.RESTART: "yellow", Effect.REFUSED: "red", Effect.SHADOWED: "dim"}


@dataclass
class PlanReport:
    """What replacing ``source`` with ``against`` would do."""

    target: Target
    source: Path
    against: str
    error: ReloadError | None = None
    plan: Plan | None = None
    handlers: list[tuple[str, tuple[str, ...], bool]] = field(default_factory=list)
    unknown_keys: tuple[UnknownKey, ...] = ()

    @property
    def valid(self) -> bool:
        """The candidate validates and nothing is refused."""
        return self.error is None and self.plan is not None and self.plan.valid


def _format_of(name: str) -> str | None:
    if name.startswith(".env") or name.endswith(".env"):
        return "dotenv"
    return _SUFFIX_FORMATS.get(Path(name).suffix.lower())


def pick_source(current: Candidate, source: str | None, against: str) -> Path:
    """The source file FILE stands in for: ``--source``, else the one file read (of FILE's format)."""
    files = {p: st for p, st in current.ctx.files.items() if st.fmt != "secret"}
    listed = ", ".join(shown_path(p) or str(p) for p in files) or "none"
    if source is not None:
        path = Path(os.path.abspath(source))
        if path not in files:
            raise CommandError(f"--source {source} is not a file TARGET reads (it reads: {listed})")
        return path
    present = [p for p, st in files.items() if st.digest is not None]
    if len(present) == 1:
        return present[0]
    fmt = _format_of(Path(against).name)
    same = [p for p in present if files[p].fmt == fmt] or [p for p, st in files.items() if st.fmt == fmt]
    if len(same) == 1:
        return same[0]
    raise CommandError(f"TARGET reads several files ({listed}): say which one FILE replaces with --source")


def _read_against(against: str, limit: int) -> bytes:
    if against == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        try:
            with open(against, "rb") as fh:
                data = fh.read(limit + 1)
        except FileNotFoundError:
            raise CommandError(f"--against {against}: no such file") from None
        except OSError as exc:
            raise CommandError(f"--against {against}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ReloadError(f"cannot load {against}", [ErrorDetail(None, f"is over the limit of {limit} bytes", against)])
    return data


def _relabel(error: ReloadError, source: Path, against: str) -> ReloadError:
    """``error`` with FILE named where the loader named the source file it stood in for."""
    real, shown = str(source), against if against == "-" else os.path.abspath(against)
    details = [replace(d, source=shown) if d.source == real else d for d in error.details]
    relabelled = type(error)(error.summary.replace(real, shown_path(shown) or shown), details)
    relabelled.stage = error.stage
    return relabelled


def _handlers(target: Target, proposal: Plan, old: Any) -> list[tuple[str, tuple[str, ...], bool]]:
    """The ``@on_change`` methods a commit of ``proposal`` would call (they get the live changes)."""
    live = proposal.live
    found = []
    for name, spec in target.cls.__livesettings_handlers__:
        paths = spec.paths or ("",)
        hit = any(
            any(under(c.path, p) or (under(p, c.path) and changes_at(p, old, proposal.snapshot)) for c in live)
            for p in paths
        )
        if hit:
            found.append((name, spec.paths, spec.critical))
    return found


def _plan(loader: HotReloadLoader, target: Target, current: Candidate, candidate: Candidate) -> Plan:
    """The plan a reload would follow: the engine's rules on the loader's candidate (refusals in it)."""
    guarded = target.production and target.config.allow_in_production
    rules = Rules(collect_policies(target.cls.__snapshot__), guarded)
    shadowed = shadowed_edits(current.provenance, candidate.provenance)
    return loader.plan(current.snapshot, candidate.snapshot, rules, shadowed=shadowed, strict=False)


def plan_against(target: Target, against: str, source: str | None = None) -> PlanReport:
    """Plan replacing a source file of ``target`` with the file ``against`` (``"-"``: standard input).

    Raises:
        CommandError: FILE or ``--source`` cannot be found (usage), or the configuration as it is
            now does not load (invalid: there is nothing to plan against).
    """
    loader = target.loader(enabled=False)
    try:
        current = loader.load(reloading=False)
    except ReloadError as exc:
        raise CommandError(f"the current configuration does not load, so there is nothing to plan against:\n{exc}",
                           ExitCode.INVALID) from None
    loader.committed(current)
    path = pick_source(current, source, against)
    data = _read_against(against, target.config.max_file_bytes)
    report = PlanReport(target, path, against)
    try:
        candidate = loader.load(reloading=True, prefetched={path: (data, content_digest(data))})
    except ReloadError as exc:
        report.error = _relabel(exc, path, against)
        return report
    report.unknown_keys = tuple(
        replace(k, source=os.path.abspath(against)) if k.source == str(path) and against != "-" else k
        for k in candidate.unknown_keys
    )
    report.plan = _plan(loader, target, current, candidate)
    report.error = report.plan.error(target.name)
    report.handlers = _handlers(target, report.plan, current.snapshot)
    return report


def _describe(planned: PlannedChange) -> str:
    """The change in one line; a shadowed edit's values are already the losing source's masked text."""
    change = planned.change
    if planned.effect is Effect.SHADOWED:
        return f"{change.path}: {change.old_value} -> {change.new_value}"
    return change.describe()


def _counts(proposal: Plan | None) -> dict[str, int]:
    return {e.value: sum(1 for p in (proposal.changes if proposal else ()) if p.effect is e) for e in Effect}


def report_json(report: PlanReport) -> dict[str, Any]:
    error, proposal = report.error, report.plan
    return {
        "target": report.target.spec,
        "settings": report.target.name,
        "environment": report.target.environment,
        "source": shown_path(report.source),
        "against": report.against if report.against == "-" else shown_path(os.path.abspath(report.against)),
        "valid": report.valid,
        "stage": error.stage if error else None,
        "summary": error.summary if error else None,
        "errors": [detail_json(d) for d in error.details] if error else [],
        "changes": [
            {**change_json(p.change), "effect": p.effect.value, "reason": p.reason} for p in (proposal.changes if proposal else ())
        ],
        "counts": _counts(proposal),
        "note": proposal.note if proposal else "",
        "handlers": [{"name": n, "paths": list(paths), "critical": critical} for n, paths, critical in report.handlers],
        "unknown_keys": [unknown_json(k) for k in report.unknown_keys],
    }


def print_report(out: Output, report: PlanReport) -> None:
    target, proposal = report.target, report.plan
    against = report.against if report.against == "-" else shown_path(os.path.abspath(report.against))
    out.line(f"{target.spec} [{target.environment}]: replacing {shown_path(report.source)} with {against}")
    if proposal is None:
        assert report.error is not None
        print_rejection(out, report.error, indent="  ")
        return
    if not proposal.changes:
        out.line("  no changes")
    elif out.tty:
        rows = [[change_mark(out, p.change), _describe(p), p.effect.value, p.reason] for p in proposal.changes]
        out.table(["", "CHANGE", "EFFECT", "REASON"], rows, styles=["", "", "bold", "dim"])
    else:
        for p in proposal.changes:
            tail = f"{p.effect.value}: {p.reason}" if p.reason else p.effect.value
            out.line(f"  {change_mark(out, p.change)} {_describe(p)} [{tail}]")
    if proposal.note:
        out.line(f"  note: {proposal.note}")
    for key in report.unknown_keys:
        out.line(f"  {out.style('warning', 'yellow')}: {unknown_line(key)}")
    if report.handlers:
        names = ", ".join(f"{n} ({', '.join(paths) or 'any change'})" for n, paths, _ in report.handlers)
        out.line(f"  handlers that would run: {names}")
    counts = _counts(proposal)
    total = len(proposal.changes)
    summary = f"{total} change{'s' if total != 1 else ''}: " + ", ".join(f"{n} {e}" for e, n in counts.items())
    out.line("  " + summary)
    if report.error is not None:
        print_rejection(out, report.error, indent="  ")


def run(args: argparse.Namespace) -> int:
    with open_target(args) as target:
        report = plan_against(target, args.against, args.source)
    out = Output()
    if args.json:
        out.json(report_json(report))
    else:
        print_report(out, report)
    return ExitCode.OK if report.valid else ExitCode.INVALID


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plan", help="what replacing a source file with FILE would do",
        description="Validate FILE in place of one of TARGET's source files (the real file is not touched) and "
        "print each change as live, restart, refused or shadowed, and the @on_change handlers that would run. "
        "Exit 1 if FILE is invalid or a change is refused.",
    )
    add_target(parser)
    parser.add_argument("--against", required=True, metavar="FILE", help="the proposed file ('-': standard input)")
    parser.add_argument("--source", metavar="PATH",
                        help="the source file FILE replaces (default: the one file TARGET reads, or the one of FILE's format)")
    add_json(parser)
    parser.set_defaults(run=run)
