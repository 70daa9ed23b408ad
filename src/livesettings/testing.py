"""Helpers for testing code that uses livesettings: drive changes and capture what handlers see.

``override`` applies values as a new version (and, used with ``with``, restores the version
before it on exit); ``capture_changes`` collects the diffs handlers get; ``write_atomic`` and
``write_and_wait`` change a file the way an editor or a deploy does and wait for the version it
makes, without sleeping. The pytest plugin ([livesettings.pytest_plugin][livesettings.pytest_plugin])
wraps these in fixtures, with [LiveFiles][livesettings.testing.LiveFiles] and
[SettingsFactory][livesettings.testing.SettingsFactory].

Example:
    ```python
    from livesettings.testing import capture_changes, override

    def test_pool_resizes(settings):
        with capture_changes(settings) as diffs, override(settings, {"database.pool_size": 20}):
            assert settings.database.pool_size == 20
        assert diffs[0].changes[0].new_value == 20
    ```

Added in 0.1. Changed in 0.3: ``override`` returns an [Override][livesettings.testing.Override]
(a context manager); ``write_atomic``, ``write_and_wait``, ``LiveFiles``, ``SettingsFactory``.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ._model import Diff, Version
from ._settings import ReloadableSettings

__all__ = [
    "LiveFiles", "Override", "SettingsFactory", "capture_changes", "override", "write_and_wait", "write_atomic",
]

S = TypeVar("S", bound=ReloadableSettings)

_FILE_KEYS = ("yaml_file", "toml_file", "json_file", "env_file", "secrets_dir")


class Override:
    """What [override][livesettings.testing.override] returns: the version it made, and a way back.

    The override is applied when ``override()`` is called. Used as a context manager, the version
    that was current before it is restored on exit (as a ``"rollback"`` version, validated and
    delivered to the handlers like any other), whatever was committed in the block; until then
    that version stays findable even if it leaves the history. Nothing is restored if the
    override changed nothing.

    Attributes:
        version: the new [Version][livesettings.Version], or ``None`` if nothing changed.
        previous: the version that was current before.

    Example:
        ```python
        with override(settings, {"feature.enabled": True}) as o:
            assert o.version is not None and settings.feature.enabled
        assert not settings.feature.enabled
        ```

    Added in 0.3.
    """

    __slots__ = ("__weakref__", "_engine", "_unpin", "previous", "version")

    def __init__(self, settings: ReloadableSettings, values: Mapping[str, Any]) -> None:
        engine = self._engine = settings._ls_engine
        current = engine.store.current
        assert current is not None
        # findable by id (rollback) until restored, or until this object is dropped
        self.previous: Version = engine.history.pin(current)
        self._unpin = weakref.finalize(self, engine.history.unpin, self.previous)
        try:
            self.version: Version | None = engine.apply_values(values)
        except BaseException:
            self._unpin()
            raise
        if self.version is None:
            self._unpin()

    def restore(self) -> Version | None:
        """Serve the version that was current before the override again (at most once).

        Returns:
            The ``"rollback"`` version, or ``None`` if nothing needed restoring (the override
            changed nothing, the content is already the same, the object is closed, or it was
            restored before).

        Raises:
            ReloadError: the restore was refused (a preparer vetoed it); the current config stays.
        """
        if not self._unpin.alive:
            return None
        try:
            engine = self._engine
            current = engine.store.current
            if engine.closed or (current is not None and current.snapshot == self.previous.snapshot):
                return None
            return engine.rollback(self.previous.id, reason="override ended")
        finally:
            self._unpin()

    def __enter__(self) -> Override:
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def __repr__(self) -> str:
        number = self.version.number if self.version is not None else None
        return f"<Override version={number} previous={self.previous.number}>"


def override(settings: ReloadableSettings, values: Mapping[str, Any]) -> Override:
    """Apply ``{dotted path: value}`` on top of the current snapshot as a new version.

    The candidate is validated like any other (types, validators, ``Frozen``/``Restart`` rules),
    handlers are called, and the version's ``source`` is ``"override"``. The files are not
    touched, so the next change of a file replaces the override as usual. Use it in a ``with``
    block to get the previous version back at the end (see [Override][livesettings.testing.Override]).

    Returns:
        An [Override][livesettings.testing.Override]: ``.version`` is the new version, or ``None``
        if nothing changed.

    Raises:
        ReloadError: the overridden config is invalid.

    Changed in 0.3: returns an ``Override`` (before: the version or ``None``, now its ``.version``).
    """
    return Override(settings, values)


@contextmanager
def capture_changes(settings: ReloadableSettings, path: str = "") -> Iterator[list[Diff]]:
    """Collect the [Diff][livesettings.Diff] of every version applied inside the ``with`` block."""
    diffs: list[Diff] = []
    handle = settings.watch(path, diffs.append)
    try:
        yield diffs
    finally:
        handle.cancel()


def write_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Replace the file at ``path`` with ``text`` in one step, as editors and deploy tools do.

    The text goes to a temporary file in the same directory (a name the watcher ignores), which
    is then renamed over ``path``: a reader sees the old content or the new one, never half a
    file. Missing parent directories are created; an existing file keeps its permissions.

    Returns:
        ``path`` as a ``Path``.

    Added in 0.3.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_and_wait(
    settings: ReloadableSettings, path: str | os.PathLike[str], text: str, *, timeout: float = 10.0
) -> Version:
    """Write ``path`` atomically and return the version the write makes.

    With hot reload on, it waits (on an event, not a sleep) until the watcher has reloaded and
    a newer version was delivered; with it off, it reloads at once. Either way the synchronous
    handlers registered before the call have run for that version when it returns (handlers with
    a timeout and ``async def`` handlers run on their own threads and loops).

    Args:
        settings: the settings object that reads ``path``.
        path: the file to write.
        text: its new content.
        timeout: seconds to wait for the version at most.

    Returns:
        The new [Version][livesettings.Version] (or a later one, if more arrived meanwhile).

    Raises:
        ReloadError: the new content was rejected; the current config keeps serving.
        TimeoutError: no new version within ``timeout`` (the write changed nothing the
            settings serve, or the watcher did not see it), or, with hot reload off, the write
            changed nothing.

    Added in 0.3.
    """
    if not settings.hot_reload.is_enabled():
        write_atomic(path, text)
        version = settings.reload()
        if version is None:
            raise TimeoutError(f"writing {path} made no new version (nothing that {type(settings).__name__} serves changed)")
        return version
    arrived = threading.Event()
    seen: list[Version | BaseException] = []
    before = settings.version.number

    def on_version(diff: Diff) -> None:
        if diff.version is not None and diff.version.number > before:
            seen.append(diff.version)
            arrived.set()

    def on_error(error: BaseException) -> None:
        seen.append(error)
        arrived.set()

    handle = settings.watch("", on_version)
    remove = settings.hot_reload.on_error(on_error)
    try:
        write_atomic(path, text)
        if not arrived.wait(timeout):
            last = settings.last_error
            why = f"; the last reload was rejected: {last}" if last is not None else ""
            raise TimeoutError(f"no new version of {type(settings).__name__} within {timeout} s after writing {path}{why}")
    finally:
        remove()
        handle.cancel()
    result = seen[0]
    if isinstance(result, BaseException):
        raise result
    return result


class LiveFiles:
    """A directory of config files for one test (the ``livesettings_files`` fixture).

    Args:
        path: the directory (created if missing).

    Example:
        ```python
        files = LiveFiles(tmp_path)
        files.write("config.yaml", "level: INFO\\n")
        version = files.write_and_wait(settings, "config.yaml", "level: DEBUG\\n")
        ```

    Added in 0.3.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def __truediv__(self, name: str | os.PathLike[str]) -> Path:
        return self.path / name

    def write(self, name: str | os.PathLike[str], text: str) -> Path:
        """Write ``name`` (relative to the directory) atomically; see [write_atomic][livesettings.testing.write_atomic]."""
        return write_atomic(self.path / name, text)

    def write_and_wait(
        self, settings: ReloadableSettings, name: str | os.PathLike[str], text: str, *, timeout: float = 10.0
    ) -> Version:
        """Write ``name`` atomically and return the version it makes; see [write_and_wait][livesettings.testing.write_and_wait]."""
        return write_and_wait(settings, self.path / name, text, timeout=timeout)

    def __repr__(self) -> str:
        return f"LiveFiles({str(self.path)!r})"


