"""Tuning and health of a file watcher: [WatchOptions][livesettings.watch.WatchOptions] and [WatchStatus][livesettings.watch.WatchStatus].

Also reads ``LIVESETTINGS_POLL``, the environment switch to polling.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["WatchOptions", "WatchStatus"]

logger = logging.getLogger(__name__)

_FALLBACK_POLL_MS = 1000


def _default_poll_interval_ms() -> int | None:
    """Read ``LIVESETTINGS_POLL``: a poll interval in ms forces polling mode (``true`` means 1000)."""
    raw = os.environ.get("LIVESETTINGS_POLL", "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return None
    if raw in ("true", "yes", "on"):
        return _FALLBACK_POLL_MS
    try:
        return max(5, int(raw))
    except ValueError:
        logger.warning("ignoring LIVESETTINGS_POLL=%r: expected a poll interval in milliseconds", raw)
        return None


@dataclass(frozen=True)
class WatchOptions:
    """Tuning of a [`HotReloadWatcher`][livesettings.watch.HotReloadWatcher].

    Attributes:
        debounce_ms: quiet window; it restarts on each relevant event. 0 fires on the first event.
        max_wait_ms: cap from the first event of a batch, so a steady stream still fires this often.
        poll_interval_ms: set to poll instead of using inotify (``LIVESETTINGS_POLL=<ms>`` too).
        safety_interval_s: period of the re-check that catches lost events; ``<= 0`` disables it.
        ignore: extra fnmatch patterns on top of `DEFAULT_IGNORE`.
        stabilize_ms: longest wait for a newly created file to be closed (a file moved or linked
            in whole sees no close).
        open_write_s: longest time a file that is open for writing (modified, not yet closed)
            holds the pending batches; past it, the file must settle and a WARNING names it.
        settle_ms: how long a change must stay put (same size, mtime and content) when no close
            can be seen: every change in polling mode, and a write held past ``open_write_s``.

    Changed in 0.2: ``open_write_s`` and ``settle_ms``; an unclosed write no longer fires after
    ``stabilize_ms``.
    """

    debounce_ms: int = 100
    max_wait_ms: int = 1000
    poll_interval_ms: int | None = None
    safety_interval_s: float = 60.0
    ignore: tuple[str, ...] = ()
    stabilize_ms: int = 50
    open_write_s: float = 30.0
    settle_ms: int = 1000


@dataclass(frozen=True)
class WatchStatus:
    """A snapshot of a watcher's health.

    Attributes:
        mode: ``"inotify"`` (event-driven) or ``"poll"``.
        fallback_reason: why inotify was abandoned for polling, if it was.
        missing: watched directories that do not exist (being waited for) and file targets that do
            not exist right now.
        watched_dirs: directories currently under a live watch (inotify) or being polled.
        events_seen: raw events that matched a target.
        batches_fired: calls made to ``on_change``.
        state: ``"new"``, ``"running"`` or ``"closed"``.
        rechecks: safety re-checks completed (each compares every target's metadata and content).

    Changed in 0.2: ``rechecks``.
    """

    mode: Literal["inotify", "poll"]
    fallback_reason: str | None
    missing: tuple[Path, ...]
    watched_dirs: tuple[Path, ...]
    events_seen: int
    batches_fired: int
    state: Literal["new", "running", "closed"]
    rechecks: int = 0
