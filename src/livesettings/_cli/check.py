"""``livesettings check TARGET``: load and validate the configuration, changing nothing (``nginx -t``).

The check drives the loader directly: it reads and validates every source exactly as start-up
and a reload do, so a rejection has the same details (file, line, column, field), but no
settings object is built: no file watcher or other thread starts, no ``@on_change`` handler
runs, nothing is written to the audit log or the history file.
``--strict`` also fails on keys no field accepts and on values hidden by a higher-priority source.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from .._provenance import Origin
from .._unknown import UnknownKey
from ..exceptions import ErrorDetail, ProductionReloadError, ReloadError
from .common import (
    ExitCode, Output, Target, add_json, add_target, detail_json, detail_line, open_target, origin_json,
    print_rejection, rejection_json, shown_path, unknown_json, unknown_line,
)  # fmt: skip

__all__ = ["CheckReport", "check_target", "register"]


@dataclass
class CheckReport:
    """What a check found."""

    target: Target
    error: ReloadError | None = None
    unknown_keys: tuple[UnknownKey, ...] = ()
    shadowed: tuple[Origin, ...] = ()
    files: tuple[tuple[str, bool], ...] = ()
    strict: bool = False
    problems: list[ErrorDetail] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """The configuration loads (and, with ``--strict``, has no unknown key nor shadowed value)."""
        return self.error is None and not self.problems


def _shadow_detail(origin: Origin) -> ErrorDetail:
    hidden = ", ".join(f"{o.location} = {o.value}" for o in origin.shadowed)
    return ErrorDetail(
        origin.path, f"{origin.value} from {origin.location} hides {hidden}",
        origin.file or origin.location, origin.line, origin.column,
    )


def check_target(target: Target, *, strict: bool = False) -> CheckReport:
    """Load and validate ``target``'s sources with no side effects (see the module docstring)."""
    report = CheckReport(target, strict=strict)
    config = target.config
    try:
        config.watching(target.environment)  # what the constructor would refuse in production
    except ProductionReloadError as exc:
        report.error = ReloadError(f"cannot start {target.name}", [ErrorDetail(None, str(exc))])
        return report
    unknown = config.unknown_keys
    if strict and unknown == "ignore":
        unknown = "warn"
    loader = target.loader(unknown_keys=unknown, enabled=False)
    try:
        candidate = loader.load(reloading=False)
    except ReloadError as exc:
        report.error = exc
        return report
    report.files = tuple((shown_path(p) or str(p), st.digest is not None) for p, st in candidate.ctx.files.items()
                         if st.fmt != "secret" or st.digest is not None)
    report.unknown_keys = candidate.unknown_keys
    report.shadowed = tuple(o for o in candidate.provenance.leaves() if o.shadowed)
    if strict:
        report.problems = [k.detail() for k in report.unknown_keys] + [_shadow_detail(o) for o in report.shadowed]
    return report


def report_json(report: CheckReport) -> dict[str, Any]:
    error = report.error
    errors = [detail_json(d) for d in error.details] if error else [detail_json(d) for d in report.problems]
    return {
        "target": report.target.spec,
        "settings": report.target.name,
        "environment": report.target.environment,
        "valid": report.valid,
        "strict": report.strict,
        "stage": (error.stage if error else "strict" if report.problems else None),
        "summary": rejection_json(error)["summary"] if error else None,
        "errors": errors,
        "unknown_keys": [unknown_json(k) for k in report.unknown_keys],
        "shadowed": [origin_json(o) for o in report.shadowed],
        "files": [{"path": p, "present": present} for p, present in report.files],
    }


def print_report(out: Output, report: CheckReport) -> None:
    target = report.target
    head = f"{target.spec} [{target.environment}]"
    if report.error is not None:
        out.line(f"{head}: {out.style('the configuration is invalid', 'red', 'bold')}")
        print_rejection(out, report.error, indent="  ")
        return
    if report.problems:
        count = len(report.problems)
        out.line(f"{head}: the configuration loads, but "
                 f"{out.style(f'--strict found {count} problem' + ('s' if count != 1 else ''), 'red', 'bold')}")
        for detail in report.problems:
            out.line(f"  {detail_line(detail)}")
    else:
        out.line(f"{head}: {out.style('the configuration is valid', 'green', 'bold')}")
    if report.files:
        out.line("  read " + ", ".join(p if present else f"{p} (not present)" for p, present in report.files))
    if not report.strict:
        for key in report.unknown_keys:
            out.line(f"  {out.style('warning', 'yellow')}: {unknown_line(key)}")


def run(args: argparse.Namespace) -> int:
    with open_target(args) as target:
        report = check_target(target, strict=args.strict)
    out = Output()
    if args.json:
        out.json(report_json(report))
    else:
        print_report(out, report)
    return ExitCode.OK if report.valid else ExitCode.INVALID


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check", help="load and validate the configuration, changing nothing",
        description="Load and validate TARGET's sources as start-up would, with no side effects "
        "(no watcher, no handlers, no audit or history writes). Exit 1 if the configuration is invalid.",
    )
    add_target(parser)
    parser.add_argument("--strict", action="store_true",
                        help="also fail on keys no field accepts and on values a higher-priority source hides")
    add_json(parser)
    parser.set_defaults(run=run)
