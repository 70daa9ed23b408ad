"""``ReloadConfig`` (how a settings object reloads) and the environment/production rules.

Environment variables that tune the library start with ``LIVESETTINGS_`` and are each read in a
small ``_default_<option>()`` helper here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .exceptions import ProductionReloadError

__all__ = ["ReloadConfig", "current_environment", "is_production"]

_PRODUCTION = frozenset({"production", "prod"})


def current_environment() -> str:
    """``LIVESETTINGS_ENV``, else ``APP_ENV``, else ``ENVIRONMENT``, else ``"development"`` (lower-cased)."""
    for name in ("LIVESETTINGS_ENV", "APP_ENV", "ENVIRONMENT"):
        value = os.environ.get(name, "").strip()
        if value:
            return value.lower()
    return "development"


def is_production(environment: str | None = None) -> bool:
    """Whether ``environment`` (default: the current one) is ``production`` or ``prod``."""
    return (environment or current_environment()).lower() in _PRODUCTION


@dataclass(frozen=True)
class ReloadConfig:
    """How a settings object reloads. Set it as the ``reload_config`` class attribute.

    Args:
        enabled: watch sources and reload on change. ``None`` (default) means on, except in
            production where it is off. ``True`` in production raises
            [ProductionReloadError][livesettings.exceptions.ProductionReloadError] unless
            ``allow_in_production`` is also set.
        allow_in_production: the explicit opt-in for hot reload in production (ConfigMap
            updates, secret rotation). It runs guarded: only fields marked ``Live`` change live,
            every other change waits in ``pending_restart``. (Trust checks and the audit log
            apply in every environment.)
        debounce_ms: quiet window after the last file event before reloading; ``0`` reloads as
            soon as the OS reports a complete write.
        max_wait_ms: a steady stream of events still reloads at least this often.
        max_versions: how many versions the history keeps.
        poll_interval_ms: poll instead of using OS events (NFS, Docker Desktop, WSL mounts).
            ``None`` uses OS events unless ``LIVESETTINGS_POLL=<ms>`` is set when watching starts.
        safety_interval_s: a long-interval re-check that catches events the OS dropped.
        ignore: extra file-name patterns to ignore on top of the editor artefacts list.
        priority: file names or paths whose changes skip the debounce window.
        allow_empty: accept an empty config file during a reload (by default an empty or
            comment-only file is treated as a half-written one and rejected).
        max_file_bytes: larger files are refused.
        max_depth: deeper nesting is refused.
        max_aliases: YAML documents with more alias references are refused.
        allowed_roots: files must resolve (after symlinks) under one of these directories;
            ``None`` means the directories the configured files are in.
        failure_threshold: after this many rejected reloads in a row the circuit breaker opens.
        breaker_cooldown_s: how long an open breaker waits before trying new content again.
        dotenv_interpolate: expand ``${VAR}`` in ``.env`` files (python-dotenv's default).
        unknown_keys: what to do with a key in a YAML/TOML/JSON file that no field accepts (a
            typo under a nested model would otherwise reset the value to its default silently):
            ``"warn"`` logs each at WARNING and lists it on the ``Version`` and in ``check()``,
            ``"error"`` rejects the candidate, ``"ignore"`` says nothing. Models that set
            ``extra`` explicitly keep their own rule.
        close_timeout_s: how long ``close()`` waits for a change handler that is already running
            on another thread; past it, a WARNING names the handler and ``close()`` returns (no
            handler call starts after ``close()`` returned either way).
        history_file: append one JSON line per new version to this file (id, time, source, the
            changes with secrets masked, the digest of the inputs; never a secret value), for
            ``livesettings history`` and for audits after a restart. A relative path is taken from
            the working directory at start-up. ``None`` (default) writes nothing.
        history_max_bytes: when the history file would grow past this size it is rotated
            (``history.jsonl`` -> ``history.jsonl.1`` ..., three old files kept).
        handler_timeout_s: the timeout of every change handler registered without one of its own
            (``@on_change(..., timeout=)``, ``watch(..., timeout=)``). A handler with a timeout
            runs on a worker thread of its own; one that takes longer is abandoned as a dead
            letter and the others go on. ``None`` (default): no timeout, handlers run on the
            delivering thread.
        open_write_s: the longest a file that is open for writing (modified, not closed yet)
            holds a reload back; past it the file must settle (``settle_ms``) and a WARNING names
            it. A writer that keeps a config file open for long should not be the norm.
        settle_ms: how long a change must stay put (same size, mtime and content) when no close
            can be seen: every change in polling mode, and a write held past ``open_write_s``.
        strict_sources: refuse, with an [UntrustedSourceError][livesettings.exceptions.UntrustedSourceError],
            the entries of a secrets directory that pydantic-settings skips with a warning (a
            directory, a symlink that leaves the secrets directory, one that cannot be resolved),
            at start-up and on every reload, and a secret file over ``max_file_bytes``. By default
            they are skipped and warned about, as pydantic-settings does, and their content is
            never read; a secret file may be as big as ``secrets_dir_max_size`` (16 MiB by default).
        merge: how the several files of one YAML, TOML or JSON source combine when the source
            does not say (``YamlSource(..., merge=)`` or pydantic-settings' ``deep_merge=True``
            do): ``"deep"``, ``"replace"`` or ``"append"`` (see [Merge][livesettings.Merge]).
            ``None`` (default) is pydantic-settings' rule: a later file replaces an earlier one
            top-level key by top-level key.

    Added in 0.1. Changed in 0.2: ``unknown_keys``, ``close_timeout_s``, ``history_file``,
    ``history_max_bytes``. Changed in 0.3: ``handler_timeout_s``, ``open_write_s``, ``settle_ms``.
    Changed in 0.4: ``strict_sources``. Changed in 0.5: ``merge``.
    """

    enabled: bool | None = None
    allow_in_production: bool = False
    debounce_ms: int = 100
    max_wait_ms: int = 1000
    max_versions: int = 10
    poll_interval_ms: int | None = None
    safety_interval_s: float = 60.0
    ignore: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    allow_empty: bool = False
    max_file_bytes: int = 1_048_576
    max_depth: int = 64
    max_aliases: int = 100
    allowed_roots: tuple[Path, ...] | None = None
    failure_threshold: int = 5
    breaker_cooldown_s: float = 5.0
    dotenv_interpolate: bool = True
    unknown_keys: Literal["warn", "error", "ignore"] = "warn"
    close_timeout_s: float = 5.0
    history_file: str | os.PathLike[str] | None = None
    history_max_bytes: int = 1_048_576
    handler_timeout_s: float | None = None
    open_write_s: float = 30.0
    settle_ms: int = 1000
    strict_sources: bool = False
    merge: Literal["deep", "replace", "append"] | None = None

    def __post_init__(self) -> None:
        if self.debounce_ms < 0 or self.max_wait_ms < 0:
            raise ValueError("debounce_ms and max_wait_ms must be >= 0")
        if self.max_versions < 1:
            raise ValueError("max_versions must be at least 1")
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if self.unknown_keys not in ("warn", "error", "ignore"):
            raise ValueError(f"unknown_keys must be 'warn', 'error' or 'ignore', not {self.unknown_keys!r}")
        if self.close_timeout_s < 0:
            raise ValueError("close_timeout_s must be >= 0")
        if self.history_max_bytes < 1024:
            raise ValueError("history_max_bytes must be at least 1024")
        if self.handler_timeout_s is not None and not self.handler_timeout_s > 0:
            raise ValueError("handler_timeout_s must be > 0 seconds, or None")
        if self.open_write_s < 0 or self.settle_ms < 0:
            raise ValueError("open_write_s and settle_ms must be >= 0")
        if self.merge is not None and self.merge not in ("deep", "replace", "append"):
            raise ValueError(f"merge must be 'deep', 'replace', 'append' or None, not {self.merge!r}")

    def watching(self, environment: str | None = None) -> bool:
        """Whether file watching should run in ``environment``; raises on an unsafe request.

        Raises:
            ProductionReloadError: ``enabled=True`` in production without ``allow_in_production``.
        """
        prod = is_production(environment)
        if self.enabled is None:
            return not prod or self.allow_in_production
        if self.enabled and prod and not self.allow_in_production:
            raise ProductionReloadError(
                "hot reload was requested in production; opt in explicitly with allow_in_production=True "
                "(ReloadConfig(enabled=True, allow_in_production=True), or the provider's "
                "allow_in_production=True argument)"
            )
        return self.enabled
