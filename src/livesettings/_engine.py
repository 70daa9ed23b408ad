"""The reload engine: load → validate → diff → change rules → swap → record → notify → audit.

One engine per settings object (the typed ``ReloadableSettings`` and the untyped providers share
it). Reloads are serialised by one lock; the swap is a single reference assignment; handlers run
after the lock is released, in commit order.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings

from . import _forksafe, _parsers
from ._diff import diff_snapshots
from ._model import Change, ChangeType, Version, new_version_id
from ._paths import MISSING, find, set_path, under
from ._config import ReloadConfig, is_production
from ._fields import Policy, collect_policies, policy_for
from ._history import ConfigVersionManager
from ._notify import ConfigChangeNotifier, DeadLetter
from ._loader import HotReloadLoader, digest_inputs, environ_digest
from ._sources import Fetched, FileReader, FileState
from ._state import State
from .watch import FileFeed, WatchOptions
from ._validate import ConfigChangeValidator, ValidationResult
from .exceptions import ClosedError, ErrorDetail, FrozenFieldError, ReloadError

__all__ = ["AtomicConfigStore", "Engine", "ReloadMetrics"]

log = logging.getLogger("livesettings")
audit = logging.getLogger("livesettings.audit")

_MAX_REMEMBERED_REJECTIONS = 32


class AtomicConfigStore:
    """The current version, swapped by one reference assignment (the brief's "Thread-Safe Store").

    Readers take ``store.current`` without a lock and get an immutable snapshot; only the engine
    writes, under its commit lock. ``publish`` is called inside the swap to move the façade's
    attribute dict along with it.
    """

    __slots__ = ("_publish", "current")

    def __init__(self, publish: Callable[[Version], None] | None = None) -> None:
        self.current: Version | None = None
        self._publish = publish

    @property
    def snapshot(self) -> Any:
        """The current validated snapshot (``None`` before the first load)."""
        current = self.current
        return current.snapshot if current is not None else None

    def swap(self, version: Version) -> None:
        """Make ``version`` current."""
        self.current = version
        if self._publish is not None:
            self._publish(version)


@dataclass
class ReloadMetrics:
    """Counters for dashboards and health checks (read them; the engine writes them)."""

    attempted: int = 0
    applied: int = 0
    rejected: int = 0
    unchanged: int = 0
    skipped_by_breaker: int = 0
    consecutive_failures: int = 0
    breaker_state: str = "closed"
    last_reload_ms: float = 0.0
    last_good_version: str | None = None


def _anchor(path: str, old: Any, new: Any) -> str:
    """Where to keep the running value for a held change under ``path``.

    Normally ``path`` itself; but when a section above it appears or disappears (absent or
    ``None`` on one side), the whole section is held, so the snapshot never mixes a new section
    with old values of its held fields.
    """
    parts = path.split(".")
    for i in range(1, len(parts)):
        prefix = ".".join(parts[:i])
        for tree in (old, new):
            value = find(tree, prefix)
            if value is MISSING or value is None:
                return prefix
    return path


def _warn_unwatchable(name: str, targets: Iterable[Path]) -> None:
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
                log.warning(
                    "%s: %s is a mount point of its own (a Kubernetes subPath mount?); "
                    "it will not receive updates, mount the whole directory instead", name, path,
                )
        except OSError:
            continue


class Engine:
    """Owns one settings object's store, history, notifier, reader and watcher."""

    def __init__(
        self,
        snapshot_cls: type[BaseSettings],
        init_kwargs: Mapping[str, Any],
        config: ReloadConfig,
        *,
        name: str,
        publish: Callable[[Version], None] | None = None,
        environment: str | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.production = is_production(environment)
        # Production with the explicit opt-in runs guarded: only ``Live`` fields change live.
        self.guarded = self.production and config.allow_in_production
        self.watching = config.watching(environment)
        self.policies = collect_policies(snapshot_cls)
        limits = _parsers.ParseLimits(
            max_bytes=config.max_file_bytes, max_depth=config.max_depth, max_aliases=config.max_aliases
        )
        self.reader = FileReader(
            limits=limits,
            allowed_roots=config.allowed_roots,
            allow_empty=config.allow_empty,
            dotenv_interpolate=config.dotenv_interpolate,
        )
        self.loader = HotReloadLoader(snapshot_cls, init_kwargs, self.reader, name)
        self.history = ConfigVersionManager(config.max_versions)
        self.store = AtomicConfigStore(publish)
        self.notifier = ConfigChangeNotifier()
        self.validator = ConfigChangeValidator(
            lambda: self.loader.load(reloading=True)[0], lambda: self.store.snapshot, self._check_frozen
        )
        self.metrics = ReloadMetrics()
        self.pending_restart: dict[str, Change] = {}
        self.last_error: ReloadError | None = None
        self.state = State.NEW
        self._lock = threading.Lock()
        self._applied_inputs: str | None = None
        self._rejected: OrderedDict[str, ReloadError] = OrderedDict()
        self._breaker_open_until = 0.0
        self._watcher: FileFeed | None = None
        self._retry: threading.Timer | None = None
        self._number = 0
        # Log records made while holding the lock are emitted after it is released: logging
        # handlers are user code, and user code never runs under the engine's lock.
        self._deferred: list[tuple[logging.Logger, int, str, tuple[Any, ...]]] = []
        _forksafe.register(self)  # fresh locks in a forked child (see _fork_reset)

    def _fork_reset(self) -> None:
        """In a forked child: fresh locks; the parent's threads (a reload, a retry timer) are gone.

        The file watcher restarts itself and rescans, which re-runs any reload that was in flight.
        """
        self._lock = threading.Lock()
        self._deferred = []
        self._retry = None
        self.reader._lock = threading.Lock()  # FileReader's parse-cache lock

    def _defer(self, logger: logging.Logger, level: int, msg: str, *args: Any) -> None:
        """Queue a log record (call with the lock held); ``_flush_logs`` emits it."""
        self._deferred.append((logger, level, msg, args))

    def _flush_logs(self) -> None:
        """Emit queued log records; call after releasing the lock."""
        with self._lock:
            records, self._deferred = self._deferred, []
        for logger, level, msg, args in records:
            if logger.isEnabledFor(level):
                logger.log(level, msg, *args)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> Version:
        """Load and validate for the first time (raises on invalid config), then start watching."""
        environ = environ_digest()
        snapshot, ctx = self.loader.load(reloading=False)
        with self._lock:
            version = self._new_version(snapshot, (), "initial")
            self.history.append(version)
            self.store.swap(version)
            self.reader.commit(ctx.files)
            self._applied_inputs = digest_inputs({p: st.digest for p, st in ctx.files.items()}, environ)
            self.metrics.last_good_version = version.id
            self.state = State.RUNNING
        audit.info("%s: loaded version %s (initial)", self.name, version.id)
        if self.watching:
            self._start_watcher()
        return version

    def close(self) -> None:
        """Stop watching and release threads (idempotent).

        No handler call starts once this returns; a handler already running on another thread
        is waited for up to ``config.close_timeout_s`` (then a WARNING names it).
        """
        with self._lock:
            if self.state is State.CLOSED:
                return
            self.state = State.CLOSED
            watcher, self._watcher = self._watcher, None
            retry, self._retry = self._retry, None
        deadline = time.monotonic() + self.config.close_timeout_s
        self.notifier.close(self.config.close_timeout_s)
        if retry is not None:
            retry.cancel()
            if retry is not threading.current_thread():
                retry.join(max(0.0, deadline - time.monotonic()))
        if watcher is not None:
            watcher.close(max(0.0, deadline - time.monotonic()))

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    # -- watching ------------------------------------------------------------------------
    def targets(self) -> list[Path]:
        """Every file whose change may change the config (secrets directories: ``secret_dirs``)."""
        return [p for p, st in self.reader.last_good.items() if st.fmt != "secret"]

    def _start_watcher(self) -> None:
        cfg = self.config
        options = WatchOptions(
            debounce_ms=cfg.debounce_ms,
            max_wait_ms=cfg.max_wait_ms,
            poll_interval_ms=cfg.poll_interval_ms,
            safety_interval_s=cfg.safety_interval_s,
            ignore=tuple(cfg.ignore),
        )
        targets = self.targets()
        _warn_unwatchable(self.name, targets)
        feed = FileFeed(options, name=self.name, priority=cfg.priority)
        feed.retarget(targets, self.loader.secret_dirs())
        with self._lock:
            # Checked again under the lock: concurrent enable() calls must start one watcher.
            if self.state is not State.RUNNING or not self.watching or self._watcher is not None:
                feed.close()
                return
            self._watcher = feed
            feed.start(self._on_files_changed)  # starts threads; calls no user code

    def _on_files_changed(self) -> None:
        try:
            self.reload(source="file", trigger="watcher")
        except ClosedError:
            return
        feed = self._watcher
        if feed is not None:
            feed.retarget(self.targets(), self.loader.secret_dirs())

    @property
    def watcher(self) -> Any:
        """The running file watcher, or ``None``."""
        feed = self._watcher
        return feed.watcher if feed is not None else None

    def enable_watching(self) -> None:
        """Start watching (idempotent); the caller checked the production rule."""
        if self.state is State.CLOSED:
            raise ClosedError(f"{self.name} is closed")
        self.watching = True
        if self._watcher is None and self.state is State.RUNNING:
            self._start_watcher()

    def disable_watching(self) -> None:
        """Stop watching (idempotent); manual reloads still work."""
        self.watching = False
        with self._lock:
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.close()

    @property
    def watch_status(self) -> Any:
        watcher = self._watcher
        return watcher.status if watcher is not None else None

    # -- reload --------------------------------------------------------------------------
    def _prefetch(self, environ: int) -> tuple[dict[Path, Fetched], str]:
        """Read and hash every known input once; the load that may follow reuses the bytes."""
        paths = dict.fromkeys(self.reader.last_good)
        paths.update(dict.fromkeys(self.loader.secret_files()))
        fetched = {path: self.reader.fetch(path) for path in paths}
        return fetched, digest_inputs({p: digest for p, (_, digest) in fetched.items()}, environ)

    def reload(self, *, source: str = "reload", trigger: str = "manual") -> Version | None:
        """Reload now. Returns the new version, or ``None`` if nothing changed.

        Raises:
            ReloadError: the candidate was rejected (manual trigger only); the current one stays.
        """
        if self.state is State.CLOSED:
            raise ClosedError(f"{self.name} is closed")
        manual = trigger == "manual"
        now = time.monotonic()
        if trigger == "watcher" and self._breaker_open_until > now:
            self.metrics.skipped_by_breaker += 1
            self._schedule_retry(self._breaker_open_until - now)
            return None
        started = time.perf_counter()
        try:
            with self._lock:
                version, error = self._reload_locked(source, manual, started)
        finally:
            self._flush_logs()
        if error is not None:
            self.notifier.report_error(error)
            if manual:
                raise error
            return None
        self.deliver()
        return version

    def _reload_locked(self, source: str, manual: bool, started: float) -> tuple[Version | None, ReloadError | None]:
        """The body of ``reload``; runs with the lock held. Returns (version, rejection)."""
        self.metrics.attempted += 1
        quick: str | None = None
        try:
            environ = environ_digest()
            prefetched, quick = self._prefetch(environ)
            if quick == self._applied_inputs:  # back to (or still at) what is being served
                self.metrics.unchanged += 1
                self.last_error = None
                self._succeeded()
                return None, None
            known = None if manual else self._rejected.get(quick)
            if known is not None:
                # The watcher saw bytes that were rejected before: neither re-validated nor
                # re-logged, but they are what the sources hold now, so last_error says why.
                self.last_error = known
                return None, None
            snapshot, ctx = self.loader.load(reloading=True, prefetched=prefetched)
            inputs = digest_inputs({p: st.digest for p, st in ctx.files.items()}, environ)
            version = self._commit(snapshot, source, inputs, files=ctx.files)
            self._rejected.pop(quick, None)
            self.last_error = None  # accepted, even when it changes nothing
            self._succeeded()
            return version, None
        except ReloadError as exc:
            self._failed(exc, quick)
            return None, exc
        finally:
            self.metrics.last_reload_ms = (time.perf_counter() - started) * 1000

    def check(self) -> ValidationResult:
        """Validate the sources as they are now, without applying anything (a dry run)."""
        return self.validator.validate()

    def _schedule_retry(self, delay: float) -> None:
        """After the cool-down, try the newest content once (half-open), so no good write is lost."""
        with self._lock:
            if self._retry is not None or self.state is State.CLOSED:
                return
            timer = threading.Timer(delay, self._retry_now)
            timer.name = f"livesettings-breaker-{self.name}"
            timer.daemon = True
            self._retry = timer
        self.metrics.breaker_state = "open"
        timer.start()

    def _retry_now(self) -> None:
        with self._lock:
            self._retry = None
        if self.state is State.CLOSED:
            return
        self.metrics.breaker_state = "half-open"
        try:
            self.reload(source="file", trigger="breaker")
        except ClosedError:
            pass

    def _succeeded(self) -> None:
        self.metrics.consecutive_failures = 0
        self.metrics.breaker_state = "closed"
        self._breaker_open_until = 0.0

    def _failed(self, exc: ReloadError, inputs: str | None) -> None:
        self.last_error = exc
        self.metrics.rejected += 1
        self.metrics.consecutive_failures += 1
        if inputs is not None:
            self._rejected[inputs] = exc
            while len(self._rejected) > _MAX_REMEMBERED_REJECTIONS:
                self._rejected.popitem(last=False)
        current = self.store.current
        last_good = current.id if current is not None else None
        self._defer(audit, logging.WARNING, "%s: rejected a candidate config, still serving %s: %s", self.name, last_good, exc)
        if self.metrics.consecutive_failures >= self.config.failure_threshold:
            self._breaker_open_until = time.monotonic() + self.config.breaker_cooldown_s
            if self.metrics.breaker_state != "open":
                self._defer(
                    log, logging.WARNING,
                    "%s: %d rejected reloads in a row; pausing file-triggered reloads for %.1f s",
                    self.name, self.metrics.consecutive_failures, self.config.breaker_cooldown_s,
                )
            self.metrics.breaker_state = "open"

    # -- commit --------------------------------------------------------------------------
    def _check_frozen(self, changes: Iterable[Change]) -> None:
        if not self.policies:
            return
        bad = []
        for change in changes:
            hit = policy_for(change.path, self.policies, production=self.guarded)
            if hit is not None and hit[1] is Policy.FROZEN:
                bad.append(ErrorDetail(change.path, f"is Frozen and cannot change at runtime ({change.describe()})"))
        if bad:
            raise FrozenFieldError(f"invalid change for {self.name}: frozen field changed", bad)

    def _apply_policies(
        self, snapshot: Any, old: Any, changes: tuple[Change, ...], *, from_sources: bool
    ) -> tuple[Any, tuple[Change, ...]]:
        """Reject ``Frozen`` changes; hold ``Restart`` ones (and guarded-production ones) back.

        Held paths keep their running value in the returned snapshot. ``from_sources``: the
        candidate was read from the sources, so it also says what ``pending_restart`` is now.
        """
        self._check_frozen(changes)
        if not self.policies and not self.guarded:
            return snapshot, changes
        keep: set[str] = set()
        for change in changes:
            hit = policy_for(
                change.path, self.policies, production=self.guarded, leaf=change.type is ChangeType.MODIFY
            )
            if hit is not None and hit[1] is Policy.RESTART:
                keep.add(_anchor(hit[0], old, snapshot))
        restart: dict[str, Change] = {}
        live: list[Change] = []
        for change in changes:  # everything under a kept point waits, so the snapshot stays whole
            if any(under(change.path, k) for k in keep):
                restart[change.path] = change
            else:
                live.append(change)
        for path in sorted(keep):
            snapshot = set_path(snapshot, path.split("."), find(old, path))
        if from_sources:
            for path, change in restart.items():
                previous = self.pending_restart.get(path)
                if previous is None or previous.new_value != change.new_value:
                    self._defer(
                        log, logging.WARNING, "%s: %s needs a restart to take effect; still running the old value",
                        self.name, change.describe(),
                    )
            self.pending_restart = restart
        return snapshot, tuple(live)

    def _new_version(self, snapshot: Any, changes: tuple[Change, ...], source: str, **extra: Any) -> Version:
        vid, stamp = new_version_id()
        self._number += 1
        return Version(vid, stamp, source, changes, number=self._number, snapshot=snapshot, **extra)

    def _commit(
        self,
        snapshot: Any,
        source: str,
        inputs: str | None,
        *,
        files: Mapping[Path, FileState] | None = None,
        restores: str | None = None,
        reason: str | None = None,
    ) -> Version | None:
        """Diff, apply the change rules and swap. Call with ``self._lock`` held."""
        current = self.store.current
        assert current is not None
        old = current.snapshot
        fresh = restores is None  # a rollback target is published already: never mutate it
        changes = diff_snapshots(old, snapshot, share=fresh)
        snapshot, changes = self._apply_policies(snapshot, old, changes, from_sources=fresh)
        if files is not None:
            self.reader.commit(files)
        if inputs is not None:
            self._applied_inputs = inputs
        if not changes:
            self.metrics.unchanged += 1
            return None
        version = self._new_version(snapshot, changes, source, restores=restores, reason=reason, inputs=inputs)
        self.history.append(version)
        self.store.swap(version)
        self.notifier.enqueue(version, old, snapshot, changes)
        self.metrics.applied += 1
        self.metrics.last_good_version = version.id
        if audit.isEnabledFor(logging.INFO):
            detail = "; ".join(c.describe() for c in changes[:20])
            more = f" (+{len(changes) - 20} more)" if len(changes) > 20 else ""
            self._defer(audit, logging.INFO, "%s: applied version %s (%s): %s%s", self.name, version.id, source, detail, more)
        return version

    def rollback(self, version_id: str | None = None, *, reason: str | None = None) -> Version:
        """Restore an earlier version's content as a new version (see ``ReloadableSettings.rollback``)."""
        if self.state is State.CLOSED:
            raise ClosedError(f"{self.name} is closed")
        with self._lock:
            target = self.history.get(version_id) if version_id else self.history.undo_target()
            version = self._commit(
                target.snapshot, "rollback", self._applied_inputs, restores=target.content_id, reason=reason
            )
            if version is None:  # same content already (or only restart-only differences)
                current = self.store.current
                assert current is not None
                version = self._new_version(current.snapshot, (), "rollback", restores=target.content_id, reason=reason)
                self.history.append(version)
                self.store.swap(version)
        self._flush_logs()
        self.deliver()
        return version

    # -- notification --------------------------------------------------------------------
    def deliver(self) -> None:
        """Deliver queued versions to handlers (no lock held while they run)."""
        self.notifier.drain(self._on_critical_failure)

    def _on_critical_failure(self, version: Version, letter: DeadLetter) -> None:
        with self._lock:
            current = self.store.current
            if current is not version or version.source == "rollback":
                return
            items = list(self.history)
            idx = items.index(version)
            if idx == 0:
                return
            target = items[idx - 1]
            self._commit(
                target.snapshot, "rollback", self._applied_inputs, restores=target.content_id,
                reason=f"critical handler {letter.handler} failed: {letter.error!r}",
            )
        self._flush_logs()
        log.warning("%s: rolled back version %s because critical handler %s failed", self.name, version.id, letter.handler)

