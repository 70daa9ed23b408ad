"""``EtcdFeed``: an etcd prefix as a [ChangeFeed][livesettings.typing.ChangeFeed], with ACK/NACK records.

Two threads, both owned and joined by the feed:

* the **watch** thread runs the [WatchLoop][livesettings._etcd.watch.WatchLoop]; for each new
  revision it stores the whole prefix in the shared ``Mirror`` (where the source's next load
  reads it, without a round trip) and calls ``on_change()``;
* the **status** thread holds a lease (TTL, keepalive every TTL/3) and writes this process's
  record under ``P.acks/<instance>`` (``P`` without its trailing ``/``) for every revision seen:
  ``{"instance", "revision", "ok", "error", "version", "host", "pid", "time"}``. When the
  process dies the lease expires and the record disappears; ``close()`` revokes it at once.

Records are queued by ``report()`` (any thread, never blocks) and written in order, so a
rejection is never hidden by the next record being written first.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .._model import ReloadOutcome
from .._state import State
from ..exceptions import ClosedError
from .client import EtcdClient, EtcdError, KeyWriter, PrefixState
from .watch import Backoff, WatchLoop

__all__ = ["EtcdFeed", "EtcdStatus", "Mirror", "ack_key", "acks_prefix", "default_instance"]

log = logging.getLogger("livesettings.etcd")

MAX_ERROR_CHARS = 4000
MAX_QUEUED_RECORDS = 256


def acks_prefix(prefix: str) -> str:
    """Where a prefix's ACK records live: outside the watched range (``app/`` -> ``app.acks/``)."""
    return prefix.rstrip("/") + ".acks/"


def ack_key(prefix: str, instance: str) -> str:
    return acks_prefix(prefix) + instance


