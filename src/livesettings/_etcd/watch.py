"""Our own watch loop over the gateway's streaming ``POST /v3/watch``.

The rules (each one a failure mode measured against etcd 3.4; see the research notes):

* Range at revision R, then watch from R + 1: no event can fall between the two.
* The stream is newline-delimited JSON whose messages may span HTTP chunks (or share one): we
  split on newlines ourselves. Zero values are omitted by the gateway (a PUT has no ``type``).
* One revision is one candidate: the events of a response are grouped by ``mod_revision`` and
  each group is delivered as the whole prefix at that revision (a multi-key txn is one version).
* The applied revision advances only from events, after the whole response was delivered;
  after any disconnect the watch resumes from the applied revision + 1, with backoff and jitter.
* ``canceled`` with ``compact_revision`` (our revision is gone) and a store whose revision went
  backwards, whose raft term went down, or whose cluster id changed (a rebuilt store accepts the
  old revision and then stays silent) re-sync with a fresh range.
* With the server's ``--experimental-watch-progress-notify-interval`` set, silence for 3 × that
  interval means the connection is stalled (a black hole): reconnect. Without it the watch is
  re-created after ``rewatch_s`` of silence, which also catches a rebuilt store.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from .client import EtcdClient, EtcdError, Header, PrefixState, b64, is_bad_token, key_str, prefix_end, unb64

__all__ = ["Backoff", "WatchLoop"]

log = logging.getLogger("livesettings.etcd")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a runaway stream without newlines is a protocol error
STALL_FACTOR = 3.0  # silence for this many progress intervals = a stalled connection


class Backoff:
    """Exponential backoff with "equal jitter": half the delay fixed, half random."""

    def __init__(self, initial: float = 0.05, maximum: float = 5.0, *, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.maximum = maximum
        self._n = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        delay: float = min(self.maximum, self.initial * 2.0 ** min(self._n, 30))
        self._n += 1
        return delay / 2 + self._rng.uniform(0, delay / 2)

    def reset(self) -> None:
        self._n = 0


class _Resync(Exception):
    """Our position in the store's history is gone: start again from a fresh range."""


class _Lost(Exception):
    """The stream failed or ended; resume from the applied revision + 1."""


class _Idle(Exception):
    """Nothing arrived for ``rewatch_s`` (no progress notifications configured): re-create quietly."""


