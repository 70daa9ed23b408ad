"""``publish`` and ``fleet``: the etcd side of the command line (see "Running a fleet").

``publish`` validates a file against a settings class, then writes it to etcd with a
compare-and-swap (or republishes an earlier revision); ``fleet`` lists every instance's last
ACK/NACK record and can wait until all have acknowledged a revision. The etcd client is
imported only when one of these runs (extra ``livesettings[etcd]``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from .._redact import mask_url_passwords

__all__ = ["register"]

OK, INVALID, USAGE, CONFLICT = 0, 1, 2, 3


class _UsageError(Exception):
    pass


def register(subparsers: Any) -> None:
    """Add ``publish`` and ``fleet``."""

    def etcd_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--etcd", required=True, metavar="URL", help="etcd client URL(s), comma-separated")
        p.add_argument("--prefix", required=True, metavar="P", help="the config's key prefix, like apps/web/")
        p.add_argument("--ca-cert", help="CA bundle for https endpoints")
        p.add_argument("--cert", dest="cert_cert", help="client certificate (mutual TLS)")
        p.add_argument("--key", dest="cert_key", help="client key (mutual TLS)")
        p.add_argument("--user", help="etcd user (the password is read from LIVESETTINGS_ETCD_PASSWORD)")
        p.add_argument("--json", action="store_true", help="print JSON")

    pub = subparsers.add_parser("publish", help="validate FILE against TARGET, then write it to etcd (compare-and-swap)")
    pub.add_argument("target", metavar="TARGET", help="the settings class, as module:Class")
    pub.add_argument("file", metavar="FILE", nargs="?", help="the YAML or JSON document to publish")
    pub.add_argument("--expect-revision", type=int, metavar="R", help="write only if nothing changed since R")
    pub.add_argument("--rollback-to", type=int, metavar="R", help="republish what the prefix held at revision R")
    pub.add_argument("--app-dir", default=".", help="directory to import TARGET from (default: the current one)")
    etcd_options(pub)
    pub.set_defaults(run=lambda args: _run(_publish, args))

    fleet = subparsers.add_parser("fleet", help="show every instance's last ACK/NACK record")
    fleet.add_argument("--wait-revision", type=int, metavar="R", help="wait until every instance acknowledged R")
    fleet.add_argument("--timeout", type=float, default=60.0, metavar="S", help="how long --wait-revision waits")
    etcd_options(fleet)
    fleet.set_defaults(run=lambda args: _run(_fleet, args))


def _run(command: Any, args: argparse.Namespace) -> int:
    try:
        from .._etcd.client import EtcdError  # noqa: PLC0415 - the extra is needed only here
    except ImportError:
        print("livesettings: this command needs etcd3gw: pip install 'livesettings[etcd]'", file=sys.stderr)
        return USAGE
    try:
        return int(command(args, sys.stdout))
    except _UsageError as exc:
        print(f"livesettings: {exc}", file=sys.stderr)
        return USAGE
    except EtcdError as exc:
        print(f"livesettings: {mask_url_passwords(str(exc))}", file=sys.stderr)
        return INVALID


def _client(args: argparse.Namespace) -> Any:
    import os  # noqa: PLC0415

    from .._etcd.client import EtcdClient  # noqa: PLC0415

    try:
        return EtcdClient(
            args.etcd, ca_cert=args.ca_cert, cert_cert=args.cert_cert, cert_key=args.cert_key,
            username=args.user, password=os.environ.get("LIVESETTINGS_ETCD_PASSWORD") if args.user else None,
        )
    except ValueError as exc:
        raise _UsageError(str(exc)) from None


def _prefix(args: argparse.Namespace) -> str:
    from .._etcd.source import normalise_prefix  # noqa: PLC0415

    try:
        return normalise_prefix(args.prefix)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None


def load_target(target: str, app_dir: str = ".") -> type:
    """Import ``module:Class`` with ``app_dir`` first on ``sys.path``."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise _UsageError(f"TARGET must be module:Class, got {target!r}")
    path = str(Path(app_dir).resolve())
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise _UsageError(f"cannot import {module_name!r}: {exc}") from None
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise _UsageError(f"{module_name!r} has no {attr!r}")
    if not isinstance(obj, type):
        raise _UsageError(f"{target} is not a class")
    return obj


def _print_errors(what: str, details: Sequence[Any], out: TextIO, as_json: bool) -> None:
    if as_json:
        items = [
            {"path": d.field, "message": d.message, "source": d.source, "line": d.line, "column": d.column}
            for d in details
        ]
        json.dump({"valid": False, "errors": items}, out, indent=2)
        out.write("\n")
        return
    print(f"{what}: invalid, nothing written ({len(details)} error{'s' if len(details) != 1 else ''})", file=sys.stderr)
    for d in details:
        where = d.source or ""
        if d.line is not None:
            where += f":{d.line}" + (f":{d.column}" if d.column is not None else "")
        head = f"{where}: " if where else ""
        print(f"  {head}{d.field + ': ' if d.field else ''}{d.message}", file=sys.stderr)


