"""The reload engine: when any change feed fires, run the one pipeline.

digest of every input unchanged → nothing; else load → plan → prepare → commit → notify → audit.

One engine per settings object (the typed ``ReloadableSettings`` and the untyped providers share
it). It knows nothing about files: the [loader][livesettings.components.HotReloadLoader] digests
and loads the inputs and names the feeds that follow them; [plan][livesettings._policy.plan] holds
the change rules. Pipeline runs are serialised (``_serial``); the state they change is written
under ``_lock``, which is never held while user code (sources, validators, preparers, handlers,
log handlers) runs; the swap is one reference assignment; handlers run after both are released.
Preparers run inside the pipeline (so versions stay ordered), before ``_lock`` is taken for the
commit, and are told the outcome after it is released. A reload a feed triggered calls
[hand_off][livesettings.watch.handoff.hand_off] before the handlers run, so a file watcher takes
new events on its relief thread while a slow handler runs on its worker.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from pydantic_settings import BaseSettings

from . import _forksafe
from ._breaker import timer
from ._config import ReloadConfig, is_production
from ._feeds import FeedSet
from ._fields import collect_policies
from ._health import Health
from ._history import ConfigVersionManager
from ._historyfile import HistoryFile
from ._loader import Candidate, HotReloadLoader
from ._model import Change, Plan, ReloadOutcome, Version, new_version_id, summarize
from ._notify import ConfigChangeNotifier, DeadLetter, Prepared
from ._policy import Rules
from ._provenance import ShadowedEdit
from ._redact import redact_text, secret_strings
from ._state import State
from ._store import AtomicConfigStore, DeferredLog, ReloadMetrics
from ._streams import VersionWaiters
from ._validate import ConfigChangeValidator, ValidationResult
from .exceptions import ClosedError, ErrorDetail, ReloadError
from .watch import handoff

__all__ = ["AtomicConfigStore", "Engine", "ReloadMetrics"]

log = logging.getLogger("livesettings")
audit = logging.getLogger("livesettings.audit")


class Engine:
    """Owns one settings object's store, history, notifier, loader and change feeds.

    Args:
        clock: monotonic seconds (the circuit breaker's clock); tests pass a fake one.
        schedule: ``schedule(delay, callback) -> handle with cancel()``, the breaker's retry timer.
    """

    def __init__(
        self, snapshot_cls: type[BaseSettings], init_kwargs: Mapping[str, Any], config: ReloadConfig, *, name: str,
        publish: Callable[[Version], None] | None = None, environment: str | None = None,
        clock: Callable[[], float] = time.monotonic, schedule: Callable[[float, Callable[[], None]], Any] = timer,
    ) -> None:
        self.name, self.config = name, config
        self.production = is_production(environment)
        self.watching = config.watching(environment)
        # Production with the explicit opt-in runs guarded: only ``Live`` fields change live.
        self.rules = Rules(collect_policies(snapshot_cls), self.production and config.allow_in_production)
        self.loader = HotReloadLoader(snapshot_cls, init_kwargs, config, name)
        self.history = ConfigVersionManager(config.max_versions)
        self.store = AtomicConfigStore(publish)
        self.notifier = ConfigChangeNotifier(handler_timeout=config.handler_timeout_s)
        self.waiters = VersionWaiters(name)  # wait_for_version
        self.validator = ConfigChangeValidator(
            lambda: self.loader.load(reloading=True), lambda: self.store.snapshot,
            lambda running, loaded: self._plan(running, loaded.snapshot, shadowed=self.loader.shadowed(loaded)),
        )
        self._logs = DeferredLog()
        self.health = Health(name, config, self._logs, clock=clock, schedule=schedule)
        self.metrics = self.health.metrics
        self.feeds = FeedSet(name)
        self.pending_restart: dict[str, Change] = {}
        self.state = State.NEW
        self._applied: str | None = None  # the digest of the inputs being served
        self._number = 0
        # Called with each new version after the pipeline let go of its locks (a history file ...).
        self.recorders = self._logs.recorders
        if config.history_file is not None:
            self.recorders.append(HistoryFile(config.history_file, config.history_max_bytes, name=name))
        self._fork_reset()
        _forksafe.register(self)

    def _fork_reset(self) -> None:
        """Fresh locks (also in a forked child: the parent's threads, a reload or a retry, are gone;
        the file watcher restarts itself and rescans, which re-runs a reload that was in flight).
        Each part (feeds, reader, logs, waiters, history) resets its own."""
        self._lock, self._serial = threading.Lock(), threading.Lock()
        self._serial_owner: int | None = None
        self.health.breaker.retry = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> Version:
        """Load and validate for the first time (raises on invalid config), then start the feeds."""
        candidate = self.loader.load(reloading=False)
        with self._lock:
            version = self._publish(candidate.snapshot, (), "initial", inputs=candidate.digest)
            self.loader.committed(candidate)
            self._applied, self.state = candidate.digest, State.RUNNING
            self.health.succeeded()
        audit.info("%s: loaded version %s (initial)", self.name, version.id)
        self._logs.flush()
        self.waiters.notify(version)
        for key in candidate.unknown_keys:
            log.warning("%s: %s", self.name, key)
        if self.watching:
            self.start_feeds()
        return version

    def close(self) -> None:
        """Close every feed and the retry timer, joining their threads (idempotent).

        No handler call starts once this returns; a handler already running on another thread
        is waited for up to ``config.close_timeout_s`` (then a WARNING names it).
        """
        with self._lock:
            if self.state is State.CLOSED:
                return
            self.state = State.CLOSED
            retry = self.health.breaker.disarm()
        deadline = time.monotonic() + self.config.close_timeout_s
        self.notifier.close(self.config.close_timeout_s)
        self.waiters.close()
        if retry is not None:
            retry.cancel()
            if retry is not threading.current_thread() and hasattr(retry, "join"):
                retry.join(max(0.0, deadline - time.monotonic()))
        self.feeds.stop(final=True)

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    def start_feeds(self) -> None:
        """Follow every input that has a feed and is not followed yet (idempotent)."""
        self.feeds.follow(
            self.loader.feeds, lambda source: self.reload(source=source, trigger="feed"),
            lambda: self.state is State.RUNNING and self.watching,
        )

    def enable_watching(self) -> None:
        """Start following the inputs (idempotent); the caller checked the production rule."""
        if self.state is State.CLOSED:
            raise ClosedError(f"{self.name} is closed")
        self.watching = True
        if self.state is State.RUNNING:
            self.start_feeds()

    def disable_watching(self) -> None:
        """Close every feed (idempotent); manual reloads still work."""
        self.watching = False
        self.feeds.stop()

    # -- the pipeline --------------------------------------------------------------------
    def _pipeline(self) -> _Pipeline:
        """One pipeline run at a time; a source or validator that reloads its own object fails loudly."""
        if self.state is State.CLOSED:
            raise ClosedError(f"{self.name} is closed")
        if self._serial_owner == threading.get_ident():
            raise RuntimeError(f"{self.name}: reload() called from inside its own load (a source or validator)")
        return _Pipeline(self)

    def reload(self, *, source: str = "reload", trigger: str = "manual") -> Version | None:
        """Reload now. Returns the new version, or ``None`` if nothing changed.

        Raises:
            ReloadError: the candidate was rejected (manual trigger only); the current one stays.
        """
        with self._pipeline():
            version, error, outcome = self._run(source, trigger)
        if outcome is not None:
            self.feeds.report(outcome)
        if trigger == "feed" and (error is not None or self.notifier.pending):
            handoff.hand_off()  # user code follows: a file watcher's worker lets its relief take new events
        if error is not None:
            self.notifier.report_error(error)
            if trigger == "manual":
                raise error
            return None
        self.deliver()
        return version

    def _run(self, source: str, trigger: str) -> tuple[Version | None, ReloadError | None, ReloadOutcome | None]:
        """The body of ``reload``, inside the pipeline. Returns (version, rejection, outcome)."""
        m, health = self.metrics, self.health
        with self._lock:
            if trigger == "feed" and health.blocked(lambda: self._retry_now(source)):
                return None, None, None
            m.attempted += 1
        started, quick = time.perf_counter(), None
        inputs: Mapping[str, str | None] = {}

        def outcome(result: str, error: ReloadError | None = None) -> ReloadOutcome:
            return ReloadOutcome(dict(inputs), result, m.last_good_version, str(error) if error else None)

        try:
            # Another input's feed fired while the file feed follows the files (a changed one fires its own reload).
            followed = trigger == "feed" and source != "file" and "files" in self.feeds
            now = self.loader.digest(files_followed=followed)
            quick, inputs = now.digest, now.others
            opaque = self.loader.opaque  # a source no digest covers: only running it tells
            if quick == self._applied and not opaque:  # back to (or still at) what is being served
                with self._lock:
                    m.unchanged += 1
                    health.succeeded()
                return None, None, outcome("unchanged")
            known = health.known(quick) if trigger != "manual" and not opaque else None
            if known is not None:  # rejected before: not re-validated nor re-logged, but still why
                return None, None, outcome("rejected", known)
            candidate = self.loader.load(reloading=True, prefetched=now.files, environ=now.environ)
            inputs = candidate.inputs
            shadowed = self.loader.shadowed(candidate)
            for edit in shadowed:
                self._logs.add(log, logging.WARNING, "%s: %s", self.name, edit)
            proposal = self._plan(self.store.snapshot, candidate.snapshot, share=True, shadowed=shadowed)
            version = self._apply(proposal, source, candidate=candidate)
            with self._lock:
                health.succeeded(quick)
            return version, None, outcome("applied" if version else "unchanged")
        except ReloadError as exc:
            with self._lock:
                health.failed(exc, quick, m.last_good_version)
            return None, exc, outcome("rejected", exc)
        except ClosedError:
            raise
        except Exception as exc:
            if trigger == "manual":
                raise  # reload() by hand raises what the source raised, as pydantic-settings would
            # From a feed: a rejection like any other (last_error, health, on_error, the breaker),
            # not remembered by digest (it may be transient: the same inputs are tried again).
            crashed = self._source_crashed(exc)
            with self._lock:
                health.failed(crashed, None, m.last_good_version)
            return None, crashed, outcome("rejected", crashed)
        finally:
            m.observe(time.perf_counter() - started)

    def _source_crashed(self, exc: Exception) -> ReloadError:
        """The rejection for an exception that is not a ``ReloadError`` (a source of the user's own,
        a bug), its text scrubbed of the secrets being served; the traceback is logged."""
        text = redact_text(f"{type(exc).__name__}: {exc}", secret_strings(self.store.snapshot))
        where = "".join(traceback.format_tb(exc.__traceback__))  # frames only: the message above is the scrubbed one
        log.warning("%s: loading the settings raised %s\nTraceback (most recent call last):\n%s", self.name, text, where)
        return ReloadError(f"cannot load {self.name}", [ErrorDetail(None, f"a settings source raised {text}")])

    def _plan(self, old: Any, snapshot: Any, *, share: bool = False, shadowed: tuple[ShadowedEdit, ...] = ()) -> Plan:
        """The plan for serving ``snapshot`` instead of ``old`` (raises if anything is refused)."""
        return self.loader.plan(old, snapshot, self.rules, share=share, shadowed=shadowed)

    def _apply(self, proposal: Plan, source: str, **commit: Any) -> Version | None:
        """Prepare, commit and tell the preparers (inside the pipeline, with no lock held).

        Raises:
            ReloadError: a preparer vetoed the version; nothing was committed.
            ClosedError: the engine closed while preparing; nothing was committed.
        """
        prepared: Prepared | None = None
        if proposal.live:
            prepared = self.notifier.prepare(self.store.snapshot, proposal.snapshot, proposal.live)
        version = None
        try:
            with self._lock:
                if self.state is State.CLOSED:
                    raise ClosedError(f"{self.name} is closed")
                version = self._commit(proposal, source, **commit)
        finally:
            if prepared is not None:
                prepared.finish(version is not None)  # user code: after the lock is released
        return version

    def _commit(
        self, proposal: Plan, source: str, *, candidate: Candidate | None = None, pending: bool = True, **extra: Any
    ) -> Version | None:
        """Follow ``proposal`` (with ``self._lock`` held, after ``_apply`` ran the preparers):
        pending_restart, swap, record, queue.

        ``candidate``: the plan came from the sources (remember what they held); ``pending``:
        the plan says what ``pending_restart`` is now (not for a rollback).
        """
        old = self.store.snapshot
        if pending:
            note = f" ({proposal.note})" if proposal.note else ""
            for path, change in proposal.pending.items():
                if path not in self.pending_restart or self.pending_restart[path].new_value != change.new_value:
                    self._logs.add(log, logging.WARNING, "%s: %s needs a restart to take effect; still running "
                                   "the old value%s", self.name, change.describe(), note)
            self.pending_restart = proposal.pending
        if candidate is not None:
            for key in self.loader.committed(candidate):
                self._logs.add(log, logging.WARNING, "%s: %s", self.name, key)
            self._applied = candidate.digest
        changes = proposal.live
        if not changes:
            self.metrics.unchanged += 1
            return None
        version = self._publish(
            proposal.snapshot, changes, source, plan=proposal, inputs=self._applied,
            unknown_keys=candidate.unknown_keys if candidate else (), **extra,
        )
        self.notifier.enqueue(version, old, proposal.snapshot, changes)
        self.metrics.applied += 1
        if audit.isEnabledFor(logging.INFO):
            self._logs.add(audit, logging.INFO, "%s: applied version %s (%s): %s", self.name, version.id, source, summarize(changes))
        return version

    def _publish(self, snapshot: Any, changes: tuple[Change, ...], source: str, **extra: Any) -> Version:
        """Serve ``snapshot`` as the next version: numbered, in the history, swapped in, recorded."""
        vid, stamp = new_version_id()
        self._number += 1
        version = Version(vid, stamp, source, changes, number=self._number, snapshot=snapshot, **extra)
        self.history.append(version)
        self.store.swap(version)
        self.metrics.last_good_version = version.id
        self._logs.record(version)
        return version

    # -- other ways to a version ---------------------------------------------------------
    def check(self) -> ValidationResult:
        """Validate the sources as they are now and plan them, applying nothing (a dry run)."""
        return self.validator.validate()

    def apply_values(self, values: Mapping[str, Any], *, source: str = "override") -> Version | None:
        """Commit ``{dotted path: value}`` over the current snapshot: validated like any candidate
        (every validator; the change rules), audited and delivered."""
        with self._pipeline():
            old = self.store.snapshot
            version = self._apply(self._plan(old, self.loader.with_values(old, values), share=True), source)
        self.deliver()
        return version

    def rollback(self, version_id: str | None = None, *, reason: str | None = None) -> Version:
        """Restore an earlier version's content as a new version (see ``ReloadableSettings.rollback``)."""
        with self._pipeline():
            target = self.history.get(version_id) if version_id else self.history.undo_target()
            version = self._restore(target, reason)
        self.deliver()
        return version

    def _restore(self, target: Version, reason: str | None) -> Version:
        """Serve ``target``'s content as a new ``"rollback"`` version (inside the pipeline)."""
        proposal = self._plan(self.store.snapshot, target.snapshot)  # published: never share into it
        version = self._apply(proposal, "rollback", pending=False, restores=target.content_id, reason=reason)
        if version is None:  # the same content already (or only restart-only differences): record the rollback
            with self._lock:
                version = self._publish(self.store.snapshot, (), "rollback", restores=target.content_id, reason=reason)
        return version

    # -- notification --------------------------------------------------------------------
    def deliver(self) -> None:
        """Deliver queued versions to handlers (no lock held while they run)."""
        self.notifier.drain(self._on_critical_failure)

    def _on_critical_failure(self, version: Version, letter: DeadLetter) -> None:
        with self._pipeline():
            items = list(self.history)
            if self.store.current is not version or version.source == "rollback" or items.index(version) == 0:
                return
            try:
                error = redact_text(repr(letter.error), secret_strings(version.snapshot))  # a handler's text may quote a secret
                self._restore(items[items.index(version) - 1], f"critical handler {letter.handler} failed: {error}")
            except ReloadError as exc:
                log.warning("%s: cannot roll back version %s: %s", self.name, version.id, exc)
                return
        log.warning("%s: rolled back version %s because critical handler %s failed", self.name, version.id, letter.handler)

    def _retry_now(self, source: str) -> None:
        """The cool-down ended: try the newest content once (half-open), so no good write is lost."""
        with self._lock:
            if self.state is State.CLOSED:
                return
            self.health.half_open()
        try:
            self.reload(source=source, trigger="breaker")
        except ClosedError:
            pass


class _Pipeline:
    """``with engine._pipeline():`` (a class, not a generator: it runs on every reload).

    Holds ``_serial`` for the block; after it, flushes the deferred logs and wakes the version
    waiters (user code, run once the pipeline let go), whether the block raised or not.
    """

    __slots__ = ("engine",)

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> None:
        engine = self.engine
        try:
            engine._serial.acquire()
        except BaseException:
            self._after()
            raise
        engine._serial_owner = threading.get_ident()

    def __exit__(self, *exc: object) -> None:
        engine = self.engine
        engine._serial_owner = None
        engine._serial.release()
        self._after()

    def _after(self) -> None:
        engine = self.engine
        engine._logs.flush()  # log handlers and recorders are user code: after the pipeline let go
        engine.waiters.notify(engine.store.current)