class WatchLoop:
    """Follow one prefix; call ``deliver(state)`` once per revision, in order, never twice.

    Args:
        client: a client of its own (the loop's thread owns it).
        prefix: the watched prefix.
        deliver: called with the whole prefix at each new revision (and after a re-sync).
        on_state: called with ``("running", None)`` when a watch is established and with
            ``("degraded", reason)`` when it is lost; also ``on_contact()`` for every message.
        progress_interval: the server's progress-notify interval in seconds, if it has one.
        rewatch_s: without progress notifications, re-create an idle watch this often.
        backoff: the reconnect delays.
    """

    def __init__(
        self,
        client: EtcdClient,
        prefix: str,
        deliver: Callable[[PrefixState], None],
        *,
        on_state: Callable[[str, str | None], None],
        on_contact: Callable[[], None],
        progress_interval: float | None = None,
        rewatch_s: float = 60.0,
        backoff: Backoff | None = None,
        connect_timeout: float = 3.0,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self._deliver = deliver
        self._on_state = on_state
        self._on_contact = on_contact
        self.progress_interval = progress_interval
        self.read_timeout = STALL_FACTOR * progress_interval if progress_interval else rewatch_s
        self.backoff = backoff or Backoff()
        self.connect_timeout = connect_timeout
        self.stop = threading.Event()
        self.applied = 0  # the last revision delivered
        self._kvs: dict[str, bytes] = {}
        self._term = 0
        self._cluster = ""
        self._sock: socket.socket | None = None
        self._sock_lock = threading.Lock()
        self.resyncs = 0
        self.reconnects = 0

    # -- control ---------------------------------------------------------------------------
    def abort(self) -> None:
        """Stop: wake the loop's blocking read (from any thread)."""
        self.stop.set()
        with self._sock_lock:
            sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def run(self, state: PrefixState | None) -> None:
        """Follow the prefix from ``state`` (a fresh range when ``None``) until ``abort()``."""
        resync = state is None
        if state is not None:
            self._reset(state)
        while not self.stop.is_set():
            try:
                if resync:
                    fresh = self.client.range(self.prefix)
                    self._on_contact()
                    resync = False
                    self._reset(fresh)
                    self.resyncs += 1
                    self._deliver(fresh)
                    continue
                self._follow()
                reason = "etcd closed the watch stream"
            except _Resync as exc:
                log.warning("etcd watch %s%s: %s; re-syncing with a fresh read", self.client.label, self.prefix, exc)
                resync = True
                continue
            except _Idle:
                continue
            except (_Lost, EtcdError, ValueError) as exc:
                reason = str(exc) or type(exc).__name__
            except (requests.RequestException, OSError) as exc:
                reason = self.client.describe(exc)
            if self.stop.is_set():
                break
            self.reconnects += 1
            self._on_state("degraded", reason)
            self.client.failover()
            if self.stop.wait(self.backoff.next()):
                break

    # -- one watch -------------------------------------------------------------------------
    def _reset(self, state: PrefixState) -> None:
        self._kvs = dict(state.kvs)
        self.applied = state.revision
        self._check_identity(state.header, initial=True)

    def _check_identity(self, header: Header, *, initial: bool = False) -> None:
        if initial:
            self._term = header.raft_term
            self._cluster = header.cluster_id or self._cluster
            return
        if header.cluster_id and self._cluster and header.cluster_id != self._cluster:
            raise _Resync(f"a different cluster answered (cluster id {header.cluster_id})")
        if header.revision and header.revision < self.applied:
            raise _Resync(f"the store's revision went backwards ({header.revision} < {self.applied}): a rebuilt store?")
        if header.raft_term and header.raft_term < self._term:
            raise _Resync(f"the store's raft term went down ({header.raft_term} < {self._term}): a rebuilt store?")
        self._term = max(self._term, header.raft_term)
        self._cluster = header.cluster_id or self._cluster

    def _open(self) -> requests.Response:
        body: dict[str, Any] = {
            "create_request": {
                "key": b64(self.prefix),
                "range_end": b64(prefix_end(self.prefix)),
                "start_revision": str(self.applied + 1),
                "progress_notify": True,
            }
        }
        for attempt in range(2):
            resp = self.client.session.post(
                self.client.url("watch"), json=body, stream=True, timeout=(self.connect_timeout, self.read_timeout)
            )
            if resp.status_code == 200:
                return resp
            text = resp.text[:500]
            resp.close()
            if attempt == 0 and resp.status_code == 401:
                self.client.forget_token()
                self.client.authenticate()
                continue
            raise EtcdError(f"etcd refused the watch (HTTP {resp.status_code}): {text}")
        raise AssertionError("unreachable")

    def _follow(self) -> None:
        if self.client.needs_token:
            self.client.authenticate()
        resp = self._open()
        with self._sock_lock:
            conn = getattr(resp.raw, "connection", None)
            self._sock = getattr(conn, "sock", None)
        if self.stop.is_set():  # abort() ran before the socket was known
            resp.close()
            return
        try:
            for message in self._messages(resp):
                self._handle(message)
                if self.stop.is_set():
                    return
        finally:
            with self._sock_lock:
                self._sock = None
            resp.close()

    def _messages(self, resp: requests.Response) -> Iterator[dict[str, Any]]:
        buf = b""
        last = time.monotonic()
        try:
            for chunk in resp.iter_content(chunk_size=None):
                buf += chunk
                if len(buf) > MAX_MESSAGE_BYTES:
                    raise _Lost(f"a watch message over {MAX_MESSAGE_BYTES} bytes")
                while b"\n" in buf:
                    line, _, buf = buf.partition(b"\n")
                    if line.strip():
                        last = time.monotonic()
                        yield json.loads(line)
        except requests.exceptions.ConnectionError as exc:
            if self.stop.is_set():
                return
            silent = time.monotonic() - last
            if silent >= self.read_timeout * 0.9:
                if not self.progress_interval:
                    raise _Idle() from None
                raise _Lost(
                    f"no message for {silent:.1f} s (progress notifications every {self.progress_interval:g} s): "
                    "the connection is stalled"
                ) from None
            raise _Lost(f"the watch connection broke: {type(exc).__name__}") from None

    def _handle(self, message: dict[str, Any]) -> None:
        self._on_contact()
        if "error" in message:  # a graceful stop: {"error": {"grpc_code": 14, ...}}, then the end
            err = message["error"] or {}
            raise _Lost(f"etcd ended the watch: {err.get('message') or err.get('grpc_code')}")
        result = message.get("result") or {}
        if result.get("canceled"):
            if "compact_revision" in result:
                raise _Resync(
                    f"revision {self.applied + 1} was compacted (etcd keeps from {result['compact_revision']})"
                )
            reason = str(result.get("cancel_reason") or "no reason given")
            if self.client.username is not None and is_bad_token(reason):
                # A restarted etcd forgets its tokens; an idle one lets them expire: get a new one.
                self.client.forget_token()
                raise _Lost(f"etcd refused our auth token ({reason}); authenticating again")
            if "user name is empty" in reason:
                raise _Lost(f"etcd has auth enabled: pass username and password ({reason})")
            if "permission denied" in reason:
                raise _Lost(f"etcd user {self.client.username!r} may not read {self.prefix} ({reason})")
            raise _Lost(f"etcd canceled the watch: {reason}")
        header = Header.of(result.get("header"))
        self._check_identity(header)
        if result.get("created"):
            self.backoff.reset()
            self._on_state("running", None)
        events = result.get("events")
        if events:
            self._apply(events, header)

    def _apply(self, events: list[dict[str, Any]], header: Header) -> None:
        """Deliver each revision of one response in order; advance ``applied`` at the end."""
        groups: list[tuple[int, list[dict[str, Any]]]] = []
        for event in events:
            kv = event.get("kv") or {}
            revision = int(kv.get("mod_revision", 0))
            if revision <= self.applied:
                continue  # already delivered (cannot happen when resuming at applied + 1)
            if groups and groups[-1][0] == revision:
                groups[-1][1].append(event)
            else:
                groups.append((revision, [event]))
        kvs = self._kvs
        last = self.applied
        for revision, group in groups:
            kvs = dict(kvs)
            for event in group:
                kv = event["kv"]
                key = key_str(kv.get("key"))
                if event.get("type") == "DELETE":
                    kvs.pop(key, None)
                else:
                    kvs[key] = unb64(kv.get("value"))
            self._kvs = kvs
            self._deliver(PrefixState(revision, kvs, header))
            last = revision
            if self.stop.is_set():
                break
        self.applied = last
