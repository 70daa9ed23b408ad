"""Reading config files for pydantic-settings: trusted, hashed, strictly parsed, cached.

pydantic-settings stays in charge of *which* sources exist and how they merge. We subclass its
file sources (YAML, TOML, JSON, dotenv, secrets) and its env source so that every file they read goes
through one [FileReader][livesettings._sources.FileReader] owned by the settings object. That
reader checks trust (allowed roots after resolving symlinks, world-writable, size), hashes the
bytes, reuses the parsed result when the bytes did not change, and records what each source
returned so a validation error can say which file, line and column a bad value came from.

The current load is found through a ``ContextVar``; outside a load the sources behave like
pydantic-settings' own (with our strict parsers).
"""

from __future__ import annotations

import codecs
import contextvars
import errno
import functools
import logging
import os
import stat
import threading
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic._internal._utils import deep_update  # the merge pydantic-settings itself uses
from pydantic_settings.sources.base import DefaultSettingsSource, PydanticBaseEnvSettingsSource
from pydantic_settings.sources.types import DEFAULT_PATH
from pydantic_settings.utils import _settings_debug_enabled, logger as _ps_logger, path_type_label
from pydantic_settings import (
    BaseSettings,
    CliSettingsSource,
    DotEnvSettingsSource,
    EnvSettingsSource,
    InitSettingsSource,
    JsonConfigSettingsSource,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from . import _forksafe, _parsers
from ._merge import Keys, MergeStrategy, Rules, check_strategy, field_rules, merge_files, under_section
from ._digest import content_digest
from ._packed import PACK_FROM, Packed
from .exceptions import ErrorDetail, SourceError, SourceMissingError, UntrustedSourceError

__all__ = ["FileReader", "FileState", "LoadContext", "SecretsSource", "current_context", "live_sources"]


# FileState and SourceRecord are plain classes with slots, not dataclasses: generating dataclass
# methods costs import time. Their reprs leave out what was read (it may hold secrets).


class FileState:
    """What one load saw of one file.

    ``data``: the bytes as parsed. Once an accepted load is committed, a big YAML file's state keeps
    no bytes object, only what gives them back from the reader's packed layout of that document
    (see ``FileReader.commit``): reading ``data`` then unpacks them (``explain()``, an error's line).
    """

    __slots__ = ("_data", "digest", "fmt", "parsed", "path")

    def __init__(
        self, path: Path, fmt: str, digest: str | None,  # digest None: the file does not exist
        data: Held = b"", parsed: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.fmt = fmt
        self.digest = digest
        self._data = data
        self.parsed = parsed

    @property
    def data(self) -> bytes:
        data = self._data
        return data if isinstance(data, bytes) else data()

    def held(self) -> Held:
        """``data``, or what gives it back without unpacking it now: for a load that takes this state as it was."""
        return self._data

    def smaller_than(self, size: int) -> bool:
        """Whether the file has fewer than ``size`` (at most ``PACK_FROM``) bytes, without unpacking them:
        a state that keeps no bytes object is one of a packed layout, so of ``PACK_FROM`` bytes or more."""
        data = self._data
        return isinstance(data, bytes) and len(data) < size

    def __repr__(self) -> str:
        return f"FileState(path={self.path!r}, fmt={self.fmt!r}, digest={self.digest!r})"


class SourceRecord:
    """What one source returned during a load, for error attribution."""

    __slots__ = ("appended", "data", "env_delimiter", "env_prefix", "files", "label", "section", "source")

    def __init__(
        self,
        label: str,
        data: Mapping[str, Any],  # may hold secrets
        files: tuple[Path, ...] = (),
        env_prefix: str = "",
        env_delimiter: str | None = None,
        section: str | None = None,  # a YAML source's ``yaml_config_section``: the files' data sits under it
        # The source that returned ``data``: provenance asks an env-style source for its variable names.
        source: Any = None,
        # A file source's concatenated lists (``merge="append"``): raw keys -> ((file, item count), ...).
        appended: Mapping[tuple[Any, ...], tuple[tuple[Path, int], ...]] | None = None,
    ) -> None:
        self.label = label
        self.data = data
        self.files = files
        self.env_prefix = env_prefix
        self.env_delimiter = env_delimiter
        self.section = section
        self.source = source
        self.appended: Mapping[tuple[Any, ...], tuple[tuple[Path, int], ...]] = (
            {} if appended is None else appended
        )

    def __repr__(self) -> str:
        return (f"SourceRecord(label={self.label!r}, files={self.files!r}, env_prefix={self.env_prefix!r}, "
                f"env_delimiter={self.env_delimiter!r}, section={self.section!r})")


class LoadContext:
    """Everything one load (start-up or reload) read. Built fresh for each attempt."""

    def __init__(self, reader: FileReader, *, reloading: bool) -> None:
        self.reader = reader
        self.reloading = reloading
        self.files: dict[Path, FileState] = {}
        self.records: list[SourceRecord] = []
        self.prefetched: dict[Path, Served] = {}  # read (and hashed) before the load started
        self.env_file: Any = None  # the real env_file setting (pydantic's own dotenv source gets None)
        # Inputs other than files (an etcd prefix ...): key -> (digest at load, current digest).
        self.inputs: dict[str, tuple[str | None, Callable[[], str | None]]] = {}
        self.feeds: dict[str, Callable[[], Any]] = {}  # key -> factory of a ChangeFeed for that input
        self.memo: dict[Any, Any] | None = None  # the loader's results of pure sources, kept across loads
        self.sections: Any = None  # the loader's _sections.SectionReuse (unchanged sections not re-validated)
        # Top-level sections a single-file YAML source may hand on packed (see ``_packed``): the
        # loader's reusable sections, less those another source of an earlier load also set.
        self.packable: frozenset[str] = frozenset()
        self.packed: list[Packed] = []  # packed by this load: ``release`` lets go of their live values
        # What pydantic-settings merged in this load: (sources, init kwargs); see ``keepable``.
        self.built: tuple[tuple[PydanticBaseSettingsSource, ...], dict[str, Any]] | None = None

    def release(self) -> None:
        """The load ended: what it packed keeps only its bytes (see ``Packed.live``)."""
        for packed in self.packed:
            packed.live = None
        self.packed = []

    def add_input(self, key: str, digest: str | None, current: Callable[[], str | None]) -> None:
        """Record a non-file input of this load (for example ``"etcd:http://h:2379/apps/web/"``).

        Args:
            key: identifies the input across loads (the same key means the same input).
            digest: what the input held when this load read it (an etcd revision ...).
            current: returns what the input holds now, cheaply and without blocking for long;
                the engine calls it (on a feed's thread) to decide whether a reload is needed.
        """
        self.inputs[key] = (digest, current)

    def add_feed(self, key: str, factory: Callable[[], Any]) -> None:
        """Ask for a [ChangeFeed][livesettings.typing.ChangeFeed] for input ``key``.

        The engine calls ``factory()`` once per settings object, after the first accepted load
        that asked for it, and starts the feed only while hot reload is on; it closes the feed
        on ``close()``. Loads that ask again for the same key get the feed already running.
        """
        self.feeds.setdefault(key, factory)

    def fetch(self, path: Path) -> Fetched:
        """``(bytes, digest)`` of ``path`` (``(None, None)`` if missing), read once per load."""
        data, digest = self.served(path)
        return (data if data is None or isinstance(data, bytes) else data()), digest

    def served(self, path: Path) -> Served:
        """``fetch``, but the bytes of a file taken as served may be what gives them back (not unpacked)."""
        path = _absolute(path)
        hit = self.prefetched.get(path)
        return hit if hit is not None else self.reader.fetch(path)

    def load(self, path: Path, fmt: str, *, encoding: str | None = None, **kw: Any) -> dict[str, Any]:
        """Parse ``path`` as ``fmt`` (``{}`` if missing, after the missing-file rules).

        ``encoding``: the source's ``*_file_encoding`` (``None``: UTF-8, a BOM may say UTF-16/32).
        """
        path = _absolute(path)
        data, digest = self.served(path)
        try:
            # Files taken as served (HotReloadLoader._served_files) hold what their state was parsed from,
            # already UTF-8; they are handed on only while the sources are kept, which do not read again
            # (tests/test_big_files.py). A packed document's bytes (not bytes here) are never decoded.
            if isinstance(data, bytes) and encoding and codecs.lookup(encoding).name not in ("utf-8", "utf-8-sig"):
                data = _transcode(data, encoding, path)
            state = self.reader.read(path, fmt, reloading=self.reloading, data=data, digest=digest, **kw)
        except SourceError as exc:
            cause = exc.__context__  # what the parser or _transcode turned into this error
            if type(exc) is SourceError and isinstance(cause, UnicodeDecodeError):
                raise UndecodableSourceError(exc.summary, exc.details, cause) from None
            raise
        self.files[state.path] = state
        return dict(state.parsed or {})

    def load_secret(self, path: Path, key: str) -> str | None:
        """The stripped UTF-8 text of the secret file ``path`` for field ``key`` (``None`` if gone).

        Read through the reader like any config file, so the trust and size checks run on the
        opened descriptor before a byte is read. Its content never appears in an error.
        """
        path = _absolute(path)
        data, digest = self.fetch(path)
        if data is None or digest is None:
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            shown = SourceError.at(str(path), f"is not valid UTF-8 (at byte offset {exc.start}); content not shown")
            raise UndecodableSourceError(shown.summary, shown.details, exc, secret=True) from None
        self.files[path] = FileState(path, "secret", digest, parsed={key: None})
        return text.strip()


class UndecodableSourceError(SourceError, UnicodeDecodeError):
    """A file that is not valid text in its encoding: a [SourceError][livesettings.exceptions.SourceError]
    (file, line, column) that is also the ``UnicodeDecodeError`` pydantic-settings raises there.

    Its ``object`` is only the offending byte (as the message shows it), never the file's content;
    for a secret file, not even that.
    """

    def __init__(
        self,
        summary: str,
        details: Sequence[ErrorDetail] = (),
        cause: UnicodeDecodeError | None = None,
        *,
        secret: bool = False,
    ) -> None:
        encoding, bad, reason = "utf-8", b"", "invalid data"
        if cause is not None:
            encoding, reason = cause.encoding, cause.reason
            bad = b"" if secret else cause.object[cause.start : cause.start + 1]
        UnicodeDecodeError.__init__(self, encoding, bytes(bad), 0, len(bad), reason)
        self.summary = summary
        self.details = tuple(details)
        first = self.details[0] if self.details else None
        self.source = first.source if first else None
        self.line = first.line if first else None
        self.column = first.column if first else None
        self.field = first.field if first else None

    def __str__(self) -> str:
        return self._render()

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.summary, self.details))