def _publish(args: argparse.Namespace, out: TextIO) -> int:
    from .._etcd.client import RevisionCompacted  # noqa: PLC0415
    from .._etcd.publish import publish_state, read_revision, validate_file, validate_state  # noqa: PLC0415

    if (args.file is None) == (args.rollback_to is None):
        raise _UsageError("publish needs exactly one of FILE or --rollback-to R")
    cls = load_target(args.target, args.app_dir)
    prefix = _prefix(args)
    client = _client(args)
    if args.file is not None:
        path = Path(args.file)
        if not path.is_file():
            raise _UsageError(f"no such file: {path}")
        data, problems = validate_file(cls, path)
        what = str(path)
        kvs = {prefix: data}
    else:
        try:
            state = read_revision(client, prefix, args.rollback_to)
        except RevisionCompacted:
            print(
                f"livesettings: revision {args.rollback_to} was compacted; etcd no longer keeps it "
                "(publish the file you want instead)", file=sys.stderr,
            )
            return INVALID
        problems = validate_state(cls, state, prefix)
        what = f"{prefix} at revision {args.rollback_to}"
        kvs = dict(state.kvs)
        if not kvs:
            print(f"livesettings: {prefix} held no keys at revision {args.rollback_to}; nothing written", file=sys.stderr)
            return INVALID
    if problems:
        _print_errors(what, problems, out, args.json)
        return INVALID
    result = publish_state(client, prefix, kvs, expect=args.expect_revision)
    if args.json:
        json.dump({"published": result.ok, "base": result.base, "revision": result.revision, "current": result.current}, out)
        out.write("\n")
    if not result.ok:
        print(
            f"livesettings: conflict: {prefix} changed after revision {result.base} (store now at {result.current}); "
            "nothing written", file=sys.stderr,
        )
        return CONFLICT
    if not args.json:
        source = f"revision {args.rollback_to}" if args.rollback_to is not None else str(args.file)
        print(f"published {source} to {prefix} at revision {result.revision} (based on revision {result.base})", file=out)
    return OK


def _age(stamp: Any) -> str:
    try:
        when = datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return "?"
    seconds = max(0.0, (datetime.now(timezone.utc) - when).total_seconds())
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"


def _fleet(args: argparse.Namespace, out: TextIO) -> int:
    from .._etcd.publish import fleet_status, wait_for_revision  # noqa: PLC0415

    prefix = _prefix(args)
    client = _client(args)
    outcome = None
    if args.wait_revision is not None:
        outcome, fleet = wait_for_revision(client, prefix, args.wait_revision, args.timeout)
    else:
        fleet = fleet_status(client, prefix)
    if args.json:
        body: dict[str, Any] = {"prefix": prefix, "revision": fleet.revision, "instances": fleet.records}
        if outcome is not None:
            body["wait"] = {"revision": args.wait_revision, "result": outcome}
        json.dump(body, out, indent=2)
        out.write("\n")
    else:
        _fleet_table(prefix, fleet, out)
    if outcome is None:
        return OK
    if outcome == "ok":
        if not args.json:
            print(f"all {len(fleet.records)} instance(s) acknowledged revision {args.wait_revision}", file=out)
        return OK
    if outcome == "rejected":
        bad = ", ".join(str(r.get("instance")) for r in fleet.rejected(args.wait_revision))
        print(f"livesettings: rejected by {bad}", file=sys.stderr)
    else:
        late = ", ".join(str(r.get("instance")) for r in fleet.pending(args.wait_revision)) or "no instances reported"
        print(f"livesettings: timed out after {args.timeout:g} s waiting for revision {args.wait_revision}: {late}", file=sys.stderr)
    return INVALID


def _fleet_table(prefix: str, fleet: Any, out: TextIO) -> None:
    rows = [["INSTANCE", "REVISION", "STATUS", "VERSION", "HOST", "PID", "AGE", "ERROR"]]
    for r in fleet.records:
        error = str(r.get("error") or "").splitlines()
        rows.append([
            str(r.get("instance")), str(r.get("revision")), "ok" if r.get("ok") else "REJECTED",
            str(r.get("version") or "-"), str(r.get("host")), str(r.get("pid")), _age(r.get("time")),
            (error[0][:80] if error else ""),
        ])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print(f"{prefix}: {len(fleet.records)} instance(s), store at revision {fleet.revision}", file=out)
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip(), file=out)

