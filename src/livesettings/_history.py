"""Versions and the bounded, append-only version history.

A version id is a UTC timestamp with nanoseconds, made strictly increasing within the process,
so ids are unique, sort in the order versions were made, and say when:
``20261127T121356.123456789Z``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ._changes import Change
from .exceptions import VersionNotFoundError

__all__ = ["ConfigVersion", "ConfigVersionManager", "Version", "new_version_id"]

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


class ConfigVersionManager:
    """Bounded, append-only version history, oldest first (the brief's "Version Manager").

    Appends are serialised by the engine's lock; reads take a consistent copy.

    Attributes:
        versions: the stored versions, oldest first, at most ``max_versions``.
    """

    def __init__(self, max_versions: int = 10) -> None:
        if max_versions < 1:
            raise ValueError("max_versions must be at least 1")
        self.versions: deque[Version] = deque(maxlen=max_versions)

    def append(self, version: Version) -> None:
        """Record an accepted version (the oldest falls out when full)."""
        self.versions.append(version)

    @property
    def current_version(self) -> Version | None:
        """The newest version, or ``None`` before the first load."""
        return self.versions[-1] if self.versions else None

    def as_tuple(self) -> tuple[Version, ...]:
        return tuple(self.versions)

    def __iter__(self) -> Iterator[Version]:
        return iter(tuple(self.versions))

    def __len__(self) -> int:
        return len(self.versions)

    def get(self, version_id: str) -> Version:
        for v in reversed(self.versions):
            if v.id == version_id:
                return v
        raise VersionNotFoundError(
            f"no version {version_id!r} in the history (it keeps the last {self.versions.maxlen})"
        )

    def undo_target(self) -> Version:
        """The version ``rollback()`` without an id restores: the one that was current before the current content.

        The current content is the current version's own, or for a rollback entry the version it
        restores; the target is the entry just before that one in the history (a rollback entry
        stands for the content it restored). So ``rollback()`` after a reload that followed a
        rollback brings back the rolled-back content, and calling ``rollback()`` repeatedly walks
        further back.
        """
        current = self.current_version
        if current is None:
            raise VersionNotFoundError("the history is empty")
        items = list(self.versions)
        ids = [v.id for v in items]
        try:
            idx = ids.index(current.content_id)
        except ValueError:
            raise VersionNotFoundError(
                f"the version before {current.content_id!r} has left the history"
            ) from None
        if idx == 0:
            raise VersionNotFoundError("there is no earlier version to roll back to")
        return items[idx - 1]