def _transcode(data: bytes, encoding: str, path: Path) -> bytes:
    """``data`` decoded from the source's declared ``encoding``, as UTF-8 for the parsers."""
    try:
        return data.decode(encoding).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError.at(str(path), f"is not valid {encoding} (at byte offset {exc.start})") from None


def resolve_depth(file: Any, depth: int | None) -> Any:
    """pydantic-settings' ``env_file_depth``: a relative file missing from the working directory is
    looked for in up to ``depth`` of its parents (nearest first); a directory is no file."""
    path = Path(file).expanduser()
    if os.path.isfile(path) or not depth or depth <= 0 or path.is_absolute():
        return file
    parents = Path.cwd().parents
    for parent in list(parents)[:depth]:
        candidate = parent / path
        if os.path.isfile(candidate) or candidate.is_fifo():
            return candidate
    return file


_CURRENT: contextvars.ContextVar[LoadContext | None] = contextvars.ContextVar("livesettings_load", default=None)


Fetched = tuple[bytes | None, str | None]  # a file's bytes and content digest; (None, None) if missing
# A file's bytes, or what gives them back (as parsed, already transcoded) when a state keeps none.
Held = bytes | Callable[[], bytes]
Served = tuple[Held | None, str | None]  # a Fetched whose bytes a served state may give back on demand


def current_context() -> LoadContext | None:
    """The load in progress on this thread (``None`` outside an engine load): for custom sources."""
    return _CURRENT.get()


def _absolute(path: Path) -> Path:
    """``path`` made absolute and normalised (``~`` expanded, ``..`` folded), as ``abspath`` does."""
    if isinstance(path, Path) and path.is_absolute() and ".." not in path.parts:
        return path  # what abspath would return (Path folds "." and "//" itself): skip the rebuild
    return Path(os.path.abspath(os.path.expanduser(path)))


