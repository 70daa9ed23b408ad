"""Letting a file watcher go on while the rest of its ``on_change`` call runs user code.

A [FileWatcher][livesettings.watch.FileWatcher]'s worker holds the watcher's *step* (taking
events, debouncing, calling ``on_change``) for the whole ``on_change`` call, so that calls never
overlap. The engine's ``on_change`` is a reload followed by the ``@on_change`` handlers; a
handler that blocks would then hold up every later change. So once a feed-triggered reload has
committed, and before any handler or error callback runs, the engine calls
[hand_off][livesettings.watch.handoff.hand_off]: the calling worker lets go of the step and the
watcher's relief thread (started on the first hand-off, joined by ``close()``) takes the next
events. Delivery stays ordered: the notifier lets one thread drain its queue at a time, and a
version committed meanwhile is delivered by the thread already draining, after the slow handler.

The fast path costs nothing extra: the thread that reloaded runs the handlers itself, with no
hop to another thread between the commit and the handler.

Thread-free and watchdog-free (the engine imports it whether or not anything is watched).

Added in 0.3.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .. import _forksafe

__all__ = ["arm", "disarm", "hand_off"]

_local = threading.local()


def arm(release: Callable[[], None]) -> None:
    """Note that this thread holds a watcher's step, which ``release()`` lets go of (the watcher's worker)."""
    _local.release = release


def disarm() -> bool:
    """Forget the note; ``True`` if this thread still holds the step (no `hand_off` since `arm`)."""
    release = getattr(_local, "release", None)
    _local.release = None
    return release is not None


def hand_off() -> bool:
    """Let go of the step this thread holds, if any; the rest of the current ``on_change`` call
    may then overlap the watcher's next one.

    Returns:
        ``True`` if this thread held a watcher's step (it no longer does); ``False`` elsewhere
        (a manual ``reload()``, the breaker's retry timer, an etcd feed's thread).
    """
    release = getattr(_local, "release", None)
    if release is None:
        return False
    _local.release = None
    release()
    return True


def _fork_reset() -> None:
    """In a forked child (the forking thread's locals survive): the parent's step is not ours."""
    _local.release = None


_forksafe.at_fork_in_child(_fork_reset)
