"""The values the library hands out: ``Change``, ``ChangeType``, ``Diff`` and ``Version``.

A version id is a UTC timestamp with nanoseconds, made strictly increasing within the process,
so ids are unique, sort in the order versions were made, and say when:
``20261127T121356.123456789Z``.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from . import _homes
from ._redact import safe_repr
from .exceptions import ErrorDetail, FrozenFieldError

__all__ = [
    "Change", "ChangeType", "ConfigVersion", "Diff", "Effect", "Plan", "PlannedChange", "ReloadOutcome", "Version",
    "new_version_id",
]  # fmt: skip


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


class Effect(str, enum.Enum):
    """What a commit does with one change."""

    LIVE = "live"
    RESTART = "restart"
    REFUSED = "refused"
    SHADOWED = "shadowed"

    def __repr__(self) -> str:
        return f"Effect.{self.name}"


@dataclass(frozen=True, slots=True)
class PlannedChange:
    """One change and what a commit does with it.

    Attributes:
        change: the leaf [Change][livesettings.Change] (for a shadowed edit: the edit in the
            losing source).
        effect: the [Effect][livesettings.Effect].
        reason: why, for people (``"database.url is a Restart field"``); empty for live changes.
    """

    change: Change
    effect: Effect
    reason: str = ""

    @property
    def path(self) -> str:
        """The dotted path of the change."""
        return self.change.path

    def describe(self) -> str:
        """One secret-safe line: ``database.url: a -> b [restart: database.url is a Restart field]``."""
        tail = f"{self.effect.value}: {self.reason}" if self.reason else self.effect.value
        return f"{self.change.describe()} [{tail}]"


@dataclass(frozen=True)
class Plan:
    """What committing a candidate would do.

    Attributes:
        changes: every change with its effect, in path order of the diff, shadowed edits last.
        snapshot: the snapshot a commit would serve (held paths at their running values).
        note: why every change was held back, when a partial commit would not validate.

    Added in 0.2.
    """

    changes: tuple[PlannedChange, ...]
    snapshot: Any = None
    note: str = ""

    def _of(self, effect: Effect) -> tuple[Change, ...]:
        return tuple(p.change for p in self.changes if p.effect is effect)

    @property
    def live(self) -> tuple[Change, ...]:
        """The changes a commit applies."""
        return self._of(Effect.LIVE)

    @property
    def restart(self) -> tuple[Change, ...]:
        """The changes held until a restart."""
        return self._of(Effect.RESTART)

    @property
    def refused(self) -> tuple[Change, ...]:
        """The changes that reject the candidate (``Frozen`` fields)."""
        return self._of(Effect.REFUSED)

    @property
    def shadowed(self) -> tuple[Change, ...]:
        """Edits that have no effect because a higher-priority source wins."""
        return self._of(Effect.SHADOWED)

    @property
    def valid(self) -> bool:
        """Whether a commit would accept the candidate (nothing refused)."""
        return not any(p.effect is Effect.REFUSED for p in self.changes)

    @property
    def holds_back(self) -> bool:
        """Whether the served snapshot differs from the candidate (something held, something live)."""
        return any(p.effect is Effect.RESTART for p in self.changes) and any(
            p.effect is Effect.LIVE for p in self.changes
        )

    def error(self, name: str) -> FrozenFieldError | None:
        """The rejection of a plan with refused changes, else ``None``."""
        bad = [ErrorDetail(p.path, f"{p.reason} ({p.change.describe()})") for p in self.changes if p.effect is Effect.REFUSED]
        if not bad:
            return None
        return FrozenFieldError(f"invalid change for {name}: frozen field changed", bad)

    def hold_all(self, old: Any, note: str) -> Plan:
        """This plan with every live change held too (serving ``old``), because of ``note``."""
        held = tuple(
            replace(p, effect=Effect.RESTART, reason=note) if p.effect is Effect.LIVE else p for p in self.changes
        )
        return Plan(held, old, note)

    @property
    def pending(self) -> dict[str, Change]:
        """What ``pending_restart`` holds once this plan is committed: each held change by path."""
        return {p.path: p.change for p in self.changes if p.effect is Effect.RESTART}

    def describe(self) -> str:
        """One line per change, for logs and the command line."""
        return "\n".join(p.describe() for p in self.changes)


def summarize(changes: Sequence[Change], limit: int = 20) -> str:
    """``a: 1 -> 2; b: added 3`` for the first ``limit`` changes, then how many more (secret-safe)."""
    more = f" (+{len(changes) - limit} more)" if len(changes) > limit else ""
    return "; ".join(c.describe() for c in changes[:limit]) + more



_id_lock = threading.Lock()
_last_ns = 0


def new_version_id() -> tuple[str, datetime]:
    """A fresh, process-unique, sortable id and the timestamp it encodes."""
    global _last_ns
    with _id_lock:
        now = max(time.time_ns(), _last_ns + 1)
        _last_ns = now
    secs, nanos = divmod(now, 1_000_000_000)
    # Formatted field by field from one gmtime: strftime and a second datetime (replace) cost more
    # than the rest of a small reload's commit.
    tm = time.gmtime(secs)
    fields = (tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
    vid = "%04d%02d%02dT%02d%02d%02d.%09dZ" % (*fields, nanos)
    return vid, datetime(*fields, nanos // 1000, tzinfo=timezone.utc)


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
        plan: the [Plan][livesettings.Plan] the commit followed (``None`` for the initial load
            and rollbacks).
        unknown_keys: keys in file sources that no field accepts (see ``ReloadConfig.unknown_keys``).
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
    plan: Plan | None = field(default=None, repr=False, compare=False)
    unknown_keys: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    @property
    def shadowed(self) -> tuple[PlannedChange, ...]:
        """Edits that had no effect because a higher-priority source won (from the plan)."""
        return tuple(p for p in self.plan.changes if p.effect is Effect.SHADOWED) if self.plan else ()

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


_homes.settle("livesettings", namespace=globals())  # imported on first use: point the public names home