class FileReader:
    """Reads, checks, hashes and parses config files for one settings object.

    Thread-safety: one reload runs at a time (the engine serialises them); the cache is guarded
    by a lock anyway because the compatibility layer may read from other threads.
    """

    def __init__(
        self,
        *,
        limits: _parsers.ParseLimits,
        allowed_roots: tuple[Path, ...] | None,
        allow_empty: bool,
        dotenv_interpolate: bool = True,
        strict: bool = False,
    ) -> None:
        self.limits = limits
        self.strict = strict  # ReloadConfig.strict_sources: refuse what pydantic-settings skips
        self.allow_empty = allow_empty
        self.dotenv_interpolate = dotenv_interpolate
        self._roots = tuple(Path(os.path.realpath(r)) for r in allowed_roots) if allowed_roots else None
        # Unless strict: secrets directory -> the size pydantic-settings allows its files (see live_sources).
        self.secret_limits: dict[str, int] = {}
        self._lock = threading.Lock()
        # (path, format) -> (digest, parse, what gives the bytes back from a packed YAML layout, or None).
        self._parsed: dict[tuple[Path, str], tuple[str, Mapping[str, Any] | None, Callable[[], bytes] | None]] = {}
        self._layouts: dict[str, Any] = {}  # YAML: the last document per file, to parse only an edited entry
        self.last_good: dict[Path, FileState] = {}
        _forksafe.register(self)

    def _fork_reset(self) -> None:
        """A fresh cache lock in a forked child (the parent's may have been held by a thread)."""
        self._lock = threading.Lock()

    # -- trust -----------------------------------------------------------------------------
    def _max_bytes(self, path: str, resolved: str) -> int:
        """The size limit for ``path``: ``max_file_bytes``, or a secrets directory's larger one."""
        limit = self.limits.max_bytes
        if self.secret_limits and not self.strict:
            for directory, allowed in self.secret_limits.items():
                if allowed > limit and (_within(path, directory) or _within(resolved, directory)):
                    limit = allowed
        return limit

    def _check_trust(self, shown: str, st: os.stat_result, max_bytes: int | None = None) -> None:
        """The checks on the opened file itself (its ``fstat``)."""
        if not stat.S_ISREG(st.st_mode):
            raise UntrustedSourceError.at(shown, "is not a regular file")
        if st.st_mode & stat.S_IWOTH:
            raise UntrustedSourceError.at(shown, "is world-writable; refusing to load it (chmod o-w)")
        if st.st_mode & stat.S_IWGRP and not _trusted_owner(st):
            raise UntrustedSourceError.at(
                shown,
                f"is group-writable and owned by uid {st.st_uid}, neither this process's user nor root; "
                "refusing to load it (chmod g-w, or chown it to this user)",
            )
        limit = self.limits.max_bytes if max_bytes is None else max_bytes
        if st.st_size > limit:
            raise UntrustedSourceError.at(shown, f"is {st.st_size} bytes, over the limit of {limit} bytes")

    def _check_roots(self, shown: str, resolved: str, link_dir: str) -> None:
        roots = self._roots or (Path(link_dir),)
        if not any(_within(resolved, str(root)) for root in roots):
            raise UntrustedSourceError.at(
                shown, f"resolves to {resolved}, outside the allowed roots ({', '.join(map(str, roots))})"
            )

    def _check_dirs(self, path: str, resolved: str, link_dir: str, linked: bool) -> None:
        """Refuse a file that someone other than its owner could replace through a directory.

        Every directory from the file's up to ``/`` is checked, for the file itself and for the
        symlink that leads to it (whoever can rewrite the link chooses the file): a world-writable
        directory without the sticky bit lets anyone rename entries away and put their own in
        their place; in a sticky one (``/tmp``) anyone can still *create* an entry, so the entry
        below it must be owned by this process's user or root (the reasoning of sshd's
        ``StrictModes``). One ``stat`` per directory (the strings are cached): this runs on every read.
        """
        chains = [resolved]
        if linked or os.path.dirname(resolved) != link_dir:
            chains.append(os.path.join(link_dir, os.path.basename(path)))  # the link, in its real directory
        for entry in chains:
            below_st = None  # the entry below the directory, stat-ed only when a directory asks about it
            for directory, below in _dir_chain(entry):
                dst = os.stat(directory)
                if dst.st_mode & stat.S_IWOTH:
                    if not dst.st_mode & stat.S_ISVTX:
                        raise UntrustedSourceError.at(
                            path,
                            f"is under the world-writable directory {directory} (no sticky bit): anyone could "
                            f"replace it; refusing to load it (chmod o-w {directory})",
                        )
                    below_st = below_st or os.lstat(below)  # lstat: the link itself on the link's chain
                    if not _trusted_owner(below_st):
                        raise UntrustedSourceError.at(
                            path,
                            f"{below} sits in the sticky world-writable directory {directory} and is owned by "
                            f"uid {below_st.st_uid}, neither this process's user nor root; refusing to load it",
                        )
                below_st = dst

    # -- reading ---------------------------------------------------------------------------
    def read_bytes(self, path: Path) -> bytes | None:
        """The file's bytes after the trust checks, or ``None`` if it does not exist.

        The root and directory checks run on the resolved path; the file is then opened at that
        path without following a symlink swapped in since (nor blocking on a FIFO swapped in),
        and the other checks run on the opened descriptor itself, before a byte is read. A
        regular file renamed over the path in between (an editor saving) is fine: it is what the
        path holds.

        Raises:
            UntrustedSourceError: a trust check failed.
            SourceError: any other OS error (permission denied, a symlink loop, I/O error ...),
                naming the file.
        """
        path = _absolute(path)
        try:
            return self._read_bytes(str(path))
        except OSError as exc:
            raise _os_error(path, exc) from None

    def _read_bytes(self, path: str) -> bytes | None:
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
        flags |= getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        for _attempt in range(3):
            resolved = os.path.realpath(path)
            linked = os.path.islink(path)
            # realpath(path) is realpath(parent)/name unless the last component is a link itself.
            link_dir = os.path.realpath(os.path.dirname(path)) if linked else os.path.dirname(resolved)
            try:
                st = os.stat(resolved)
            except (FileNotFoundError, NotADirectoryError):
                return None
            if self._roots or linked:  # else link_dir is resolved's own directory: nothing to check
                self._check_roots(path, resolved, link_dir)
            if not stat.S_ISREG(st.st_mode):  # never open a device or a FIFO
                raise UntrustedSourceError.at(path, "is not a regular file")
            self._check_dirs(path, resolved, link_dir, linked)
            try:
                fd = os.open(resolved, flags)
            except FileNotFoundError:
                continue
            except OSError as exc:  # ELOOP: a symlink was swapped in after the check
                if exc.errno == errno.ELOOP:
                    continue
                raise
            limit = self._max_bytes(path, resolved)
            try:
                st = os.fstat(fd)
                self._check_trust(path, st, limit)
                data = _read_fd(fd, st.st_size, limit)
            finally:
                os.close(fd)
            if len(data) > limit:
                raise UntrustedSourceError.at(path, f"is over the limit of {limit} bytes")
            return data
        raise UntrustedSourceError.at(path, "kept changing into a symlink while being read; refusing it")

    def fetch(self, path: Path) -> Fetched:
        """``(bytes, digest)`` after the trust checks; ``(None, None)`` if the file does not exist."""
        data = self.read_bytes(path)
        return (None, None) if data is None else (data, content_digest(data))

    def read(
        self, path: Path, fmt: str, *, reloading: bool, data: Held | None, digest: str | None, **kw: Any
    ) -> FileState:
        """Parse ``data`` (the bytes of ``path`` with their ``digest``; ``None`` if missing),
        reusing the last parse when the digest did not change (then ``data`` is not asked for its
        bytes when it is what gives them back)."""
        path = _absolute(path)
        if data is None or digest is None:
            self.check_missing(path, reloading=reloading)
            return FileState(path, fmt, None)
        with self._lock:
            cached = self._parsed.get((path, fmt))
        if cached is not None and cached[0] == digest:
            parsed = cached[1]
        else:
            if fmt == "dotenv":
                kw.setdefault("interpolate", self.dotenv_interpolate)
            elif fmt == "yaml":
                kw.setdefault("layouts", self._layouts)
            if not isinstance(data, bytes):
                data = data()
            parsed = _parsers.parse(fmt, data, str(path), self.limits, **kw)
            restore = None
            if fmt == "yaml" and kw.get("layouts") is self._layouts:
                layout = self._layouts.get(str(path))  # the layout parse_yaml kept of exactly these bytes
                restore = layout.restorer() if layout is not None else None
            with self._lock:
                self._parsed[(path, fmt)] = (digest, parsed, restore)
        if parsed is None:  # an empty document
            before = self.last_good.get(path)
            if reloading and not self.allow_empty and before is not None and before.digest != digest:
                raise SourceMissingError.at(
                    str(path),
                    "is empty (a half-written save?); keeping the last good config "
                    "(set ReloadConfig(allow_empty=True) to accept empty files)",
                )
        return FileState(path, fmt, digest, data, parsed)

    def check_missing(self, path: Path, *, reloading: bool) -> None:
        before = self.last_good.get(path)
        if reloading and before is not None and before.digest is not None:
            raise SourceMissingError.at(
                str(path), "was loaded before but is missing now; keeping the last good config"
            )

    def commit(self, files: Mapping[Path, FileState]) -> None:
        """Remember what the accepted load saw (for the missing/empty rules).

        A state parsed into a packed YAML layout (a big file, see ``_packed.PACK_FROM``) drops
        its bytes here: from now on it gives them back from that layout, which is never changed
        (a later load's edit makes a new one), so a rejected edit leaves the served config
        explained at the served file's lines. Before this, the load had its bytes for its errors.
        """
        self.last_good = dict(files)
        with self._lock:
            for state in files.values():
                if state.fmt == "yaml" and isinstance(state._data, bytes):
                    cached = self._parsed.get((state.path, state.fmt))
                    if cached is not None and cached[0] == state.digest and cached[2] is not None:
                        state._data = cached[2]


