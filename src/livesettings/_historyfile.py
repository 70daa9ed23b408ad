"""The persisted history: one JSON line per accepted version, secrets masked, rotated by size.

``ReloadConfig(history_file=...)`` adds a [HistoryFile][livesettings._historyfile.HistoryFile] to
the engine's recorders, so every new version is appended after the pipeline let go of its locks.
A line holds the version's id, time, source, sequence number, the leaf changes (values masked by
the one rule in ``_redact``), the digest of every input and the writing process's id (the numbers
start again at 1 after a restart; the pid tells the runs apart). It never holds a secret value.
``livesettings history`` reads the file back with [read_history][livesettings._historyfile.read_history].

Several processes (a prefork server) may append to one file: each line is one ``write`` on a file
opened with ``O_APPEND``, under an exclusive ``flock`` that also covers the rotation.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from . import _forksafe
from ._model import Change, Version
from ._paths import entries, join
from ._redact import mask_url_passwords, redact_text, safe_repr, secret_name, secret_path, secret_strings

try:  # POSIX; elsewhere one process per history file
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["BACKUPS", "HistoryFile", "change_record", "masked_json", "read_history", "version_record"]

BACKUPS = 3  # rotated files kept: history.jsonl.1 (newest) ... history.jsonl.3 (oldest)


def masked_json(value: Any, path: str = "", *, secret: bool = False) -> Any:
    """``value`` (found at dotted ``path``) as plain JSON data, every secret replaced by its mask.

    The credential-name rule, secret types and URL passwords are those of
    [safe_repr][livesettings._redact.safe_repr]: a secret becomes ``"<secret fp=...>"``, a URL
    keeps its shape with the password fingerprinted. ``None`` and booleans stay as they are;
    other leaves (dates, paths, enums ...) become what pydantic makes of them in JSON mode.
    """
    secret = secret or secret_path(path)
    if value is None or isinstance(value, bool):
        return value
    if hasattr(value, "get_secret_value"):
        return safe_repr(value, secret=True)
    if isinstance(value, BaseModel):
        return {str(k): masked_json(v, join(path, k), secret=secret or secret_name(k)) for k, v in entries(value).items()}
    if isinstance(value, Mapping):
        return {str(k): masked_json(v, join(path, k), secret=secret or secret_name(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [masked_json(v, path, secret=secret) for v in value]
    if secret:
        return safe_repr(value, secret=True)
    if isinstance(value, str):
        return mask_url_passwords(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # NaN is not JSON
    try:
        plain = to_jsonable_python(value)
    except Exception:  # noqa: BLE001 - an exotic leaf: its masked repr
        return safe_repr(value, path)
    if type(plain) is type(value):  # nothing simpler (would recurse forever)
        return safe_repr(value, path)
    return masked_json(plain, path)


def change_record(change: Change) -> dict[str, Any]:
    """One leaf change as JSON data: ``path``, ``type``, masked ``old_value`` and ``new_value``."""
    return {
        "path": change.path,
        "type": change.type.value,
        "old_value": masked_json(change.old_value, change.path),
        "new_value": masked_json(change.new_value, change.path),
    }


def version_record(version: Version, name: str) -> dict[str, Any]:
    """The history-file line of ``version`` (of the settings object ``name``), as JSON data."""
    reason = version.reason
    if reason:
        reason = redact_text(reason, secret_strings(version.snapshot))
    return {
        "id": version.id,
        "time": version.timestamp.isoformat(),
        "settings": name,
        "number": version.number,
        "source": version.source,
        "restores": version.restores,
        "reason": reason,
        "changes": [change_record(c) for c in version.changes],
        "inputs": version.inputs,
        "pid": os.getpid(),
    }


def _files(path: Path, backups: int) -> list[Path]:
    """The history files, oldest first: ``path.N`` ... ``path.1``, ``path``."""
    return [*(path.with_name(f"{path.name}.{i}") for i in range(backups, 0, -1)), path]


class HistoryFile:
    """Appends each version it is called with to a JSON-lines file, rotating it by size.

    An engine recorder: called with no lock of the engine held; thread-safe and fork-safe.

    Args:
        path: the file (a relative path is made absolute now).
        max_bytes: rotate before a line would take the file past this size.
        name: the settings object's name, written on every line.
        backups: how many rotated files to keep.
    """

    def __init__(self, path: str | os.PathLike[str], max_bytes: int, *, name: str, backups: int = BACKUPS) -> None:
        self.path = Path(os.path.abspath(os.fspath(path)))
        self.max_bytes = max_bytes
        self.name = name
        self.backups = backups
        self._fork_reset()
        _forksafe.register(self)

    def _fork_reset(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, version: Version) -> None:
        """Append ``version``'s line (raises ``OSError`` if the file cannot be written)."""
        self.append(json.dumps(version_record(version, self.name), ensure_ascii=False, separators=(",", ":")))

    def append(self, line: str) -> None:
        """Append one line (without its newline), rotating first if the file would grow too big."""
        data = (line + "\n").encode("utf-8")
        with self._lock:
            fd = self._open_locked()
            try:
                if 0 < os.fstat(fd).st_size and os.fstat(fd).st_size + len(data) > self.max_bytes:
                    self._rotate()
                    os.close(fd)
                    fd = self._open_locked()
                os.write(fd, data)
            finally:
                os.close(fd)  # closing releases the flock

    def _open_locked(self) -> int:
        """The current file, opened for appending and locked (reopened if another process rotated it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(5):
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o640)
            if fcntl is None:
                return fd
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)  # rotated away while we waited for the lock: open the new file
        raise OSError(f"{self.path} keeps being rotated by another process")

    def _rotate(self) -> None:
        """``path.N-1`` -> ``path.N`` ... ``path`` -> ``path.1`` (the oldest is dropped); call locked."""
        files = _files(self.path, self.backups)
        for older, newer in zip(files, files[1:]):
            if newer.exists():
                os.replace(newer, older)


def read_history(path: str | os.PathLike[str], *, backups: int = BACKUPS) -> tuple[list[dict[str, Any]], int]:
    """Every record of a history file and its rotated files, oldest first, and how many lines
    could not be read (a line cut short by a crash, or not written by livesettings)."""
    records: list[dict[str, Any]] = []
    bad = 0
    for file in _files(Path(path), backups):
        for line in _lines(file):
            try:
                record = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(record, dict) and "id" in record:
                records.append(record)
            else:
                bad += 1
    return records, bad


def _lines(file: Path) -> Iterator[str]:
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    yield from (line for line in text.splitlines() if line.strip())
