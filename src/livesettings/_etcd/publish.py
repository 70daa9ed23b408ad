"""What ``livesettings publish`` and ``livesettings fleet`` do against etcd (the CLI only parses and prints).

Publishing writes the file as the document key ``P`` and deletes the other keys under ``P``, in
one transaction guarded by a compare: every key under ``P`` must have ``mod_revision`` at or
below the base revision (the one read, or ``--expect-revision``). Of two publishes from the same
base exactly one succeeds; the other changes nothing. A rollback restores the keys of an older
revision the same way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .. import _parsers
from .._sources import FileReader, LoadContext, SourceRecord
from .._validate import render_validation_error
from ..exceptions import ErrorDetail, ReloadError
from .client import EtcdClient, PrefixState, RevisionCompacted, b64, key_str, prefix_end, unb64
from .feed import acks_prefix
from .source import decode_prefix

__all__ = [
    "Fleet", "PublishResult", "RevisionCompacted", "fleet_status", "publish_state", "read_revision",
    "validate_data", "validate_file", "validate_state", "wait_for_revision",
]


def _snapshot_class(cls: type) -> type[BaseModel]:
    snapshot = getattr(cls, "__snapshot__", cls)  # a ReloadableSettings keeps its model here
    if not (isinstance(snapshot, type) and issubclass(snapshot, BaseModel)):
        raise TypeError(f"{cls!r} is not a settings class")
    return snapshot


def validate_data(cls: type, data: Mapping[str, Any], ctx: LoadContext | None, what: str) -> list[ErrorDetail]:
    """Validate ``data`` alone against ``cls``; the problems, without "required" ones.

    Required fields may come from the fleet's own environment or secrets, which the publisher
    cannot see, so their absence is not an error here. Secrets are masked in the messages.
    """
    snapshot = _snapshot_class(cls)
    try:
        candidate = snapshot.__new__(snapshot)
        BaseModel.__init__(candidate, **dict(data))  # the values alone: no other source is read
    except ValidationError as exc:
        error = render_validation_error(exc, snapshot, ctx, what=what)
        return [d for d in error.details if not d.message.startswith("required, but not set")]
    return []


def validate_file(cls: type, path: Path) -> tuple[bytes, list[ErrorDetail]]:
    """The file's bytes and its problems against ``cls`` (syntax errors carry file:line:column)."""
    path = Path(path).resolve()
    reader = FileReader(limits=_parsers.ParseLimits(), allowed_roots=(Path("/"),), allow_empty=True)
    ctx = LoadContext(reader, reloading=False)
    fmt = "json" if path.suffix.lower() == ".json" else "yaml"
    try:
        data = ctx.load(path, fmt)
    except ReloadError as exc:
        return b"", list(exc.details)
    ctx.records.append(SourceRecord(fmt, data, (path,)))
    return ctx.files[path].data, validate_data(cls, data, ctx, str(path))


def validate_state(cls: type, state: PrefixState, prefix: str) -> list[ErrorDetail]:
    """Problems of the config an older revision held (for a rollback)."""
    try:
        data, records = decode_prefix(state, prefix)
    except ReloadError as exc:
        return list(exc.details)
    ctx = LoadContext(FileReader(limits=_parsers.ParseLimits(), allowed_roots=None, allow_empty=True), reloading=False)
    ctx.records.extend(records)
    return validate_data(cls, data, ctx, f"etcd {prefix} at revision {state.revision}")


@dataclass(frozen=True)
class PublishResult:
    """``ok``: written at ``revision``; otherwise ``current`` is where the prefix moved to."""

    ok: bool
    base: int
    revision: int | None = None
    current: int | None = None


def read_revision(client: EtcdClient, prefix: str, revision: int) -> PrefixState:
    """The prefix as it was at ``revision``.

    Raises:
        RevisionCompacted: etcd no longer keeps that revision.
    """
    return client.range(prefix, revision=revision)


def publish_state(
    client: EtcdClient, prefix: str, kvs: Mapping[str, bytes], *, expect: int | None = None
) -> PublishResult:
    """Make the prefix hold exactly ``kvs`` in one transaction, if nothing changed since the base."""
    current = client.range(prefix)
    base = current.revision if expect is None else expect
    compare = [{
        "key": b64(prefix), "range_end": b64(prefix_end(prefix)),
        "target": "MOD", "result": "LESS", "mod_revision": str(base + 1),
    }]
    ops: list[dict[str, Any]] = [
        {"request_put": {"key": b64(key), "value": b64(value)}} for key, value in sorted(kvs.items())
    ]
    ops += [{"request_delete_range": {"key": b64(key)}} for key in sorted(current.kvs) if key not in kvs]
    ok, header, _ = client.txn(compare, ops)
    if ok:
        return PublishResult(True, base, revision=header.revision)
    return PublishResult(False, base, current=header.revision)


@dataclass
class Fleet:
    """Every instance's last record and the store revision they were read at."""

    revision: int
    records: list[dict[str, Any]] = field(default_factory=list)

    def pending(self, revision: int) -> list[dict[str, Any]]:
        return [r for r in self.records if int(r.get("revision", 0)) < revision]

    def rejected(self, revision: int) -> list[dict[str, Any]]:
        return [r for r in self.records if int(r.get("revision", 0)) >= revision and not r.get("ok")]


def fleet_status(client: EtcdClient, prefix: str) -> Fleet:
    """Read every ACK record under ``P.acks/``."""
    body = {"key": b64(acks_prefix(prefix)), "range_end": b64(prefix_end(acks_prefix(prefix)))}
    result = client.call("kv/range", body)
    records = []
    for kv in result.get("kvs", ()):
        try:
            record = json.loads(unb64(kv.get("value")))
        except ValueError:
            record = {"instance": key_str(kv.get("key")).rpartition("/")[2], "ok": False, "error": "unreadable record"}
        if isinstance(record, dict):
            records.append(record)
    records.sort(key=lambda r: str(r.get("instance", "")))
    return Fleet(int(result.get("header", {}).get("revision", 0)), records)


def wait_for_revision(
    client: EtcdClient, prefix: str, revision: int, timeout: float, *, interval: float = 0.1
) -> tuple[str, Fleet]:
    """Poll until every instance acknowledged ``revision``: ``("ok" | "rejected" | "timeout", fleet)``."""
    deadline = time.monotonic() + timeout
    while True:
        fleet = fleet_status(client, prefix)
        if fleet.rejected(revision):
            return "rejected", fleet
        if fleet.records and not fleet.pending(revision):
            return "ok", fleet
        if time.monotonic() >= deadline:
            return "timeout", fleet
        time.sleep(interval)