def _read_fd(fd: int, size: int, limit: int) -> bytes:
    """What ``fd`` holds, up to ``limit + 1`` bytes (one more than allowed tells it is too big).

    Plain ``os.read`` calls sized by the file's ``size`` (its fstat), no buffered file object
    around them; a file that grew after its fstat is read on to its end (or past the limit).
    """
    want = min(size + 1, limit + 1)
    data = os.read(fd, want)
    if len(data) < want:  # a regular file reads short only at its end
        return data
    chunks, got = [data], len(data)
    while got <= limit:
        chunk = os.read(fd, limit + 1 - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _trusted_owner(st: os.stat_result) -> bool:
    """Owned by this process's (effective) user or by root; always true where uids do not exist."""
    geteuid = getattr(os, "geteuid", None)
    return geteuid is None or st.st_uid in (0, geteuid())


def _os_error(path: Path, exc: OSError) -> SourceError:
    """A [SourceError][livesettings.exceptions.SourceError] for an OS error met while reading ``path``."""
    code = errno.errorcode.get(exc.errno or 0)
    reason = exc.strerror or str(exc)
    where = f" at {exc.filename}" if exc.filename and os.fspath(exc.filename) != str(path) else ""
    return SourceError.at(str(path), f"cannot be read: {reason}{f' ({code})' if code else ''}{where}")


@functools.lru_cache(maxsize=256)
def _dir_chain(entry: str) -> tuple[tuple[str, str], ...]:
    """``(directory, the entry below it)`` from ``entry``'s directory up to ``/``: string work that
    every read of a file would repeat (the stats of ``_check_dirs`` are made each time)."""
    out: list[tuple[str, str]] = []
    below, directory = entry, os.path.dirname(entry)
    while True:
        out.append((directory, below))
        parent = os.path.dirname(directory)
        if parent == directory:
            return tuple(out)
        below, directory = directory, parent


def _within(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # different drives
        return False


# --------------------------------------------------------------------------- the sources


def merged(
    settings_cls: type[BaseSettings], sources: tuple[PydanticBaseSettingsSource, ...], init_kwargs: dict[str, Any],
    values: dict[str, Any],
) -> dict[str, Any]:
    """``values`` (what ``sources`` merged to) with the current load's unchanged sections swapped for
    their last validated instances (see ``_sections``); the load keeps ``sources`` for the next one
    (see ``keepable``). Unchanged outside a load."""
    ctx = _CURRENT.get()
    if ctx is None:
        return values
    ctx.built = (sources, init_kwargs)
    clash = _packed_clash(ctx, values, sources)
    if clash:
        raise RetryUnpacked(clash)
    if ctx.sections is None:
        return values
    return ctx.sections.substitute(settings_cls, values)  # type: ignore[no-any-return]


class RetryUnpacked(Exception):  # noqa: N818 - not an error: the loader loads again
    """A packed section was merged with another source's value for it: load again with ``keys`` live."""

    def __init__(self, keys: frozenset[str]) -> None:
        super().__init__(sorted(keys))
        self.keys = keys


def _packed_clash(
    ctx: LoadContext, values: Mapping[str, Any], sources: tuple[PydanticBaseSettingsSource, ...] = ()
) -> frozenset[str]:
    """The packed sections in ``values`` that a source other than their own also returned.

    pydantic-settings merged such a section as one opaque value where it would have merged two
    dicts, so the load must run again with it live (``RetryUnpacked``). A higher-priority source
    never gets here (the YAML source opens what ``current_state`` holds); a lower-priority one may.
    So may the defaults, with partial updates asked for by the init keyword
    ``_nested_model_default_partial_update=True`` (the class's own setting keeps packing off from
    the start, see ``HotReloadLoader._packing_ok``): then every packed section clashes.
    """
    packed = [key for key, value in values.items() if type(value) is Packed]
    if not packed:
        return frozenset()
    if any(getattr(source, "nested_model_default_partial_update", False) for source in sources):
        return frozenset(packed)
    clash = set()
    for key in packed:
        value = values[key]
        for record in ctx.records:
            data = record.data
            if key in data and data[key] is not value:
                clash.add(key)
    return frozenset(clash)


def _context() -> LoadContext:
    ctx = _CURRENT.get()
    if ctx is None:  # used outside an engine load: behave like pydantic-settings, strictly parsed
        ctx = LoadContext(
            FileReader(limits=_parsers.ParseLimits(), allowed_roots=(Path("/"),), allow_empty=True),
            reloading=False,
        )
    return ctx


class _FileSourceMixin:
    _fmt = ""  # also the label of its records
    _files: tuple[Path, ...] = ()
    # What each file was when the source read it (None: not kept, e.g. a Traversable; see keepable).
    _states: dict[Path, FileState] | None = None
    _remake: Callable[..., Any] | None = None  # builds the same source again, reading the files anew
    _merge_choice: MergeStrategy | None = None  # the source's ``merge=`` (None: not asked for)
    _merge_probe = False  # _same_merge's probes: no field markers, no ReloadConfig default
    _merge_cls: type[BaseSettings] = BaseSettings
    _appended: Mapping[Keys, tuple[tuple[Path, int], ...]] = {}  # concatenated lists: their parts

    def _set_merge(self, settings_cls: type[BaseSettings], merge: MergeStrategy | None, probe: bool) -> None:
        if merge is not None:
            check_strategy(merge, f"{type(self).__qualname__}(merge=)")
        self._merge_choice = merge
        self._merge_probe = probe
        self._merge_cls = settings_cls  # pydantic-settings sets ``settings_cls`` only after reading the files

    def _encoding(self) -> str | None:
        return getattr(self, f"{self._fmt}_file_encoding", None)

    def _strategy(self, deep_merge: bool, probe: bool | None = None) -> MergeStrategy:
        """The source's strategy: ``merge=``, else ``deep_merge=True``, else ``ReloadConfig(merge=)``,
        else ``"replace"`` (pydantic-settings' default for several files)."""
        if self._merge_choice is not None:
            return self._merge_choice
        if deep_merge:
            return "deep"
        if not (self._merge_probe if probe is None else probe):
            facade = getattr(self._merge_cls, "__livesettings_facade__", None)
            default = getattr(getattr(facade, "reload_config", None), "merge", None)
            if default is not None:
                return default  # type: ignore[no-any-return]
        return "replace"

    def _section_keys(self) -> tuple[str, ...]:
        """Where the source's data sits in each file (``yaml_config_section``, ``toml_table_header``)."""
        section = getattr(self, "yaml_config_section", None)
        if section:
            return tuple(str(section).split("."))
        return tuple(getattr(self, "toml_table_header", None) or ())

    def _read_files(self, files: Any, deep_merge: bool = False) -> dict[str, Any]:
        ctx = _context()
        self._appended = {}
        if files is None:
            return {}
        if isinstance(files, (str, os.PathLike)) or not isinstance(files, (list, tuple)):
            files = [files]  # one path, or one Traversable (a zipfile.Path, package resources)
        parts: list[dict[str, Any]] = []
        labels: list[Path | None] = []
        seen: list[Path] = []
        for file in files:
            if not isinstance(file, (str, os.PathLike)):  # a Traversable: read once, as pydantic-settings does
                parts.append(super()._read_files([file], False))  # type: ignore[misc]
                labels.append(None)
            else:
                path = Path(file).expanduser()
                seen.append(_absolute(path))
                parts.append(ctx.load(path, self._fmt, encoding=self._encoding()))  # {} if missing (the reader's rules)
                labels.append(seen[-1])
        self._files = tuple(seen)
        self._states = None if None in labels else {p: ctx.files[p] for p in seen}
        strategy = self._strategy(deep_merge)
        rules = {} if self._merge_probe else field_rules(self._merge_cls)
        section = self._section_keys()
        if strategy == "replace" and not rules:  # pydantic-settings' own way, exactly
            merged: dict[str, Any] = {}
            for data in parts:
                merged.update(data)
            return merged
        if strategy == "deep" and not rules:
            merged = {}
            for data in parts:
                merged = deep_update(merged, data)
            return merged
        if section:
            yaml_section = getattr(self, "yaml_config_section", None)
            rules = under_section(rules, yaml_section) if yaml_section else _nest(rules, section)
        merged, appended = merge_files(parts, strategy, rules)
        self._appended = _relative(appended, labels, parts, section)
        return merged

    def _read_file(self, path: Path) -> dict[str, Any]:
        if not isinstance(path, (str, os.PathLike)):
            return super()._read_file(path)
        return _context().load(path, self._fmt, encoding=self._encoding())

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = super().__call__()  # type: ignore[misc]
        ctx = _CURRENT.get()
        if ctx is not None:
            if self._fmt == "yaml":
                self._pack(ctx, data)
            section = getattr(self, "yaml_config_section", None)
            ctx.records.append(SourceRecord(self._fmt, data, self._files, section=section, appended=self._appended))
        return data

    def _pack(self, ctx: LoadContext, data: dict[str, Any]) -> None:
        """Hand on each packable section of ``data`` packed, and open every other packed one (see ``_packed``).

        A section is packed once, where the reader keeps the file's parse, so later loads get the
        same ``Packed`` object (section reuse then sees it is the same input at once). Only for one
        file of at least ``PACK_FROM`` bytes and no section, and only what no
        higher-priority source set (pydantic-settings merges dicts, not packed values); a
        lower-priority source that sets it makes ``merged`` ask for the load again, unpacked.
        """
        state = next(iter(self._states.values())) if self._states is not None and len(self._states) == 1 else None
        allowed = ctx.packable
        if (
            state is None or not allowed or state.parsed is None or state.smaller_than(PACK_FROM)
            or self._section_keys()
        ):
            allowed = frozenset()
        higher: Mapping[str, Any] = self.current_state if allowed else {}  # type: ignore[attr-defined]
        parsed: Any = state.parsed if state is not None else None
        for key, value in data.items():
            if type(value) is Packed:
                if key not in allowed or key in higher:
                    data[key] = live = value.open()
                    if parsed is not None and parsed.get(key) is value:  # live from now on: not opened again
                        parsed[key] = live
                    kept = getattr(self, "yaml_data", None)
                    if isinstance(kept, dict) and kept.get(key) is value:
                        kept[key] = live
            elif type(value) is dict and key in allowed and key not in higher:
                packed = Packed.pack(value)
                if packed is None:
                    continue
                data[key] = packed
                packed.live = value
                ctx.packed.append(packed)
                if parsed.get(key) is value:  # the reader's kept parse (shared by its layout and cache)
                    parsed[key] = packed
                kept = getattr(self, "yaml_data", None)
                if isinstance(kept, dict) and kept.get(key) is value:
                    kept[key] = packed


def _nest(rules: Rules, header: tuple[str, ...]) -> Rules:
    """``rules`` under the TOML table ``header``."""
    for key in reversed(header):
        rules = {key: (None, rules)} if rules else rules
    return rules


def _relative(
    appended: Mapping[Keys, tuple[int, ...]], labels: list[Path | None], parts: list[dict[str, Any]],
    section: tuple[str, ...],
) -> dict[Keys, tuple[tuple[Path, int], ...]]:
    """The concatenated lists of a merge, keyed as in the source's data (below its section), each
    with its parts as ``(file, item count)``."""
    out: dict[Keys, tuple[tuple[Path, int], ...]] = {}
    for keys, indexes in appended.items():
        prefix: Keys = ()
        for candidate in ((*section,), (".".join(section),)) if section else ((),):
            if keys[: len(candidate)] == candidate:
                prefix = candidate
                break
        else:
            continue  # outside the section: not in the source's data
        pieces = []
        for i in indexes:
            node: Any = parts[i]
            for key in keys:
                node = node.get(key) if isinstance(node, Mapping) else None
            label = labels[i]
            if label is not None and isinstance(node, list):
                pieces.append((label, len(node)))
        inner = keys[len(prefix):]
        if inner and len(pieces) == len(indexes):
            out[inner] = tuple(pieces)
    return out


# Per settings class, weakly: the provided keys -> {output key: provided key} (see _KeysOnce).
_INIT_KEYS: weakref.WeakKeyDictionary[type, dict[tuple[Any, ...], dict[Any, Any]]] = weakref.WeakKeyDictionary()


class _KeysOnce(InitSettingsSource):
    """pydantic-settings' ``InitSettingsSource``, which our file sources are, renaming the data's
    keys to the fields' preferred aliases the way it does, worked out once per set of keys.

    Its renaming walks every field's alias names on every construction: for a file source, on
    every reload of that file. The renaming depends only on the class (its fields and config) and
    the keys, so the first construction runs it on ``{key: key}`` and remembers which key each
    output came from. Only for a class whose fields are complete: an incomplete one must warn as
    it does.
    """

    def __init__(
        self, settings_cls: type[BaseSettings], init_kwargs: dict[str, Any],
        nested_model_default_partial_update: bool | None = None, _init_state: Any = None,
    ) -> None:
        keys = tuple(init_kwargs)
        try:
            memo = _INIT_KEYS.setdefault(settings_cls, {}) if settings_cls.__pydantic_complete__ else None
        except TypeError:  # not weakly referenceable
            memo = None
        names = memo.get(keys) if memo is not None else None
        if names is None:
            super().__init__(settings_cls, {k: k for k in keys}, nested_model_default_partial_update, _init_state)
            names = dict(self.init_kwargs)
            if memo is not None:
                if len(memo) >= 64:
                    memo.clear()
                memo[keys] = names
        else:
            PydanticBaseSettingsSource.__init__(self, settings_cls, _init_state)
            # as InitSettingsSource.__init__ sets it
            self.nested_model_default_partial_update = (
                nested_model_default_partial_update
                if nested_model_default_partial_update is not None
                else self.config.get("nested_model_default_partial_update", False)
            )
        self.init_kwargs = {out: init_kwargs[key] for out, key in names.items()}


class YamlSource(_FileSourceMixin, YamlConfigSettingsSource, _KeysOnce):
    """pydantic-settings' YAML source, read through livesettings (libyaml, strict, hashed, cached).

    Args:
        merge: how several files combine: ``"deep"``, ``"replace"`` or ``"append"`` (see
            [Merge][livesettings.Merge]). ``None`` (default): ``"deep"`` if ``deep_merge=True``,
            else ``ReloadConfig(merge=)`` of the settings class, else ``"replace"`` (top-level
            keys, pydantic-settings' default).

    The other arguments are pydantic-settings'. Changed in 0.5: ``merge``.
    """

    _fmt = "yaml"

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        yaml_file: Any = DEFAULT_PATH,
        yaml_file_encoding: str | None = None,
        yaml_config_section: str | None = None,
        deep_merge: bool = False,
        *,
        merge: MergeStrategy | None = None,
        _merge_probe: bool = False,
        **kwargs: Any,
    ) -> None:
        self._set_merge(settings_cls, merge, _merge_probe)
        self._remake = functools.partial(
            YamlSource, settings_cls, yaml_file, yaml_file_encoding, yaml_config_section, deep_merge, merge=merge, **kwargs
        )
        try:
            super().__init__(settings_cls, yaml_file, yaml_file_encoding, yaml_config_section, deep_merge, **kwargs)
        except (KeyError, TypeError) as exc:
            # pydantic-settings raises a bare KeyError (no such section) or TypeError (a value on
            # the way is not a mapping) for ``yaml_config_section``: a reload must reject the
            # candidate like any bad file, so both become a SourceError of the same type.
            message = str(exc.args[0]) if exc.args else ""
            if not message.startswith("yaml_config_section"):
                raise
            raise _section_error(type(exc), message, getattr(self, "yaml_file_path", yaml_file)) from None


class _SectionKeyError(SourceError, KeyError):
    """``yaml_config_section`` is not in the file: a SourceError that is pydantic-settings' KeyError too."""

    __str__ = BaseException.__str__  # not KeyError's repr() of the message


class _SectionTypeError(SourceError, TypeError):
    """``yaml_config_section`` runs through a value that is not a mapping: also pydantic-settings' TypeError."""


def _section_error(kind: type[Exception], message: str, files: Any) -> SourceError:
    one = files if isinstance(files, (str, os.PathLike)) else None
    source = str(_absolute(Path(one).expanduser())) if one is not None else None
    cls = _SectionKeyError if issubclass(kind, KeyError) else _SectionTypeError
    return cls(f"cannot load {source or 'the YAML files'}", [ErrorDetail(None, message, source=source)])


class TomlSource(_FileSourceMixin, TomlConfigSettingsSource, _KeysOnce):
    """pydantic-settings' TOML source, read through livesettings.

    Args:
        merge: how several files combine, as for [YamlSource][livesettings.sources.YamlSource].

    The other arguments are pydantic-settings'. Changed in 0.5: ``merge``.
    """

    _fmt = "toml"

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        toml_file: Any = DEFAULT_PATH,
        toml_table_header: tuple[str, ...] | None = None,
        deep_merge: bool = False,
        *,
        merge: MergeStrategy | None = None,
        _merge_probe: bool = False,
        **kwargs: Any,
    ) -> None:
        self._set_merge(settings_cls, merge, _merge_probe)
        self._remake = functools.partial(
            TomlSource, settings_cls, toml_file, toml_table_header, deep_merge, merge=merge, **kwargs
        )
        super().__init__(settings_cls, toml_file, toml_table_header, deep_merge, **kwargs)


