"""The path-prefix index of subscriptions: who cares about a set of leaf changes.

Finding the subscriptions of a version costs O(changes × depth), not O(subscribers): each
change looks up its own path and every prefix of it, and a sorted key list finds the
subscriptions *below* a leaf change. Values are immutable tuples swapped whole, so matching
reads the index without a lock.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable
from typing import Any, Generic, Protocol, TypeVar

from ._diff import changes_at
from ._model import Change

__all__ = ["PathIndex"]


class _Indexed(Protocol):
    seq: int
    paths: tuple[str, ...]


S = TypeVar("S", bound=_Indexed)


def _prefixes(path: str) -> Iterable[str]:
    yield ""
    start = 0
    while True:
        idx = path.find(".", start)
        if idx < 0:
            yield path
            return
        yield path[:idx]
        start = idx + 1


class PathIndex(Generic[S]):
    """Ss by path (copy-on-write values) and the lazily sorted keys."""

    def __init__(self) -> None:
        self.by_path: dict[str, tuple[S, ...]] = {}
        self.keys: tuple[str, ...] | None = ()

    def add(self, sub: S) -> None:
        """Call with the notifier's lock held."""
        # Mutated in place: match only looks keys up (never iterates), and each value is an
        # immutable tuple swapped whole, so a concurrent match sees old or new, never half.
        for p in sub.paths:
            self.by_path[p] = (*self.by_path.get(p, ()), sub)
        self.keys = None

    def remove(self, sub: S) -> None:
        """Call with the notifier's lock held."""
        for p in sub.paths:
            rest = tuple(s for s in self.by_path.get(p, ()) if s is not sub)
            if rest:
                self.by_path[p] = rest
            else:
                self.by_path.pop(p, None)
        self.keys = None

    def subscriptions(self) -> list[S]:
        return sorted({s.seq: s for subs in self.by_path.values() for s in subs}.values(), key=lambda s: s.seq)

    def match(
        self, lock: threading.Lock, old: Any, new: Any, changes: tuple[Change, ...]
    ) -> list[tuple[S, tuple[Change, ...], str]]:
        """The subscriptions that care about ``changes``, in registration order, each with its changes and path."""
        index, keys = self.by_path, self.keys
        if not index:  # nobody subscribed (no preparers, most often): nothing to walk
            return []
        if keys is None:
            with lock:
                keys = self.keys = tuple(sorted(self.by_path)) if self.keys is None else self.keys
        matched: dict[int, tuple[S, list[Change], str]] = {}

        def add(sub: S, change: Change, prefix: str) -> None:
            entry = matched.get(sub.seq)
            if entry is None:
                matched[sub.seq] = (sub, [change], prefix)
            elif entry[1][-1] is not change:
                entry[1].append(change)

        for change in changes:
            for prefix in _prefixes(change.path):
                for sub in index.get(prefix, ()):
                    add(sub, change, prefix)
            # Ss *below* a leaf change (``hosts.0`` under a list, ``a.b`` under a value
            # that became a mapping): the change seen from their path, if their value changed.
            below = change.path + "."
            for i in range(bisect.bisect_left(keys, below), len(keys)):
                key = keys[i]
                if not key.startswith(below):
                    break
                subs = index.get(key, ())
                if subs:
                    for sub_change in changes_at(key, old, new):
                        for sub in subs:
                            add(sub, sub_change, key)
        return [(sub, tuple(found), path) for _, (sub, found, path) in sorted(matched.items())]
