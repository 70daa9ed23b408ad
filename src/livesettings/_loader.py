"""Loading one candidate: the sources through pydantic-settings, with the GC paused, and the
digest of every input that decides whether anything needs loading at all.
"""

from __future__ import annotations

import gc
import hashlib
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

from ._freeze import freeze
from ._sources import Fetched, FileReader, FileState, LoadContext, activate
from ._validate import render_validation_error
from .exceptions import ErrorDetail, ReloadError, SourceError

__all__ = ["HotReloadLoader", "digest_inputs", "environ_digest"]


class _GcPaused:
    """Pause the cyclic GC around parse + validate: on large configs it dominates the time.

    Reference-counted so overlapping pauses from several engines nest correctly.
    """

    _lock = threading.Lock()
    _depth = 0
    _was_enabled = False

    def __enter__(self) -> None:
        with _GcPaused._lock:
            if _GcPaused._depth == 0:
                _GcPaused._was_enabled = gc.isenabled()
                gc.disable()
            _GcPaused._depth += 1

    def __exit__(self, *exc: object) -> None:
        with _GcPaused._lock:
            _GcPaused._depth -= 1
            if _GcPaused._depth == 0 and _GcPaused._was_enabled:
                gc.enable()


class HotReloadLoader:
    """Builds a validated candidate snapshot from the sources (the brief's "Config Loader")."""

    def __init__(self, snapshot_cls: type[BaseSettings], init_kwargs: Mapping[str, Any], reader: FileReader, name: str):
        self.snapshot_cls = snapshot_cls
        self.init_kwargs = dict(init_kwargs)
        self.reader = reader
        self.name = name

    def load(self, *, reloading: bool, prefetched: Mapping[Path, Fetched] | None = None) -> tuple[Any, LoadContext]:
        """Read every source and validate; raises [ReloadError][livesettings.ReloadError]."""
        ctx = LoadContext(self.reader, reloading=reloading)
        if prefetched:
            ctx.prefetched = dict(prefetched)
        kwargs = dict(self.init_kwargs)
        # pydantic's own dotenv source would read .env before ours could check it: hand it None
        # and let our DotEnvSource read the real setting from the context.
        ctx.env_file = kwargs.pop("_env_file", self.snapshot_cls.model_config.get("env_file"))
        kwargs["_env_file"] = None
        with activate(ctx), _GcPaused():
            try:
                snapshot = self.snapshot_cls(**kwargs)
            except ValidationError as exc:
                raise render_validation_error(exc, self.snapshot_cls, ctx, what=self.name) from None
            except ReloadError:
                raise
            except SettingsError as exc:
                cause = exc.__cause__
                if isinstance(cause, ReloadError):
                    raise cause from None
                raise ReloadError(f"cannot load {self.name}", [ErrorDetail(None, str(exc))]) from None
            except RecursionError:
                raise ReloadError(f"cannot load {self.name}", [ErrorDetail(None, "config is nested too deeply")]) from None
        freeze(snapshot)
        self._add_secret_files(ctx)
        return snapshot, ctx

    def secret_dirs(self) -> tuple[Path, ...]:
        raw = self.init_kwargs.get("_secrets_dir") or self.snapshot_cls.model_config.get("secrets_dir")
        if not raw:
            return ()
        items = [raw] if isinstance(raw, (str, os.PathLike)) else list(raw)
        return tuple(Path(os.path.abspath(Path(p).expanduser())) for p in items)

    def secret_files(self) -> list[Path]:
        """The files pydantic-settings reads from the secrets directories (hidden ones are skipped).

        Raises:
            SourceError: a secrets directory cannot be listed (permission denied, symlink loop ...).
        """
        found: list[Path] = []
        for directory in self.secret_dirs():
            try:
                if directory.is_dir():
                    found.extend(
                        e for e in sorted(directory.iterdir()) if not e.name.startswith(".") and e.is_file()
                    )
            except OSError as exc:
                raise SourceError.at(str(directory), f"cannot be listed: {exc.strerror or exc}") from None
        return found

    def _add_secret_files(self, ctx: LoadContext) -> None:
        """Every file in the secrets directories is an input (a new one may match a field next time);
        the ones the secrets source read are in ``ctx.files`` already."""
        present = set()
        for entry in self.secret_files():
            if entry not in ctx.files:
                ctx.files[entry] = FileState(entry, "secret", ctx.fetch(entry)[1])
            present.add(entry)
        for path, state in self.reader.last_good.items():
            if state.fmt == "secret" and path not in present:
                self.reader.check_missing(path, reloading=ctx.reloading)


def environ_digest() -> int:
    """Identifies the process environment within this process (env vars are a source too)."""
    return hash(frozenset(os.environ.items()))


def digest_inputs(files: Mapping[Path, str | None], environ: int) -> str:
    """One digest of every input: each file's content digest (or absence) and the environment."""
    h = hashlib.blake2b(digest_size=16)
    for path in sorted(files):
        h.update(str(path).encode("utf-8", "surrogateescape") + b"\0" + (files[path] or "-").encode())
    h.update(str(environ).encode())
    return h.hexdigest()
