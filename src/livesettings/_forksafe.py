"""Fork safety: fresh locks and threads of its own for every livesettings object in a forked child.

``os.fork()`` copies the memory of the calling thread only. A lock another thread held at that
moment stays held forever in the child, the child has none of the parent's threads, and OS
handles it inherited (the inotify instance) are shared with the parent. One
``os.register_at_fork(after_in_child=...)`` hook, registered when this module is imported, runs
in the child, in this order:

1. module hooks (``at_fork_in_child``): the shared watchdog observer is forgotten, never stopped
   (stopping it would remove the parent's inotify watches); module-level locks are replaced;
2. ``_fork_reset()`` of every registered object: fresh locks, inherited thread handles dropped;
3. ``_fork_restart()`` of every registered object that has one: a watcher that was running starts an
   observer and a worker of the child's own and rescans its targets once, so a settings object
   inherited from the parent keeps hot-reloading in the child (what prefork servers need).

The parent is untouched: nothing runs there, and a fork never waits for a reload to finish.
A reload that was in flight in the parent at the moment of the fork does not exist in the child:
its effect reaches the child through that rescan.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["ForkAware", "at_fork_in_child", "register"]

log = logging.getLogger("livesettings")


class ForkAware(Protocol):
    """An object that owns locks or threads; it may also have a ``_fork_restart()`` (threads)."""

    def _fork_reset(self) -> None: ...


_lock = threading.Lock()
_objects: weakref.WeakSet[Any] = weakref.WeakSet()
_module_hooks: list[Callable[[], None]] = []


def register(obj: ForkAware) -> None:
    """Call ``obj._fork_reset()``, then ``obj._fork_restart()`` if it has one, in every forked child."""
    with _lock:
        _objects.add(obj)


def at_fork_in_child(hook: Callable[[], None]) -> None:
    """Run `hook` in a forked child, before any object is reset (module-level state)."""
    with _lock:
        _module_hooks.append(hook)


def _reset_library_locks() -> None:
    """Module-level locks of modules that take them around short critical sections.

    They are replaced here, in one place, rather than by a hook in each module, so that no
    module that merely holds a lock has to import this one.
    """
    modules = sys.modules
    for module, name in (("_freeze", "_lock"), ("_model", "_id_lock"), ("_parsers", "_DOTENV_LOCK")):
        loaded = modules.get(f"{__package__}.{module}")
        if loaded is not None:
            setattr(loaded, name, threading.Lock())
    loader = modules.get(f"{__package__}._loader")
    paused: Any = getattr(loader, "_GcPaused", None)
    if paused is not None:
        paused._lock = threading.Lock()
        if paused._depth:  # forked while a parse had the cyclic GC paused: undo that pause
            paused._depth = 0
            if paused._was_enabled:
                gc.enable()


def _run(what: str, fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:  # a hook must never break the child's fork()
        log.warning("after fork: %s failed", what, exc_info=True)


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()
    _run("resetting module locks", _reset_library_locks)
    for hook in list(_module_hooks):
        _run(getattr(hook, "__qualname__", repr(hook)), hook)
    objects = list(_objects)
    for obj in objects:
        _run(f"resetting {type(obj).__name__}", obj._fork_reset)
    for obj in objects:
        restart = getattr(obj, "_fork_restart", None)
        if restart is not None:
            _run(f"restarting {type(obj).__name__}", restart)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
