"""Routing of raw file events to watch targets: an immutable table and pure classification.

Nothing here starts a thread or touches the file system (the one question that needs a ``stat``,
whether a created name is a regular file, is asked through a callable the caller passes), so the
rules of which event counts for which target, and what it says about the content, are tested
without files or sleeps.

A **file target** counts only events that name it exactly (as ``src_path`` or ``dest_path``).
A **directory target** counts every name in it except editor artefacts (`DEFAULT_IGNORE` plus
the watcher's own patterns) and Kubernetes' ``..`` internals. An event on a Kubernetes ``..data``
entry counts for every target in its directory.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from .debounce import EventKind

__all__ = [
    "DEFAULT_IGNORE", "K8S_DATA", "Hit", "Raw", "Routes", "classify", "counts_in_dir", "event_kind", "is_regular_file",
    "may_count",
]  # fmt: skip

Raw = tuple[str, str, str, bool]
"""One raw event as watchdog's thread hands it over: ``(event_type, src_path, dest_path, is_directory)``."""

Hit = tuple[Path, EventKind, "str | None"]
"""One classified event: ``(target, kind, key)``; ``key`` names the file inside a target (``None``: all)."""

DEFAULT_IGNORE: tuple[str, ...] = (
    "*.swp", "*.swx", "*.swo", "4913", "*~", ".#*", "#*#",
    "*___jb_tmp___", "*___jb_old___", "*.vsctmp", "*.tmp", ".*.tmp",
)  # fmt: skip
"""fnmatch patterns of editor artefacts: vim swap files and its ``4913`` probe, ``~`` backups,
emacs ``.#`` lock symlinks and ``#autosave#`` files, JetBrains safe-write and VS Code temp files."""

K8S_DATA = "..data"


class Routes:
    """Which event names map to which targets, per watched directory (immutable, swapped whole).

    Attributes:
        files: per directory, the exact names of its file targets.
        whole: directory targets, each counting every file in it.
        by_dir: per directory, every target in it.
        targets: every target.
    """

    # A plain class with slots, not a dataclass: generating dataclass methods costs import time.
    __slots__ = ("by_dir", "files", "targets", "whole")

    def __init__(
        self, files: Mapping[str, Mapping[str, Path]], whole: Mapping[str, Path], by_dir: Mapping[str, frozenset[Path]],
        targets: frozenset[Path],
    ) -> None:
        self.files = files
        self.whole = whole
        self.by_dir = by_dir
        self.targets = targets

    def __repr__(self) -> str:
        return f"Routes(files={self.files!r}, whole={self.whole!r}, by_dir={self.by_dir!r}, targets={self.targets!r})"

    @classmethod
    def build(cls, files: Iterable[Path], dirs: Iterable[Path]) -> Routes:
        """Build the table from absolute file targets and directory targets."""
        names: dict[str, dict[str, Path]] = {}
        whole = {str(d): d for d in dirs}
        for f in files:
            names.setdefault(os.path.dirname(f), {})[os.path.basename(f)] = f
        by_dir: dict[str, frozenset[Path]] = {}
        for d in set(names) | set(whole):
            by_dir[d] = frozenset(names.get(d, {}).values()) | ({whole[d]} if d in whole else frozenset())
        return cls(names, whole, by_dir, frozenset().union(*by_dir.values()))

    @classmethod
    def from_paths(
        cls, targets: Iterable[Path], dirs: Iterable[Path], is_dir: Callable[[Path], bool] = Path.is_dir
    ) -> Routes:
        """Build the table from user paths: made absolute; an existing directory in `targets` counts whole."""
        files: list[Path] = []
        whole = [Path(os.path.abspath(d)) for d in dirs]
        for t in targets:
            p = Path(os.path.abspath(t))
            (whole if is_dir(p) else files).append(p)
        return cls.build(files, whole)


def counts_in_dir(name: str, ignore: Iterable[str]) -> bool:
    """Whether a name inside a directory target counts (not an artefact, not a Kubernetes internal)."""
    return not name.startswith("..") and not any(fnmatch.fnmatchcase(name, p) for p in ignore)


def event_kind(event_type: str, is_dir: bool, is_regular: Callable[[], bool]) -> EventKind:
    """What one raw event says about a file's content (see [EventKind][livesettings.watch.debounce.EventKind]).

    Args:
        event_type: watchdog's ``event_type``.
        is_dir: the event is about a directory.
        is_regular: asked only for ``created``: whether the new name is a regular file (only an
            opened regular file will see a close; a new symlink, FIFO or hard link will not).
    """
    if is_dir or event_type in ("moved", "deleted"):
        return "done"
    if event_type == "closed":
        return "close"
    if event_type == "attrib":
        return "touch"
    if event_type == "created":
        return "create" if is_regular() else "done"
    return "write"  # modified


def is_regular_file(path: str) -> bool:
    """``lstat`` says `path` is a regular file (a symlink is not followed, so emacs locks stay untouched)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def may_count(rec: Raw, routes: Routes) -> bool:
    """A quick pre-filter for the thread that reads events: whether `rec` can count for any target.

    ``False`` only for an event whose names are all outside the watched directories, or inside one
    with neither a file target of that name, a directory target, nor a ``..data`` entry (a temp
    file written beside the config, another application's files). No ``stat``, no pattern match:
    [classify][livesettings.watch.routes.classify] decides the rest on the worker.
    """
    for path in (rec[1], rec[2]):
        if not path:
            continue
        d, name = os.path.split(path)
        if d not in routes.by_dir:
            continue
        if name == K8S_DATA or d in routes.whole or name in routes.files.get(d, ()):
            return True
    return False


def classify(
    rec: Raw,
    routes: Routes,
    ignore: Iterable[str],
    is_regular: Callable[[str], bool] = is_regular_file,
) -> list[Hit]:
    """Map one raw event to the targets it counts for, with its kind and key.

    ``lost`` events (a watched directory vanished) are not routed here; the watcher handles them.

    Args:
        rec: the raw event.
        routes: the current table.
        ignore: fnmatch patterns of names that never count inside a directory target.
        is_regular: ``path -> bool``, asked only for a ``created`` event that counts.
    """
    event_type, src, dest, is_dir = rec
    hits: list[Hit] = []
    for path in (src, dest):
        if not path:
            continue
        d, name = os.path.split(path)
        in_dir = routes.by_dir.get(d)
        if in_dir is None:
            continue
        if name == K8S_DATA:
            hits.extend((t, "done", None) for t in sorted(in_dir))
            continue
        exact = routes.files.get(d, {}).get(name)
        whole = routes.whole.get(d)
        if whole is not None and not counts_in_dir(name, ignore):  # patterns only for a directory target
            whole = None
        targets = [t for t in (exact, whole) if t is not None]
        if not targets:
            continue
        kind = event_kind(event_type, is_dir, functools.partial(is_regular, path))
        hits.extend((t, kind, path) for t in targets)
    return hits
