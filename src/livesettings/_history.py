"""The bounded, append-only version history."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator

from . import _forksafe, _homes
from ._model import Version
from .exceptions import VersionNotFoundError

__all__ = ["ConfigVersionManager"]


class ConfigVersionManager:
    """Bounded, append-only version history, oldest first (the brief's "Version Manager").

    Appends are serialised by the engine's lock, pins by their own; reads take a consistent copy.

    Attributes:
        versions: the stored versions, oldest first, at most ``max_versions``.
    """

    def __init__(self, max_versions: int = 10) -> None:
        if max_versions < 1:
            raise ValueError("max_versions must be at least 1")
        self.versions: deque[Version] = deque(maxlen=max_versions)
        self.pins: dict[str, tuple[Version, int]] = {}  # pinned() versions by id, with a count
        self._pin_lock = threading.Lock()
        _forksafe.register(self)

    def _fork_reset(self) -> None:
        self._pin_lock = threading.Lock()
        self.pins = {}  # their holders were threads of the parent

    def pin(self, version: Version) -> Version:
        """Keep ``version`` findable by ``get`` (after it left the history too) until ``unpin``."""
        with self._pin_lock:
            held = self.pins.get(version.id)
            self.pins[version.id] = (version, held[1] + 1 if held else 1)
        return version

    def unpin(self, version: Version) -> None:
        with self._pin_lock:
            held = self.pins.pop(version.id, None)
            if held is not None and held[1] > 1:
                self.pins[version.id] = (held[0], held[1] - 1)

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
        """The version with ``version_id``, from the history or the pinned ones."""
        for v in reversed(self.versions):
            if v.id == version_id:
                return v
        held = self.pins.get(version_id)
        if held is not None:
            return held[0]
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


_homes.settle("livesettings.components", ('ConfigVersionManager',), globals())  # a component class: its public home
