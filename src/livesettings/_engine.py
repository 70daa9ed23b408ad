"""The reload engine: when any change feed fires, run the one pipeline.

digest of every input unchanged → nothing; else load → plan → commit → notify → audit.

One engine per settings object (the typed ``ReloadableSettings`` and the untyped providers share
it). It knows nothing about files: the [loader][livesettings.components.HotReloadLoader] digests
and loads the inputs and names the feeds that follow them; [plan][livesettings._policy.plan] holds
the change rules. Pipeline runs are serialised (``_serial``); the state they change is written
under ``_lock``, which is never held while user code (sources, validators, handlers, log
handlers) runs; the swap is one reference assignment; handlers run after both are released.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic_settings import BaseSettings

from . import _forksafe
from ._breaker import CircuitBreaker
from ._config import ReloadConfig, is_production
from ._diff import diff_snapshots
from ._fields import collect_policies
from ._history import ConfigVersionManager
from ._loader import Candidate, HotReloadLoader, validate_values
from ._model import Change, ChangeType, Effect, Plan, ReloadOutcome, Version, new_version_id
from ._notify import ConfigChangeNotifier, DeadLetter
from ._paths import MISSING, assign, find
from ._policy import Rules, plan
from ._provenance import Origin, shadowed_edits
from ._redact import safe_repr
from ._unknown import check_path
from ._state import State
from ._store import AtomicConfigStore, ReloadMetrics
from ._validate import ConfigChangeValidator, ValidationResult
from .exceptions import ClosedError, ReloadError
from .typing import ChangeFeed

__all__ = ["AtomicConfigStore", "Engine", "ReloadMetrics"]

log = _log = logging.getLogger("livesettings")
audit = logging.getLogger("livesettings.audit")

_MAX_REMEMBERED_REJECTIONS = 32


def _timer(delay: float, callback: Callable[[], None]) -> Any:
    timer = threading.Timer(delay, callback)
    timer.name, timer.daemon = "livesettings-breaker", True
    timer.start()
    return timer


class Engine:
    """Owns one settings object's store, history, notifier, loader and change feeds.

    Args:
        clock: monotonic seconds (the circuit breaker's clock); tests pass a fake one.
        schedule: ``schedule(delay, callback) -> handle with cancel()``, the breaker's retry timer.
    """

    def __init__(
        self,
        snapshot_cls: type[BaseSettings],
        init_kwargs: Mapping[str, Any],
        config: ReloadConfig,
        *,
        name: str,
        publish: Callable[[Version], None] | None = None,
        environment: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        schedule: Callable[[float, Callable[[], None]], Any] = _timer,
    ) -> None:
        self.name = name
        self.config = config
        self.production = is_production(environment)
        # Production with the explicit opt-in runs guarded: only ``Live`` fields change live.
        self.guarded = self.production and config.allow_in_production
        self.watching = config.watching(environment)
        self.policies = collect_policies(snapshot_cls)
        self.loader = HotReloadLoader(snapshot_cls, init_kwargs, config, name)
        self.history = ConfigVersionManager(config.max_versions)
        self.store = AtomicConfigStore(publish)
        self.notifier = ConfigChangeNotifier()
        self.validator = ConfigChangeValidator(
            lambda: self.loader.load(reloading=True),
            lambda: self.store.snapshot,
            lambda running, loaded: self._plan(running, loaded.snapshot, shadowed=self._shadowed(loaded, log=False)),
        )
        self.metrics = ReloadMetrics()
        self.breaker = CircuitBreaker(config.failure_threshold, config.breaker_cooldown_s)
        self.pending_restart: dict[str, Change] = {}
        self.last_error: ReloadError | None = None
        self.state = State.NEW
        self.feeds: dict[str, ChangeFeed] = {}
        self._clock, self._schedule = clock, schedule
        self._lock = threading.Lock()
        self._serial = threading.Lock()
        self._serial_owner: int | None = None
        self._applied: str | None = None  # the digest of the inputs being served
        self._loaded: Candidate | None = None  # the last accepted load from the sources
        self._rejected: OrderedDict[str, ReloadError] = OrderedDict()
        self._retry: Any = None
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
        self._serial = threading.Lock()
        self._serial_owner = None
        self._retry = None
        self.loader.reader._lock = threading.Lock()  # FileReader's parse-cache lock

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> Version:
        """Load and validate for the first time (raises on invalid config), then start the feeds."""
        candidate = self.loader.load(reloading=False)
        with self._lock:
            version = self._new_version(candidate.snapshot, (), "initial", inputs=candidate.digest)
            self.history.append(version)
            self.store.swap(version)
            self.loader.committed(candidate)
            self._applied, self._loaded = candidate.digest, candidate
            self.metrics.last_good_version = version.id
            self.state = State.RUNNING
        audit.info("%s: loaded version %s (initial)", self.name, version.id)
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
            feeds, self.feeds = list(self.feeds.values()), {}
            retry, self._retry = self._retry, None
        deadline = time.monotonic() + self.config.close_timeout_s
        self.notifier.close(self.config.close_timeout_s)
        if retry is not None:
            retry.cancel()
            if retry is not threading.current_thread() and hasattr(retry, "join"):
                retry.join(max(0.0, deadline - time.monotonic()))
        for feed in feeds:
            feed.close()

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    # -- feeds ---------------------------------------------------------------------------
    def start_feeds(self) -> None:
        """Start a feed for every input that has one and is not followed yet (idempotent)."""
        for key, factory in self.loader.feeds().items():
            if key in self.feeds:
                continue
            feed = factory()
            with self._lock:  # checked under the lock: concurrent enable() calls start one feed
                ok = self.state is State.RUNNING and self.watching and key not in self.feeds
                if ok:
                    self.feeds[key] = feed
            source = "file" if key == "files" else key.partition(":")[0]
            try:
                if not ok:
                    raise ClosedError(key)
                feed.start(lambda source=source: self._on_feed(source))  # type: ignore[misc]
            except ClosedError:
                feed.close()

    def _on_feed(self, source: str) -> None:
        try:
            self.reload(source=source, trigger="feed")
        except ClosedError:
            return
        if self.watching and self.state is State.RUNNING:
            self.start_feeds()  # the load may have asked for a feed of a new input

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
        with self._lock:
            feeds, self.feeds = list(self.feeds.values()), {}
        for feed in feeds:
            feed.close()

    # -- the pipeline --------------------------------------------------------------------
    @contextmanager
    def _pipeline(self) -> Iterator[None]:
        """One pipeline run at a time; a source or validator that reloads its own object fails loudly."""
        if self._serial_owner == threading.get_ident():
            raise RuntimeError(f"{self.name}: reload() called from inside its own load (a source or validator)")
        try:
            with self._serial:
                self._serial_owner = threading.get_ident()
                try:
                    yield
                finally:
                    self._serial_owner = None
        finally:
            self._flush_logs()  # log handlers are user code: after the pipeline let go

    def reload(self, *, source: str = "reload", trigger: str = "manual") -> Version | None:
        """Reload now. Returns the new version, or ``None`` if nothing changed.

        Raises:
            ReloadError: the candidate was rejected (manual trigger only); the current one stays.
        """
        if self.state is State.CLOSED:
            raise ClosedError(f"{self.name} is closed")
        with self._pipeline():
            version, error, outcome = self._run(source, trigger)
        if outcome is not None:
            self._report(outcome)
        if error is not None:
            self.notifier.report_error(error)
            if trigger == "manual":
                raise error
            return None
        self.deliver()
        return version

    def _run(self, source: str, trigger: str) -> tuple[Version | None, ReloadError | None, ReloadOutcome | None]:
        """The body of ``reload``, inside the pipeline. Returns (version, rejection, outcome)."""
        m = self.metrics
        with self._lock:
            wait = self.breaker.blocks(self._clock()) if trigger == "feed" else None
            if wait is not None:
                m.skipped_by_breaker += 1
                self._schedule_retry(wait, source)
                return None, None, None
            m.attempted += 1
        started, quick = time.perf_counter(), None
        inputs: Mapping[str, str | None] = {}
        try:
            quick, prefetched, inputs = self.loader.digest()
            if quick == self._applied:  # back to (or still at) what is being served
                with self._lock:
                    m.unchanged += 1
                    self.last_error = None
                    self._succeeded()
                return None, None, self._outcome(inputs, "unchanged")
            known = self._rejected.get(quick) if trigger != "manual" else None
            if known is not None:
                # Bytes that were rejected before: neither re-validated nor re-logged, but they
                # are what the sources hold now, so last_error says why.
                self.last_error = known
                return None, None, self._outcome(inputs, "rejected", known)
            candidate = self.loader.load(reloading=True, prefetched=prefetched)
            inputs = candidate.inputs
            shadowed = self._shadowed(candidate)
            proposal = self._plan(self.store.snapshot, candidate.snapshot, share=True, shadowed=shadowed)
            with self._lock:
                version = self._commit(proposal, source, candidate=candidate)
                self._rejected.pop(quick, None)
                self.last_error = None  # accepted, even when it changes nothing
                self._succeeded()
            return version, None, self._outcome(inputs, "applied" if version else "unchanged")
        except ReloadError as exc:
            with self._lock:
                self._failed(exc, quick)
            return None, exc, self._outcome(inputs, "rejected", exc)
        finally:
            m.last_reload_ms = (time.perf_counter() - started) * 1000

    def _shadowed(self, candidate: Candidate, *, log: bool = True) -> tuple[tuple[Change, str], ...]:
        """Edits in ``candidate``'s sources that a higher-priority source hides (logged once each)."""
        loaded = self._loaded
        if loaded is None:
            return ()
        found = []
        for edit in shadowed_edits(loaded.provenance, candidate.provenance):
            if log:
                self._defer(_log, logging.WARNING, "%s: %s", self.name, edit)
            found.append((Change(edit.path, ChangeType.MODIFY, edit.old_value, edit.new_value), str(edit)))
        return tuple(found)

    def _plan(
        self, old: Any, snapshot: Any, *, share: bool = False, shadowed: tuple[tuple[Change, str], ...] = ()
    ) -> Plan:
        """The plan for serving ``snapshot`` instead of ``old``; raises if anything is refused.

        A plan that holds some changes back and applies others serves a combination nobody
        validated: it is validated here, and if it fails, every change waits for a restart.
        """
        changes = diff_snapshots(old, snapshot, share=share)
        proposal = plan(old, snapshot, changes, Rules(self.policies, self.guarded), shadowed=shadowed)
        error = proposal.error(self.name)
        if error is not None:
            raise error
        if proposal.holds_back:
            try:
                self.loader.revalidate(proposal.snapshot)
            except ReloadError as exc:
                detail = "; ".join(str(d) for d in exc.details) or str(exc)
                proposal = proposal.hold_all(old, f"applying the live changes without the held ones fails validation: {detail}")
        return proposal

    def _commit(
        self, proposal: Plan, source: str, *, candidate: Candidate | None = None, pending: bool = True,
        restores: str | None = None, reason: str | None = None,
    ) -> Version | None:
        """Follow ``proposal``: update pending_restart, swap, record, queue the notification.

        Call with ``self._lock`` held. ``candidate``: the plan came from the sources (remember
        what they held); ``pending``: the plan says what ``pending_restart`` is now.
        """
        old = self.store.snapshot
        if pending:
            self._set_pending(proposal)
        if candidate is not None:
            self.loader.committed(candidate)
            known = set(self._loaded.unknown_keys) if self._loaded is not None else set()
            for key in candidate.unknown_keys:
                if key not in known:
                    self._defer(log, logging.WARNING, "%s: %s", self.name, key)
            self._applied, self._loaded = candidate.digest, candidate
        changes = proposal.live
        if not changes:
            self.metrics.unchanged += 1
            return None
        version = self._new_version(
            proposal.snapshot, changes, source, restores=restores, reason=reason,
            inputs=candidate.digest if candidate else self._applied, plan=proposal,
            unknown_keys=candidate.unknown_keys if candidate else (),
        )
        self.history.append(version)
        self.store.swap(version)
        self.notifier.enqueue(version, old, proposal.snapshot, changes)
        self.metrics.applied += 1
        self.metrics.last_good_version = version.id
        if audit.isEnabledFor(logging.INFO):
            detail = "; ".join(c.describe() for c in changes[:20])
            more = f" (+{len(changes) - 20} more)" if len(changes) > 20 else ""
            self._defer(audit, logging.INFO, "%s: applied version %s (%s): %s%s", self.name, version.id, source, detail, more)
        return version

    def _set_pending(self, proposal: Plan) -> None:
        restart = {p.path: p.change for p in proposal.changes if p.effect is Effect.RESTART}
        for path, change in restart.items():
            previous = self.pending_restart.get(path)
            if previous is None or previous.new_value != change.new_value:
                note = f" ({proposal.note})" if proposal.note else ""
                self._defer(
                    log, logging.WARNING, "%s: %s needs a restart to take effect; still running the old value%s",
                    self.name, change.describe(), note,
                )
        self.pending_restart = restart

    def check(self) -> ValidationResult:
        """Validate the sources as they are now and plan them, applying nothing (a dry run)."""
        return self.validator.validate()

    def apply_values(self, values: Mapping[str, Any], *, source: str = "override") -> Version | None:
        """Commit ``{dotted path: value}`` on top of the current snapshot as a new version.

        Validated like any candidate (every validator; the change rules), audited, delivered.
        """
        if self.state is State.CLOSED:
            raise ClosedError(f"{self.name} is closed")
        with self._pipeline():
            old = self.store.snapshot
            data = old.model_dump(round_trip=True)
            for path, value in values.items():
                check_path(type(old), path, aliases=False)
                assign(data, path, value)
            candidate = validate_values(type(old), data, self.name)
            proposal = self._plan(old, candidate, share=True)
            with self._lock:
                version = self._commit(proposal, source)
        self.deliver()
        return version

    def rollback(self, version_id: str | None = None, *, reason: str | None = None) -> Version:
        """Restore an earlier version's content as a new version (see ``ReloadableSettings.rollback``)."""
        if self.state is State.CLOSED:
            raise ClosedError(f"{self.name} is closed")
        with self._pipeline():
            target = self.history.get(version_id) if version_id else self.history.undo_target()
            proposal = self._plan(self.store.snapshot, target.snapshot)  # published: never share into it
            with self._lock:
                version = self._commit(proposal, "rollback", pending=False, restores=target.content_id, reason=reason)
                if version is None:  # same content already (or only restart-only differences)
                    current = self.store.snapshot
                    version = self._new_version(current, (), "rollback", restores=target.content_id, reason=reason)
                    self.history.append(version)
                    self.store.swap(version)
        self.deliver()
        return version

    def explain(self, path: str) -> Origin:
        """Where the value served at ``path`` came from (see ``ReloadableSettings.explain``)."""
        loaded, current = self._loaded, self.store.current
        assert loaded is not None and current is not None
        origin = loaded.provenance.explain(path)
        served, read = find(current.snapshot, path), find(loaded.snapshot, path)
        if served is read or served is MISSING or (type(served) is type(read) and served == read):
            return origin
        # The sources say something else: a rollback or an override is serving, or a Restart
        # field holds the running value. That is the origin; what the sources say is shadowed.
        kind = current.source if current.source in ("rollback", "override") else "restart"
        where = {"rollback": f"rollback to {current.restores}", "override": f"override {current.id}"}
        return Origin(
            path, kind, where.get(kind, "held until a restart"), safe_repr(served, path), shadowed=(origin,)
        )

    # -- notification --------------------------------------------------------------------
    def deliver(self) -> None:
        """Deliver queued versions to handlers (no lock held while they run)."""
        self.notifier.drain(self._on_critical_failure)

    def _on_critical_failure(self, version: Version, letter: DeadLetter) -> None:
        with self._pipeline():
            items = list(self.history)
            if self.store.current is not version or version.source == "rollback" or items.index(version) == 0:
                return
            target = items[items.index(version) - 1]
            why = f"critical handler {letter.handler} failed: {letter.error!r}"
            try:
                proposal = self._plan(self.store.snapshot, target.snapshot)
            except ReloadError as exc:
                log.warning("%s: cannot roll back version %s after %s: %s", self.name, version.id, why, exc)
                return
            with self._lock:
                self._commit(proposal, "rollback", pending=False, restores=target.content_id, reason=why)
        log.warning("%s: rolled back version %s because critical handler %s failed", self.name, version.id, letter.handler)

    def _outcome(self, inputs: Mapping[str, str | None], result: str, error: ReloadError | None = None) -> ReloadOutcome:
        return ReloadOutcome(dict(inputs), result, self.metrics.last_good_version, str(error) if error else None)

    def _report(self, outcome: ReloadOutcome) -> None:
        for feed in list(self.feeds.values()):
            report = getattr(feed, "report", None)
            if report is not None:
                try:
                    report(outcome)
                except Exception:  # noqa: BLE001 - a feed's report must not break the reload
                    log.warning("%s: change feed %r failed to record an outcome", self.name, feed, exc_info=True)

    # -- breaker (all under self._lock) --------------------------------------------------
    def _schedule_retry(self, delay: float, source: str) -> None:
        """After the cool-down, try the newest content once (half-open), so no good write is lost."""
        if self._retry is None and self.state is not State.CLOSED:
            self._retry = self._schedule(delay, lambda: self._retry_now(source))
        self.metrics.breaker_state = self.breaker.state.value

    def _retry_now(self, source: str) -> None:
        with self._lock:
            self._retry = None
            if self.state is State.CLOSED:
                return
            self.breaker.half_open()
            self.metrics.breaker_state = self.breaker.state.value
        try:
            self.reload(source=source, trigger="breaker")
        except ClosedError:
            pass

    def _succeeded(self) -> None:
        self.breaker.succeeded()
        self.metrics.consecutive_failures = 0
        self.metrics.breaker_state = self.breaker.state.value

    def _failed(self, exc: ReloadError, inputs: str | None) -> None:
        self.last_error = exc
        self.metrics.rejected += 1
        if inputs is not None:
            self._rejected[inputs] = exc
            while len(self._rejected) > _MAX_REMEMBERED_REJECTIONS:
                self._rejected.popitem(last=False)
        last_good = self.metrics.last_good_version
        self._defer(audit, logging.WARNING, "%s: rejected a candidate config, still serving %s: %s", self.name, last_good, exc)
        if self.breaker.failed(self._clock()):
            self._defer(
                log, logging.WARNING, "%s: %d rejected reloads in a row; pausing feed-triggered reloads for %.1f s",
                self.name, self.breaker.failures, self.config.breaker_cooldown_s,
            )
        self.metrics.consecutive_failures = self.breaker.failures
        self.metrics.breaker_state = self.breaker.state.value

    # -- helpers -------------------------------------------------------------------------
    def _new_version(self, snapshot: Any, changes: tuple[Change, ...], source: str, **extra: Any) -> Version:
        vid, stamp = new_version_id()
        self._number += 1
        return Version(vid, stamp, source, changes, number=self._number, snapshot=snapshot, **extra)

    def _defer(self, logger: logging.Logger, level: int, msg: str, *args: Any) -> None:
        """Queue a log record (call with the lock held); ``_flush_logs`` emits it."""
        self._deferred.append((logger, level, msg, args))

    def _flush_logs(self) -> None:
        """Emit queued log records; call with no lock held."""
        with self._lock:
            records, self._deferred = self._deferred, []
        for logger, level, msg, args in records:
            if logger.isEnabledFor(level):
                logger.log(level, msg, *args)