class SettingsFactory:
    """Builds settings objects whose files live in one directory, and closes them all (the
    ``live_settings_factory`` fixture).

    A settings class names its files in ``model_config`` (``yaml_file``, ``toml_file``,
    ``json_file``, ``env_file``, ``secrets_dir``) and maybe ``ReloadConfig.history_file``. The
    factory makes a subclass that reads them from the directory instead (a relative path keeps
    its place under it, ``config/app.yaml`` -> ``<dir>/config/app.yaml``; an absolute one keeps
    its name), with hot reload on or off as asked. Everything else, fields, validators,
    ``@on_change`` handlers and sources, is the class's own, and the object is an instance of it.
    Sources built by hand in ``settings_customise_sources`` are not redirected: give them paths
    under [directory][livesettings.testing.SettingsFactory.directory].

    Args:
        directory: where the files are (a [LiveFiles][livesettings.testing.LiveFiles] or a path).

    Added in 0.3.
    """

    def __init__(self, directory: LiveFiles | str | os.PathLike[str]) -> None:
        self.files = directory if isinstance(directory, LiveFiles) else LiveFiles(directory)
        self._made: list[ReloadableSettings] = []

    @property
    def directory(self) -> Path:
        """The directory the files are read from."""
        return self.files.path

    def __call__(
        self, cls: type[S], files: Mapping[str, str] | None = None, *, watch: bool = False, debounce_ms: int = 10,
        **values: Any,
    ) -> S:
        """Write ``files`` (name relative to the directory -> text), then build ``cls`` on them.

        Args:
            cls: a [ReloadableSettings][livesettings.ReloadableSettings] subclass.
            files: files to write first.
            watch: follow the files (hot reload on) instead of reloading only when asked.
            debounce_ms: the watcher's quiet window (short, so tests are quick).
            **values: init values, as for the class itself.

        Raises:
            ReloadError: the files are invalid.
        """
        for name, text in (files or {}).items():
            self.files.write(name, text)
        obj = self.redirect(cls, watch=watch, debounce_ms=debounce_ms)(**values)
        self._made.append(obj)
        return obj

    def redirect(self, cls: type[S], *, watch: bool = False, debounce_ms: int = 10) -> type[S]:
        """The subclass of ``cls`` that reads its files from the directory (see the class docs)."""
        config = cls.__snapshot__.model_config
        moved: dict[str, Any] = {}
        for key in _FILE_KEYS:
            value = config.get(key)
            if value is not None:
                moved[key] = self._move(value)
        reload_config = cls.reload_config
        changes: dict[str, Any] = {"enabled": watch, "debounce_ms": debounce_ms}
        if reload_config.allowed_roots is not None:
            changes["allowed_roots"] = (self.directory,)
        if reload_config.history_file is not None:
            changes["history_file"] = self._move(reload_config.history_file)
        namespace = {
            "__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__,
            "model_config": moved, "reload_config": dataclasses.replace(reload_config, **changes),
        }
        meta: Any = type(cls)
        subclass: type[S] = meta(cls.__name__, (cls,), namespace)
        return subclass

    def _move(self, value: Any) -> Any:
        if isinstance(value, (str, os.PathLike)):
            path = Path(value)
            return self.directory / (path.name if path.is_absolute() else path)
        if isinstance(value, Sequence):
            return [self._move(v) for v in value]
        return value

    def close(self) -> None:
        """Close every object this factory built (idempotent)."""
        made, self._made = self._made, []
        for obj in reversed(made):
            obj.close()

    def __repr__(self) -> str:
        return f"<SettingsFactory {str(self.directory)!r} made={len(self._made)}>"
