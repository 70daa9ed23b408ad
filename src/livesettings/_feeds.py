"""The change feeds one engine follows: started once per input, reported to, closed together.

Which feeds exist is the loader's business (its files, plus any feed a source asked for on a
load); when to start them is the engine's (only while hot reload is on). This set owns the
feeds in between: it starts each at most once, hands outcomes to those that want them, and
closes them all, joining their threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from . import _forksafe
from ._model import ReloadOutcome
from .exceptions import ClosedError
from .typing import ChangeFeed

__all__ = ["FeedSet"]

log = logging.getLogger("livesettings")


class FeedSet:
    """The running feeds of one settings object, by input key (``"files"``, ``"etcd:..."``).

    Thread-safety: every method may be called from any thread, including a feed's own.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._feeds: dict[str, ChangeFeed] = {}
        self._closed = False
        _forksafe.register(self)

    def start(
        self, factories: Mapping[str, Callable[[], ChangeFeed]], on_change: Callable[[str], None],
        allowed: Callable[[], bool],
    ) -> None:
        """Start a feed for every key not followed yet; ``on_change(source)`` runs when one fires.

        ``allowed()`` is asked under the set's lock, so concurrent calls start each feed once
        and none after ``close()``.
        """
        for key, factory in factories.items():
            if key in self._feeds:
                continue
            feed = factory()
            with self._lock:
                ok = not self._closed and allowed() and key not in self._feeds
                if ok:
                    self._feeds[key] = feed
            source = "file" if key == "files" else key.partition(":")[0]
            try:
                if not ok:
                    raise ClosedError(key)
                feed.start(lambda source=source: on_change(source))  # type: ignore[misc]
            except ClosedError:
                feed.close()

    def follow(
        self, factories: Callable[[], Mapping[str, Callable[[], ChangeFeed]]], reload: Callable[[str], object],
        allowed: Callable[[], bool],
    ) -> None:
        """Start a feed for every input ``factories()`` names; when one fires, ``reload(source)``,
        then follow the inputs that reload may have found (an etcd prefix a source now reads)."""

        def fired(source: str) -> None:
            try:
                reload(source)
            except ClosedError:
                return
            if allowed():
                self.follow(factories, reload, allowed)

        self.start(factories(), fired, allowed)

    def get(self, key: str) -> ChangeFeed | None:
        """The running feed for ``key``, or ``None``."""
        return self._feeds.get(key)

    def statuses(self) -> dict[str, Any]:
        """The ``status`` of every running feed, by input key (``None`` for one whose status fails)."""
        found: dict[str, Any] = {}
        for key, feed in list(self._feeds.items()):
            try:
                found[key] = feed.status
            except Exception:  # noqa: BLE001 - a broken status must not break stats() or a health check
                log.debug("%s: change feed %r failed to report its status", self.name, feed, exc_info=True)
                found[key] = None
        return found

    def report(self, outcome: ReloadOutcome) -> None:
        """Tell every feed that wants to know (``report(outcome)``) how an attempt ended."""
        for feed in list(self._feeds.values()):
            report = getattr(feed, "report", None)
            if report is None:
                continue
            try:
                report(outcome)
            except Exception:  # noqa: BLE001 - a feed's report must not break the reload
                log.warning("%s: change feed %r failed to record an outcome", self.name, feed, exc_info=True)

    def stop(self, *, final: bool = False) -> None:
        """Close and forget every feed (``final``: no feed starts again)."""
        with self._lock:
            self._closed = self._closed or final
            feeds, self._feeds = list(self._feeds.values()), {}
        for feed in feeds:
            feed.close()

    def _fork_reset(self) -> None:
        """In a forked child: a fresh lock (the feeds re-arm themselves)."""
        self._lock = threading.Lock()

    def __contains__(self, key: object) -> bool:
        return key in self._feeds

    def __repr__(self) -> str:
        return f"<FeedSet {self.name} {sorted(self._feeds)}>"

