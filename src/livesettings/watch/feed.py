"""Files as a [ChangeFeed][livesettings.typing.ChangeFeed]: a thin adapter over the file watcher.

The engine knows nothing about files: the loader tells this feed which files and directories the
last accepted load read (``retarget``), and the feed calls ``on_change()`` on the watcher's worker
thread when some of them may have changed. Whether anything really changed is decided by the
engine, from the sources' digests.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .. import _forksafe
from .._state import State
from ..exceptions import ClosedError
from .watcher import FileWatcher, WatchOptions, WatchStatus

__all__ = ["FileFeed", "warn_unwatchable"]

logger = logging.getLogger("livesettings")


class FileFeed:
    """Watch a set of config files and directories; report possible changes.

    Args:
        options: debounce, polling and ignore settings of the watcher.
        name: a label for the worker thread and log messages.
        priority: file names or absolute paths whose changes skip the debounce window.
        close_timeout_s: how long ``close()`` waits for a running ``on_change`` by default.

    Thread-safety: ``retarget``, ``status`` and ``close`` may be called from any thread,
    including from inside ``on_change``.
    """

    def __init__(
        self, options: WatchOptions, *, name: str = "", priority: Iterable[str] = (), close_timeout_s: float = 5.0
    ) -> None:
        self._options = options
        self._close_timeout_s = close_timeout_s
        self._name = name
        self._priority = tuple(priority)
        self._lock = threading.Lock()
        self._files: tuple[Path, ...] = ()
        self._dirs: tuple[Path, ...] = ()
        self._watcher: FileWatcher | None = None
        self._state = State.NEW
        _forksafe.register(self)

    def _fork_reset(self) -> None:
        """In a forked child: a fresh lock (the watcher restarts itself, see FileWatcher)."""
        self._lock = threading.Lock()

    def _priority_of(self, files: Iterable[Path]) -> list[Path]:
        return [p for p in files if p.name in self._priority or str(p) in self._priority]

    def retarget(self, files: Iterable[Path], dirs: Iterable[Path] = ()) -> None:
        """Watch exactly ``files`` (file targets) and ``dirs`` (every file in them counts)."""
        files, dirs = tuple(files), tuple(dirs)
        with self._lock:
            if (files, dirs) == (self._files, self._dirs):
                return
            self._files, self._dirs = files, dirs
            watcher = self._watcher
        if watcher is not None:
            try:
                watcher.set_targets(files, dirs=dirs, priority=self._priority_of(files))
            except ClosedError:
                pass

    def start(self, on_change: Callable[[], None]) -> None:
        """Start watching; ``on_change()`` runs on the watcher's worker thread, never concurrently.

        Raises:
            ClosedError: the feed was closed.
        """
        with self._lock:
            if self._state is State.CLOSED:
                raise ClosedError(f"file feed {self._name} is closed")
            if self._watcher is not None:
                return
            watcher = FileWatcher(
                self._files, lambda _paths: on_change(), self._options,
                priority=self._priority_of(self._files), name=self._name, dirs=self._dirs,
            )
            self._watcher = watcher
            self._state = State.RUNNING
            watcher.start()  # starts threads; calls no user code

    def close(self, timeout: float | None = None) -> None:
        """Stop watching and join the worker, waiting at most `timeout` seconds (idempotent).

        Args:
            timeout: how long to wait for a running ``on_change`` (see `FileWatcher.close`);
                ``None``: the ``close_timeout_s`` given at construction.
        """
        if timeout is None:
            timeout = self._close_timeout_s
        with self._lock:
            self._state = State.CLOSED
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.close(timeout)

    @property
    def status(self) -> WatchStatus | None:
        """The watcher's [WatchStatus][livesettings.watch.WatchStatus], or ``None`` before ``start``."""
        watcher = self._watcher
        return watcher.status if watcher is not None else None

    @property
    def watcher(self) -> Any:
        """The underlying [FileWatcher][livesettings.watch.FileWatcher], or ``None``."""
        return self._watcher


def warn_unwatchable(name: str, targets: Iterable[Path]) -> None:
    """Warn about files that can never receive updates, such as Kubernetes ``subPath`` mounts.

    A file that is itself a mount point (its device differs from its directory's) is a bind
    mount of one inode: kubelet swaps ConfigMap content by replacing the directory's ``..data``
    link, which such a mount never sees.
    """
    for path in targets:
        try:
            if path.is_dir() or path.is_symlink():
                continue
            if os.stat(path).st_dev != os.stat(path.parent).st_dev:
                logger.warning(
                    "%s: %s is a mount point of its own (a Kubernetes subPath mount?); "
                    "it will not receive updates, mount the whole directory instead", name, path,
                )
        except OSError:
            continue