def default_instance() -> str:
    """``<host>-<pid>-<random>``: unique even for pid 1 in many containers on one host name."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _now_iso() -> str:
    """``2026-12-03T13:29:14.123456Z`` (field by field: strftime costs more than the rest of a record)."""
    t = datetime.now(timezone.utc)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (t.year, t.month, t.day, t.hour, t.minute, t.second, t.microsecond)


class Mirror:
    """The latest state of one prefix, shared by a settings object's loads and its feed.

    The feed writes ``latest`` (one reference assignment of an immutable state); a load reads it.
    ``seen_keys``: the prefix held keys at some point (an empty prefix is then a wiped store,
    not a config).
    """

    def __init__(self, key: str, factory: Callable[[Mirror], EtcdFeed]) -> None:
        self.key = key
        self.latest: PrefixState | None = None
        self.seen_keys = False
        self.live = False  # a feed is following the prefix: loads read ``latest``
        self.client: EtcdClient | None = None  # the loads' client (their own thread, serialised)
        self._factory = factory

    def offer(self, state: PrefixState) -> None:
        self.latest = state
        if state.kvs:
            self.seen_keys = True

    def current(self) -> str | None:
        """The revision a load would read now (the engine's cheap "did it change?" probe)."""
        latest = self.latest
        return None if latest is None else str(latest.revision)

    def new_feed(self) -> EtcdFeed:
        return self._factory(self)


@dataclass(frozen=True)
class EtcdStatus:
    """A feed's health, as of the moment it was read.

    Attributes:
        state: ``"new"``, ``"running"``, ``"degraded"`` (etcd unreachable or the watch stalled;
            the last good config keeps serving; also until the first watch is established, with
            error ``"connecting"``) or ``"closed"``.
        revision: the last revision delivered to the settings object.
        since_contact_s: seconds since etcd last answered (``None`` before the first answer).
        error: why the feed is degraded, if it is.
        endpoint: the etcd endpoint(s), without credentials.
        prefix: the watched prefix.
        instance: this process's id in the ACK records.
        reconnects: watch reconnects so far.
        resyncs: fresh reads after a compaction or a rebuilt store.
    """

    state: str
    revision: int | None
    since_contact_s: float | None
    error: str | None
    endpoint: str
    prefix: str
    instance: str
    reconnects: int = 0
    resyncs: int = 0


class EtcdFeed:
    """Follow an etcd prefix; call ``on_change()`` once per new revision; ACK each outcome.

    Args:
        client: the connection options (the feed clones it: each thread has its own session).
        prefix: the watched prefix (ending in ``/``).
        mirror: shared with the source (a private one is made when ``None``).
        instance: this process's id in the ACK records (default ``<host>-<pid>-<random>``).
        ack: write ACK/NACK records.
        ack_ttl: lease TTL in seconds: a dead process's record disappears after this long.
        progress_interval: the server's ``--experimental-watch-progress-notify-interval`` in
            seconds; silence for 3× that long is a stalled connection.
        rewatch_s: without ``progress_interval``, re-create an idle watch this often.
        backoff: reconnect delays (exponential with jitter).
    """

    def __init__(
        self,
        client: EtcdClient,
        prefix: str,
        *,
        mirror: Mirror | None = None,
        instance: str | None = None,
        ack: bool = True,
        ack_ttl: int = 15,
        progress_interval: float | None = None,
        rewatch_s: float = 60.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.prefix = prefix
        self.mirror = mirror or Mirror(f"etcd:{client.label}{prefix}", lambda m: self)
        self.key = self.mirror.key
        self.instance = instance or default_instance()
        self.ack_ttl = max(2, int(ack_ttl))
        self._client = client
        self._ack = ack
        self._lock = threading.Lock()
        self._state = State.NEW
        self._degraded: str | None = None
        self._degraded_since = 0.0
        self._contact: float | None = None
        self._loop = WatchLoop(
            client.clone(), prefix, self._deliver,
            on_state=self._on_state, on_contact=self._touch,
            progress_interval=progress_interval, rewatch_s=rewatch_s, backoff=backoff,
        )
        self._on_change: Callable[[], None] | None = None
        self._records: deque[dict[str, Any]] = deque(maxlen=MAX_QUEUED_RECORDS)
        self._wake = threading.Condition(self._lock)
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self.lease: int | None = None
        self.written = 0  # records written (for tests and stats)
        self._writer: KeyWriter | None = None  # the status thread's (for tests)

    def __repr__(self) -> str:
        return f"EtcdFeed({self._client.label!r}, {self.prefix!r}, instance={self.instance!r})"

    # -- ChangeFeed ------------------------------------------------------------------------
    def start(self, on_change: Callable[[], None]) -> None:
        """Start both threads; ``on_change()`` runs on the watch thread, never concurrently.

        Raises:
            ClosedError: the feed was closed.
        """
        with self._lock:
            if self._state is State.CLOSED:
                raise ClosedError(f"etcd feed {self.prefix} is closed")
            if self._threads:
                return
            self._on_change = on_change
            self._state = State.RUNNING
            self._degraded = "connecting"  # until the first watch is established (not logged)
            self._degraded_since = time.monotonic()
            self.mirror.live = True
            latest = self.mirror.latest
            if latest is not None:
                self._queue({"revision": latest.revision, "ok": True, "error": None, "version": None})
            name = f"livesettings-etcd-{self.prefix}"
            self._threads = [threading.Thread(target=self._loop.run, args=(latest,), name=f"{name}-watch", daemon=True)]
            if self._ack:
                self._threads.append(threading.Thread(target=self._run_acks, name=f"{name}-acks", daemon=True))
            threads = list(self._threads)
        for thread in threads:
            thread.start()

    def close(self) -> None:
        """Stop both threads and join them; revoke the lease so the record disappears (idempotent)."""
        with self._lock:
            if self._state is State.CLOSED:
                return
            self._state = State.CLOSED
            self.mirror.live = False
            self._stopping = True
            self._wake.notify_all()
            threads, self._threads = self._threads, []
        self._loop.abort()
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join()

    @property
    def status(self) -> EtcdStatus | None:
        """An [EtcdStatus][livesettings._etcd.feed.EtcdStatus] snapshot, or ``None`` before ``start``."""
        if self._state is State.NEW:
            return None
        state = "closed" if self._state is State.CLOSED else ("degraded" if self._degraded else "running")
        contact = self._contact
        latest = self.mirror.latest
        return EtcdStatus(
            state=state,
            revision=latest.revision if latest is not None else None,
            since_contact_s=None if contact is None else max(0.0, time.monotonic() - contact),
            error=self._degraded,
            endpoint=self._client.label,
            prefix=self.prefix,
            instance=self.instance,
            reconnects=self._loop.reconnects,
            resyncs=self._loop.resyncs,
        )

    def current(self) -> str | None:
        return self.mirror.current()

    # -- ACK/NACK --------------------------------------------------------------------------
    def report(self, outcome: ReloadOutcome) -> None:
        """Queue this process's record for ``outcome`` (written by the status thread)."""
        if not self._ack:
            return
        raw = outcome.inputs.get(self.key)
        latest = self.mirror.latest
        try:
            revision: int | None = int(raw) if raw is not None else None
        except ValueError:
            revision = None
        if revision is None:
            revision = latest.revision if latest is not None else 0
        error = outcome.error
        if error is not None and len(error) > MAX_ERROR_CHARS:
            error = error[:MAX_ERROR_CHARS] + " [truncated]"
        with self._lock:
            self._queue({
                "revision": revision, "ok": outcome.result != "rejected", "error": error, "version": outcome.version,
            })

    def _queue(self, record: dict[str, Any]) -> None:
        """Call with the lock held."""
        if not self._ack:
            return
        self._records.append({
            "instance": self.instance, **record, "host": socket.gethostname(), "pid": os.getpid(), "time": _now_iso(),
        })
        self._wake.notify_all()

    def _run_acks(self) -> None:
        client = self._client.clone(timeout=min(self._client.timeout, 2.0))
        writer = self._writer = KeyWriter(client, ack_key(self.prefix, self.instance))
        backoff = Backoff(0.1, 5.0)
        last: dict[str, Any] | None = None  # the record in etcd (rewritten under a new lease)
        next_keepalive = 0.0
        try:
            while True:
                with self._lock:
                    delay = max(0.0, next_keepalive - time.monotonic()) if self.lease is not None else None
                    if not self._records and not self._stopping and (delay is None or delay > 0):
                        self._wake.wait(delay)
                    if self._stopping:
                        break
                    record = self._records[0] if self._records else None
                try:
                    if self.lease is None:
                        self.lease = client.lease_grant(self.ack_ttl)
                        next_keepalive = 0.0
                        if record is None and last is not None:
                            record = last
                    if record is not None:
                        writer.put(json.dumps(record, sort_keys=True), lease=self.lease)
                        self._touch()
                        self.written += 1
                        last = record
                        with self._lock:
                            if self._records and self._records[0] is record:
                                self._records.popleft()
                    if time.monotonic() >= next_keepalive:
                        if client.lease_keepalive(self.lease) <= 0:  # expired (etcd was away too long)
                            self.lease = None
                            continue
                        self._touch()
                        next_keepalive = time.monotonic() + self.ack_ttl / 3
                    backoff.reset()
                except EtcdError as exc:
                    if "lease not found" in str(exc):
                        self.lease = None
                        continue
                    with self._lock:
                        if self._wake.wait_for(lambda: self._stopping, backoff.next()):
                            break
        finally:
            if self.lease is not None:
                try:
                    client.lease_revoke(self.lease)
                except EtcdError:
                    pass  # it expires by itself
            writer.close()
            client.close()

    # -- the watch's callbacks (watch thread) -------------------------------------------------
    def _touch(self) -> None:
        self._contact = time.monotonic()

    def _on_state(self, state: str, reason: str | None) -> None:
        if state == "running":
            if self._degraded not in (None, "connecting"):
                log.info(
                    "etcd watch %s%s re-established after %.1f s", self._client.label, self.prefix,
                    time.monotonic() - self._degraded_since,
                )
            self._degraded = None
            return
        if self._degraded in (None, "connecting"):
            self._degraded_since = time.monotonic()
            log.warning(
                "etcd watch %s%s lost (%s); serving the last good config and retrying",
                self._client.label, self.prefix, reason,
            )
        self._degraded = reason or "disconnected"

    def _deliver(self, state: PrefixState) -> None:
        self.mirror.offer(state)
        on_change = self._on_change
        if on_change is None or self._state is State.CLOSED:
            return
        try:
            on_change()
        except ClosedError:
            self._loop.stop.set()
        except Exception:  # noqa: BLE001 - a failing reload must not end the watch
            log.exception("etcd feed %s%s: on_change failed", self._client.label, self.prefix)