class JsonSource(_FileSourceMixin, JsonConfigSettingsSource, _KeysOnce):
    """pydantic-settings' JSON source, read through livesettings.

    Args:
        merge: how several files combine, as for [YamlSource][livesettings.sources.YamlSource].

    The other arguments are pydantic-settings'. Changed in 0.5: ``merge``.
    """

    _fmt = "json"

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        json_file: Any = DEFAULT_PATH,
        json_file_encoding: str | None = None,
        deep_merge: bool = False,
        *,
        merge: MergeStrategy | None = None,
        _merge_probe: bool = False,
        **kwargs: Any,
    ) -> None:
        self._set_merge(settings_cls, merge, _merge_probe)
        self._remake = functools.partial(
            JsonSource, settings_cls, json_file, json_file_encoding, deep_merge, merge=merge, **kwargs
        )
        super().__init__(settings_cls, json_file, json_file_encoding, deep_merge, **kwargs)


# Per settings class, weakly: a class dropped by its user (a test's local class, a cleared
# ``settings_cached()``) must stay collectable.
_FIELD_INFO: weakref.WeakKeyDictionary[type, dict[tuple[Any, ...], list[tuple[str, str, bool]]]] = (
    weakref.WeakKeyDictionary()
)


def _memo_extract_field_info(
    self: Any, field: Any, field_name: str, model_config: Mapping[str, Any] | None = None
) -> list[tuple[str, str, bool]]:
    """``_extract_field_info`` remembered per field.

    A reload builds new sources for every load, and re-deriving each field's env names from
    its annotation was a quarter of the load overhead. The result depends only on the field,
    the config and the source's prefix and case rule.
    """
    try:
        memo = _FIELD_INFO.setdefault(self.settings_cls, {})
    except TypeError:  # not weakly referenceable: no memo
        memo = {}
    key = (id(field), field_name, id(model_config), self.env_prefix, self.case_sensitive)
    hit = memo.get(key)
    if hit is None:
        if len(memo) > 4096:
            memo.clear()
        extract = PydanticBaseEnvSettingsSource._extract_field_info
        hit = extract(self, field, field_name) if model_config is None else extract(self, field, field_name, model_config)
        memo[key] = hit
    return list(hit)


