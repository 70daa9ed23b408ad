"""The values the library hands out: ``Change``, ``ChangeType``, ``Diff`` and ``Version``.

A version id is a UTC timestamp with nanoseconds, made strictly increasing within the process,
so ids are unique, sort in the order versions were made, and say when:
``20261127T121356.123456789Z``.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ._redact import safe_repr

__all__ = ["Change", "ChangeType", "ConfigVersion", "Diff", "ReloadOutcome", "Version", "new_version_id"]


class ChangeType(str, enum.Enum):
    """What happened to one leaf."""

    ADD = "add"
    MODIFY = "modify"
    DELETE = "delete"

    def __repr__(self) -> str:
        return f"ChangeType.{self.name}"



@dataclass(frozen=True, slots=True)
class Change:
    """One leaf change between two versions.

    Attributes:
        path: dotted path of the leaf (``"database.pool_size"``).
        type: [ChangeType][livesettings.ChangeType] ``ADD``, ``MODIFY`` or ``DELETE``.
        old_value: the value before (``None`` for ``ADD``).
        new_value: the value after (``None`` for ``DELETE``).

    The repr masks secrets. ``ConfigChange`` is an alias kept for the original design brief.
    """

    path: str
    type: ChangeType
    old_value: Any = None
    new_value: Any = None

    def __repr__(self) -> str:
        return (
            f"Change({self.path!r}, {self.type!r}, {safe_repr(self.old_value, self.path)}, "
            f"{safe_repr(self.new_value, self.path)})"
        )

    __str__ = __repr__

    def describe(self) -> str:
        """A one-line, secret-safe description for logs: ``database.pool_size: 5 -> 10``."""
        if self.type is ChangeType.ADD:
            return f"{self.path}: added {safe_repr(self.new_value, self.path)}"
        if self.type is ChangeType.DELETE:
            return f"{self.path}: removed (was {safe_repr(self.old_value, self.path)})"
        return f"{self.path}: {safe_repr(self.old_value, self.path)} -> {safe_repr(self.new_value, self.path)}"


@dataclass(frozen=True)
class Diff:
    """What a subscriber to ``path`` receives for one accepted version.

    Attributes:
        path: the subscribed path (``""`` for a subscription to everything).
        old_value: the value at ``path`` before the version.
        new_value: the value at ``path`` after the version.
        changes: the leaf changes at or under ``path``.
        version: the [Version][livesettings.Version] that was applied.
    """

    path: str
    old_value: Any
    new_value: Any
    changes: tuple[Change, ...]
    version: Version | None = field(default=None, compare=False)

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    @property
    def paths(self) -> tuple[str, ...]:
        """The dotted paths that changed."""
        return tuple(c.path for c in self.changes)

    def __repr__(self) -> str:
        vid = self.version.id if self.version is not None else None
        return (
            f"Diff(path={self.path!r}, old_value={safe_repr(self.old_value, self.path)}, "
            f"new_value={safe_repr(self.new_value, self.path)}, changes={list(self.changes)!r}, version={vid!r})"
        )


_id_lock = threading.Lock()
_last_ns = 0


def new_version_id() -> tuple[str, datetime]:
    """A fresh, process-unique, sortable id and the timestamp it encodes."""
    global _last_ns
    with _id_lock:
        now = max(time.time_ns(), _last_ns + 1)
        _last_ns = now
    secs, nanos = divmod(now, 1_000_000_000)
    stamp = datetime.fromtimestamp(secs, tz=timezone.utc)
    vid = f"{stamp:%Y%m%dT%H%M%S}.{nanos:09d}Z"
    return vid, stamp.replace(microsecond=nanos // 1000)


@dataclass(frozen=True)
class Version:
    """One accepted configuration.

    Attributes:
        id: unique, sortable, timestamp-based id.
        timestamp: when it was made (UTC).
        source: what caused it: ``"initial"``, ``"reload"``, ``"file"``, ``"rollback"`` ...
        changes: the leaf changes from the version before it.
        number: 1-based sequence number within this settings object.
        restores: for a rollback, the id of the version whose content it restores.
        reason: free text (for example why a critical handler rolled a version back).
        snapshot: the validated, immutable snapshot (not part of the repr).
    """

    id: str
    timestamp: datetime
    source: str
    changes: tuple[Change, ...]
    number: int = 0
    restores: str | None = None
    reason: str | None = None
    snapshot: Any = field(default=None, repr=False, compare=False)
    inputs: str | None = field(default=None, repr=False, compare=False)

    @property
    def content_id(self) -> str:
        """The id of the original version whose content this one holds."""
        return self.restores or self.id


ConfigVersion = Version
"""The original design brief's name for [Version][livesettings.Version]."""


@dataclass(frozen=True)
class ReloadOutcome:
    """What became of one reload attempt, as told to the change feeds (an etcd feed ACKs it).

    Attributes:
        inputs: input key -> the digest the candidate was built from (an etcd revision ...);
            only the inputs the load read, not file contents.
        result: ``"applied"`` (a new version), ``"unchanged"`` (accepted, nothing changed) or
            ``"rejected"`` (the last good version keeps serving).
        version: the id of the version serving after the attempt.
        error: for a rejection, the error text (secrets already masked).

    Added in 0.2.
    """

    inputs: Mapping[str, str | None]
    result: str
    version: str | None
    error: str | None = None
