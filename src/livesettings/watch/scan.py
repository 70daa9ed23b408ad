"""Scanning watch targets: metadata signatures, content hashes, and the polling comparison.

Used by polling mode and by the safety re-check of event mode. Nothing here starts a thread.

Special files never block and are never read: a target is ``stat``'ed first and opened only if it
is a regular file, then with ``O_NONBLOCK`` (a FIFO swapped in between cannot block the open) and
checked again with ``fstat`` before a byte is read. Opening a device could have side effects
(a tape rewinds, a serial line hangs up), which is why the type is checked before the open too.
Targets are followed through symlinks (no ``O_NOFOLLOW``), because readers follow them:
Kubernetes mounts every file as a symlink through ``..data``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._digest import hasher
from .debounce import EventKind
from .routes import Routes, counts_in_dir

__all__ = ["HASH_LIMIT", "Scanner", "Sig", "file_sig", "hash_file", "target_hash", "target_sig"]

Sig = tuple[Any, ...] | None
"""Metadata of a target (``None``: it cannot be stat'ed)."""

HASH_LIMIT = 16 * 1024 * 1024
"""Files larger than this are compared by metadata only."""

_O_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)


def file_sig(path: str) -> Sig:
    """Metadata of a file (following symlinks, as a reader would); ``None`` if it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


def hash_file(path: str, h: Any) -> None:
    """Feed the content of the regular file at `path` into `h`, without ever blocking on a special file.

    A special file (FIFO, device, socket, directory) adds a marker of its type instead; a file
    larger than `HASH_LIMIT` adds nothing (its metadata covers it); an unreadable one adds a marker.
    """
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            h.update(b"\0special:%o" % stat.S_IFMT(st.st_mode))
            return
        fd = os.open(path, _O_FLAGS)
    except OSError:
        h.update(b"\0unreadable")
        return
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped for something else between stat and open
            h.update(b"\0special:%o" % stat.S_IFMT(st.st_mode))
            return
        if st.st_size > HASH_LIMIT:
            return
        while chunk := os.read(fd, 1 << 16):
            h.update(chunk)
    except OSError:
        h.update(b"\0unreadable")
    finally:
        os.close(fd)


def target_sig(target: Path, routes: Routes, ignore: Iterable[str]) -> Sig:
    """Metadata of a target: the file's, or for a directory target its identity and its regular files'."""
    path = str(target)
    if path not in routes.whole:
        return file_sig(path)
    try:
        st = os.stat(path)
        names = sorted(n for n in os.listdir(path) if counts_in_dir(n, ignore))
    except OSError:
        return None
    entries = ((n, file_sig(os.path.join(path, n))) for n in names)
    return (st.st_dev, st.st_ino, *(e for e in entries if e[1] is not None and stat.S_ISREG(e[1][-1])))


def target_hash(target: Path, sig: Sig, routes: Routes) -> bytes | None:
    """A digest of a target's content as of `sig` (for a directory target: of the files in `sig`)."""
    if sig is None:
        return None
    h = hasher()
    path = str(target)
    if path in routes.whole:
        for name, _ in sig[2:]:
            h.update(name.encode("utf-8", "surrogateescape") + b"\0")
            hash_file(os.path.join(path, name), h)
    else:
        hash_file(path, h)
    return h.digest()


@dataclass
class _Unsettled:
    sig: Sig
    since: float
    digest: bytes | None


@dataclass
class Scanner:
    """What each target looked like when last seen, and which changes are still settling.

    Not thread-safe: it belongs to the watcher's worker.

    Args:
        ignore: fnmatch patterns of names that do not count inside directory targets.
    """

    ignore: tuple[str, ...]
    seen: dict[Path, tuple[Sig, bytes | None]] = field(default_factory=dict)
    unsettled: dict[Path, _Unsettled] = field(default_factory=dict)

    def sig(self, target: Path, routes: Routes) -> Sig:
        """The current signature of `target`."""
        return target_sig(target, routes, self.ignore)

    def seed(self, targets: Iterable[Path], routes: Routes) -> None:
        """Remember the current signatures of `targets` (they are not reported as changed)."""
        for t in targets:
            self.seen[t] = (self.sig(t, routes), None)
            self.unsettled.pop(t, None)

    def forget(self, targets: Iterable[Path]) -> None:
        """Stop tracking `targets`."""
        for t in targets:
            self.seen.pop(t, None)
            self.unsettled.pop(t, None)

    def poll(self, routes: Routes, now: float, *, with_hash: bool, settle_s: float) -> list[tuple[Path, EventKind]]:
        """Compare every target with what was last seen; return the changes as debouncer events.

        With ``settle_s > 0`` (polling mode) a target whose metadata moved is reported as an open
        write (``"write"``), and as ``"close"`` once a later poll, at least ``settle_s`` on, finds
        the same metadata and a re-read finds the same content: a writer that pauses for less
        than ``settle_s`` is never mistaken for a finished one. A deleted target is ``"done"``.

        Args:
            routes: the current table.
            now: the current `time.monotonic()`.
            with_hash: also compare content (the safety re-check), which catches a rewrite whose
                metadata was put back.
            settle_s: how long a change must stay put before it counts as complete (0: at once).
        """
        out: list[tuple[Path, EventKind]] = []
        for t in routes.targets:
            sig = self.sig(t, routes)
            old_sig, old_hash = self.seen.get(t, (None, None))
            pending = self.unsettled.get(t)
            if sig != old_sig:
                self.seen[t] = (sig, None)
                if settle_s > 0 and sig is not None:
                    self.unsettled[t] = _Unsettled(sig, now, target_hash(t, sig, routes))
                    out.append((t, "write"))
                else:
                    self.unsettled.pop(t, None)
                    out.append((t, "done"))
            elif pending is not None:
                if now - pending.since < settle_s:
                    continue
                digest = target_hash(t, sig, routes)
                if digest == pending.digest:
                    del self.unsettled[t]
                    self.seen[t] = (sig, digest)
                    out.append((t, "close"))
                else:  # the content moved under unchanged metadata: start settling again
                    self.unsettled[t] = _Unsettled(sig, now, digest)
                    out.append((t, "write"))
            elif with_hash and sig is not None:
                digest = target_hash(t, sig, routes)
                self.seen[t] = (sig, digest)
                if old_hash is not None and digest != old_hash:
                    out.append((t, "write" if settle_s > 0 else "done"))
                    if settle_s > 0:
                        self.unsettled[t] = _Unsettled(sig, now, digest)
        return out