def _plain_copy(value: Any) -> Any:
    """A copy of the dicts and lists in ``value`` (what env sources return: str, JSON values)."""
    if isinstance(value, dict):
        return {k: _plain_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_copy(v) for v in value]
    return value


# Not part of the key: the variables (keyed as themselves), the class (keyed as itself), what the
# last call found, and the merged state of earlier sources, which only DefaultSettingsSource reads.
_NOT_IN_KEY = frozenset(
    {"env_vars", "settings_cls", "_files", "_states", "_current_state", "_settings_sources_data", "_ls_last"}
)


def _remembered(source: Any, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``compute()`` of a stock env-style source, re-run only when what it reads changed.

    What pydantic-settings' env and dotenv sources return is a function of their variables
    (``env_vars``: the environment, or the parsed ``.env`` files) and their options, yet each call
    walks every field (for a 100-leaf config, about a sixth of a reload). The key holds the
    variables themselves (a frozenset: equal content, not just an equal hash) and the ``repr``
    of every other attribute (prefix, case rule, delimiter, init state ...); a hit returns a copy,
    so nothing later in the load can change what is remembered. Only our adopted instances of the
    stock classes come here: a user's own source class always runs.
    """
    ctx = _CURRENT.get()
    memo = ctx.memo if ctx is not None else None
    if memo is None:
        return compute()
    last = source.__dict__.get("_ls_last")
    if last is not None and last[0] is source.env_vars:  # a kept source (see keepable), same variables
        return _plain_copy(last[1])  # type: ignore[no-any-return]
    options = repr(sorted((k, repr(v)) for k, v in vars(source).items() if k not in _NOT_IN_KEY))
    key = (type(source), source.settings_cls, frozenset(source.env_vars.items()), options)
    hit = memo.get(key)
    if hit is None:
        hit = compute()
        if len(memo) >= 8:  # a few environments at most (tests, overrides); never grows
            memo.clear()
        memo[key] = _plain_copy(hit)
        source._ls_last = (source.env_vars, memo[key])
        return hit
    source._ls_last = (source.env_vars, hit)
    return _plain_copy(hit)  # type: ignore[no-any-return]


class DotEnvSource(DotEnvSettingsSource):
    """pydantic-settings' dotenv source; a line python-dotenv cannot parse rejects the file."""

    _extract_field_info = _memo_extract_field_info
    _states: dict[Path, FileState] | None = None  # what each .env file was when last read

    def _read_env_files(self) -> Mapping[str, str | None]:
        from pydantic_settings.sources.utils import parse_env_vars  # noqa: PLC0415

        env_files = self.env_file
        if env_files is None:
            return {}
        if isinstance(env_files, (str, os.PathLike)):
            env_files = [env_files]
        ctx = _context()
        merged: dict[str, str | None] = {}
        seen: list[Path] = []
        debug = _debug()
        for env_file in env_files:
            path = Path(resolve_depth(env_file, getattr(self, "env_file_depth", 0))).expanduser()
            if not path.is_file():  # pydantic-settings skips what is not a file
                if debug:
                    _ps_logger.debug("Env file not found, skipping: %s", path.resolve())
                if path.is_dir():
                    continue
            elif debug:
                _ps_logger.debug("Loading env file: %s", path.resolve())
            seen.append(_absolute(path))
            values = ctx.load(path, "dotenv", encoding=self.env_file_encoding)
            merged.update(
                parse_env_vars(values, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)
            )
        self._files = tuple(seen)
        self._states = {p: ctx.files[p] for p in seen}
        return merged

    def __call__(self) -> dict[str, Any]:
        data = _remembered(self, super().__call__)
        ctx = _CURRENT.get()
        if ctx is not None:
            ctx.records.append(
                SourceRecord(
                    "dotenv", data, getattr(self, "_files", ()), self.env_prefix, self.env_nested_delimiter, source=self
                )
            )
        return data


class EnvSource(EnvSettingsSource):
    """pydantic-settings' environment source, recorded for error attribution."""

    _extract_field_info = _memo_extract_field_info

    def __call__(self) -> dict[str, Any]:
        data = {} if self._nothing_to_read() else _remembered(self, super().__call__)
        ctx = _CURRENT.get()
        if ctx is not None:
            ctx.records.append(SourceRecord("env", data, (), self.env_prefix, self.env_nested_delimiter, source=self))
        return data

    def _nothing_to_read(self) -> bool:
        """True when no environment variable can feed this source: it has a prefix, no field has
        an alias (aliases are looked up without the prefix), and no variable starts with the
        prefix. Saves walking every field on each reload, a fixed cost that dominates small configs.
        """
        prefix = self.env_prefix
        if not prefix or any(f.alias or f.validation_alias for f in self.settings_cls.model_fields.values()):
            return False
        if not self.case_sensitive:
            prefix = prefix.lower()
        return not any(name.startswith(prefix) for name in self.env_vars)


class SecretsSource(SecretsSettingsSource):
    """pydantic-settings' ``secrets_dir`` source, reading each secret file through livesettings.

    The file is opened and checked (allowed roots or its own directory, permissions, ownership,
    size) before a byte is read, so a huge or hostile file costs nothing; a value read from a
    secrets directory is never echoed in an error, whatever its field is called.
    """

    _extract_field_info = _memo_extract_field_info

    def __call__(self) -> dict[str, Any]:
        self._files: list[Path] = []
        data = super().__call__()
        ctx = _CURRENT.get()
        if ctx is not None:
            ctx.records.append(SourceRecord("secrets", data, tuple(self._files), self.env_prefix, source=self))
        return data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """The secret for ``field`` from the last directory that has it (pydantic-settings' order)."""
        ctx = _context()
        field_key, value_is_complex = field_name, False
        for field_key, env_name, value_is_complex in self._extract_field_info(field, field_name):
            for directory in reversed(self.secrets_paths):
                try:
                    path = self.find_case_path(directory, env_name, self.case_sensitive)
                except OSError as exc:
                    raise _os_error(_absolute(directory), exc) from None
                if path is None:
                    if _debug():
                        _ps_logger.debug("Secret file not found, skipping: %s", (Path(directory) / env_name).resolve())
                    continue
                if not (ctx.reader.strict or _usable_secret(path, directory)):
                    continue
                value = ctx.load_secret(path, field_key)
                if value is not None:
                    if _debug():
                        _ps_logger.debug("Loading secret file: %s", path.resolve())
                    self._files.append(_absolute(path))
                    return value, field_key, value_is_complex
        return None, field_key, value_is_complex


def _debug() -> bool:
    """pydantic-settings' ``PYDANTIC_SETTINGS_DEBUG`` report is on (its logger, its messages)."""
    return _settings_debug_enabled() and _ps_logger.isEnabledFor(logging.DEBUG)


def within_dir(path: Path, directory: Path) -> bool:
    """Whether ``path`` resolves inside ``directory`` (a secrets entry pydantic-settings would read)."""
    try:
        return Path(directory).expanduser().resolve() in path.resolve().parents
    except (OSError, RuntimeError):
        return False


def _usable_secret(path: Path, directory: Path) -> bool:
    """pydantic-settings' rules for a secrets entry: a file that stays inside its secrets directory.

    Anything else (a directory, a symlink out of the directory, one that cannot be resolved) is
    skipped with a ``UserWarning`` naming it, as pydantic-settings does; its content is never read.
    With ``ReloadConfig(strict_sources=True)`` such an entry is refused instead (the reader's checks).
    """
    try:
        resolved = path.resolve()
        root = Path(directory).expanduser().resolve()
    except (OSError, RuntimeError) as exc:
        warnings.warn(f'attempted to load secret file "{path}" but it could not be resolved: {exc}', stacklevel=2)
        return False
    if not path.is_file():
        warnings.warn(f'attempted to load secret file "{path}" but found a {path_type_label(path)} instead.', stacklevel=2)
        return False
    if root not in resolved.parents:
        warnings.warn(
            f'attempted to load secret file "{path}" but it resolves outside of "{directory}".', stacklevel=2
        )
        return False
    return True


def _same_merge(stock: Any, build: Callable[..., Any]) -> PydanticBaseSettingsSource:
    """Ours, merging several files the way ``stock`` was asked to (``deep_merge``).

    pydantic-settings does not keep its sources' ``deep_merge`` argument, only the merged values:
    where the two ways of merging differ, the one that gives ``stock``'s values is it. The probes
    merge as pydantic-settings does (no ``Merge`` markers, no ``ReloadConfig(merge=)`` default);
    the source returned then applies those on top of the way found.
    """
    for deep in (False, True):
        probe = build(deep, _merge_probe=True)
        if probe.init_kwargs == stock.init_kwargs:
            if not field_rules(probe._merge_cls) and (deep or probe._strategy(False, probe=False) == "replace"):
                probe._merge_probe = False  # nothing would merge differently: no second read
                return probe  # type: ignore[no-any-return]
            return build(deep)  # type: ignore[no-any-return]
    return build(False)  # type: ignore[no-any-return]


def _rebuild(source: PydanticBaseSettingsSource, settings_cls: type[BaseSettings]) -> PydanticBaseSettingsSource:
    """Swap a stock pydantic-settings file/env source for ours with the same options."""
    if isinstance(source, (YamlSource, TomlSource, JsonSource, DotEnvSource, EnvSource, SecretsSource)):
        return source
    if type(source) is YamlConfigSettingsSource:
        return _same_merge(source, lambda deep, **kw: YamlSource(
            settings_cls, source.yaml_file_path, source.yaml_file_encoding, source.yaml_config_section, deep_merge=deep, **kw
        ))  # fmt: skip
    if type(source) is TomlConfigSettingsSource:
        return _same_merge(source, lambda deep, **kw: TomlSource(
            settings_cls, source.toml_file_path, source.toml_table_header, deep_merge=deep, **kw
        ))  # fmt: skip
    if type(source) is JsonConfigSettingsSource:
        return _same_merge(source, lambda deep, **kw: JsonSource(
            settings_cls, source.json_file_path, source.json_file_encoding, deep_merge=deep, **kw
        ))  # fmt: skip
    # The env-style sources only add behaviour, no state: adopt the instance pydantic-settings
    # built (keeping every option it was given) instead of building a second one.
    if type(source) is DotEnvSettingsSource:
        ctx = _CURRENT.get()
        source.__class__ = DotEnvSource
        if source.env_file is None and ctx is not None:  # see HotReloadLoader.load: _env_file=None
            source.env_file = ctx.env_file
            source.env_vars = source._load_env_vars()
        return source
    if type(source) is EnvSettingsSource:
        source.__class__ = EnvSource
        return source
    if type(source) is SecretsSettingsSource:
        source.__class__ = SecretsSource
        return source
    return source


# Our sources go by pydantic-settings' names where it shows them (``settings_sources_data``, "error
# parsing value for field ... from source EnvSettingsSource"); their qualnames stay ours.
for _ours, _theirs in (
    (YamlSource, YamlConfigSettingsSource), (TomlSource, TomlConfigSettingsSource),
    (JsonSource, JsonConfigSettingsSource), (DotEnvSource, DotEnvSettingsSource),
    (EnvSource, EnvSettingsSource), (SecretsSource, SecretsSettingsSource),
):
    _ours.__name__ = _theirs.__name__

_RECORDING: dict[type, type] = {}  # a source class -> its recording subclass (same name)
_LABELS: dict[type, str] = {InitSettingsSource: "init", SecretsSettingsSource: "secrets", CliSettingsSource: "cli"}


def _recording_call(self: Any, **kwargs: Any) -> Any:
    if kwargs:  # not a read: ``CliSettingsSource(args=...)`` parses and returns the source itself
        return super(type(self), self).__call__(**kwargs)
    ctx = _CURRENT.get()
    before = len(ctx.records) if ctx is not None else 0
    data: dict[str, Any] = super(type(self), self).__call__()
    if ctx is not None and len(ctx.records) == before:  # a source that records itself is left alone
        base = type(self).__mro__[1]
        label = _LABELS.get(base, base.__name__)
        ctx.records.append(SourceRecord(label, data, (), getattr(self, "env_prefix", ""), None, source=self))
    return data


def _recorded(source: PydanticBaseSettingsSource) -> PydanticBaseSettingsSource:
    """Make ``source`` (init values, secrets, a custom source) record what it returns, for provenance.

    Like the env sources in ``_rebuild``, the instance is adopted, not wrapped: its class becomes a
    subclass of the same name whose ``__call__`` records, so pydantic-settings' merge (and its
    per-class-name bookkeeping, and any ``isinstance`` check) sees the same source.
    """
    cls = type(source)
    if issubclass(cls, (_FileSourceMixin, DotEnvSource, EnvSource)) or "__livesettings_recording__" in cls.__dict__:
        return source
    sub = _RECORDING.get(cls)
    if sub is None:
        if len(_RECORDING) > 256:
            _RECORDING.clear()
        namespace = {
            "__slots__": (), "__call__": _recording_call, "__livesettings_recording__": True,
            "__qualname__": cls.__qualname__, "__module__": cls.__module__, "__doc__": cls.__doc__,
        }
        meta: Any = type(cls)
        try:
            sub = meta(cls.__name__, (cls,), namespace)
        except TypeError:  # not subclassable (a plain function as a source): left unrecorded
            return source
        _RECORDING[cls] = sub
    try:
        source.__class__ = sub
    except TypeError:  # an exotic layout: leave it unrecorded (provenance names it "default")
        pass
    return source


def recorded_cli(sources: tuple[PydanticBaseSettingsSource, ...]) -> tuple[PydanticBaseSettingsSource, ...]:
    """``sources`` with each command-line source recording what it returns (see ``_recorded``)."""
    return tuple(_recorded(s) if isinstance(s, CliSettingsSource) else s for s in sources)


def live_sources(
    settings_cls: type[BaseSettings],
    sources: tuple[PydanticBaseSettingsSource, ...],
) -> tuple[PydanticBaseSettingsSource, ...]:
    """Our versions of ``sources``, plus the file sources ``model_config`` names but the default omits.

    pydantic-settings only reads ``yaml_file``/``toml_file``/``json_file`` when a user adds the
    matching source in ``settings_customise_sources``; livesettings reads them whenever they are
    configured, after the env/dotenv/secrets sources (so the order is
    init > env > .env > secrets > json > toml > yaml > defaults).
    """
    out = [_recorded(_rebuild(s, settings_cls)) for s in sources]
    ctx = _CURRENT.get()
    if ctx is not None:
        ctx.reader.secret_limits = _secret_limits(out)
    # A dotenv source with no file can contribute nothing but still walks every field: drop it.
    out = [s for s in out if not (isinstance(s, DotEnvSource) and not s.env_file)]
    have = {type(s) for s in out}
    cfg = settings_cls.model_config
    if cfg.get("json_file") and JsonSource not in have:
        out.append(JsonSource(settings_cls))
    if cfg.get("toml_file") and TomlSource not in have:
        out.append(TomlSource(settings_cls))
    if cfg.get("yaml_file") and YamlSource not in have:
        out.append(YamlSource(settings_cls))
    if ctx is not None and not keepable(tuple(out)):
        ctx.packable = frozenset()  # a source of the user's may read what others returned: nothing packed
    return tuple(out)


# Sources kept as they are between loads (see keepable); a source class of ours that reads
# everything when called says so with ``__livesettings_kept__ = True`` in its own body (EtcdSource).
_KEPT: frozenset[type] = frozenset(
    {InitSettingsSource, DefaultSettingsSource, EnvSource, DotEnvSource, SecretsSource, CliSettingsSource}
)
_FILE_KINDS: frozenset[type] = frozenset({YamlSource, TomlSource, JsonSource})


def _plain_type(source: object) -> type:
    """The class of ``source``, seen through the recording subclass ``_recorded`` gave it."""
    cls = type(source)
    return cls.__mro__[1] if "__livesettings_recording__" in cls.__dict__ else cls


def keepable(sources: tuple[PydanticBaseSettingsSource, ...]) -> bool:
    """Whether a reload may keep ``sources`` (built by an earlier load) and bring them up to date
    with ``refreshed`` instead of building them all again.

    Building pydantic-settings' sources re-derives every field's names and decodes the whole
    environment on each load: most of a small reload's fixed cost. Ours are kept (see
    ``refreshed``), and so are init values, defaults and a parsed command line. Any other source
    (a user's own class, a subclass of ours, a function) runs the way pydantic-settings runs it,
    built anew on every load: then nothing is kept (the same sources ``opaque`` finds).
    """
    return not opaque(sources)


def opaque(sources: tuple[PydanticBaseSettingsSource, ...] | None) -> bool:
    """Whether ``sources`` hold one the combined digest cannot speak for: a user's own source class
    (or a subclass of ours, or a function), a Traversable file, read as pydantic-settings reads
    them. Nothing tells what such a source holds now but running it, so a reload of a settings
    object that has one always loads (``None``: no sources were recorded; assume one).
    """
    if sources is None:
        return True
    for source in sources:
        kind = _plain_type(source)
        if kind in _FILE_KINDS:
            if source._states is None:  # type: ignore[attr-defined]  # a Traversable: read as pydantic-settings does
                return True
        elif kind not in _KEPT and not kind.__dict__.get("__livesettings_kept__"):
            return True
    return False


def refreshed(
    sources: tuple[PydanticBaseSettingsSource, ...], ctx: LoadContext
) -> tuple[PydanticBaseSettingsSource, ...]:
    """``keepable`` sources an earlier load built, made current for the load ``ctx``.

    Our file sources are built again only when one of their files changed; else the states of
    their files (checked against this load's fetch, so the trust checks ran) join this load as if
    read. Our dotenv source reads its files again when one of them changed. Everything else reads
    when called (environment variables are decoded when built: the loader builds every source
    again when the environment changes).
    """
    out: list[PydanticBaseSettingsSource] = []
    for source in sources:
        kind = _plain_type(source)
        if kind in _FILE_KINDS or kind is DotEnvSource:
            states = source._states  # type: ignore[attr-defined]
            if states is not None and all(ctx.served(path)[1] == st.digest for path, st in states.items()):
                ctx.files.update(states)
            elif kind is DotEnvSource:
                source.env_vars = source._load_env_vars()  # type: ignore[attr-defined]  # see _rebuild
            else:
                source = source._remake(_merge_probe=source._merge_probe)  # type: ignore[attr-defined]
        out.append(source)
    return tuple(out)


def _secret_limits(sources: list[PydanticBaseSettingsSource]) -> dict[str, int]:
    """How big a file in each secrets directory of ``sources`` may be, as pydantic-settings reads it.

    Its ``secrets_dir`` source reads a file of any size and its nested one up to
    ``secrets_dir_max_size`` (16 MiB by default) for the whole directory: a secret file may be that
    big, not just ``ReloadConfig.max_file_bytes`` (which ``strict_sources`` keeps for them too).
    """
    from pydantic_settings.sources.providers.nested_secrets import SECRETS_DIR_MAX_SIZE  # noqa: PLC0415

    limits: dict[str, int] = {}
    for source in sources:
        dirs = getattr(source, "secrets_dir", None)
        if not dirs:
            continue
        allowed = int(getattr(source, "secrets_dir_max_size", None) or SECRETS_DIR_MAX_SIZE)
        for directory in [dirs] if isinstance(dirs, (str, os.PathLike)) else dirs:
            path = os.path.expanduser(directory)
            for form in {os.path.abspath(path), os.path.realpath(path)}:
                limits[form] = max(limits.get(form, 0), allowed)
    return limits


class _Activate:
    """``with _Activate(ctx):`` makes ``ctx`` the current load for the sources."""

    def __init__(self, ctx: LoadContext) -> None:
        self.ctx = ctx
        self.token: contextvars.Token[LoadContext | None] | None = None

    def __enter__(self) -> LoadContext:
        self.token = _CURRENT.set(self.ctx)
        return self.ctx

    def __exit__(self, *exc: object) -> None:
        assert self.token is not None
        _CURRENT.reset(self.token)


def activate(ctx: LoadContext) -> _Activate:
    return _Activate(ctx)
