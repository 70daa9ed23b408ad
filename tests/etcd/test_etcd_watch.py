"""The etcd client and our watch loop, against a real etcd: ordering, batching, restarts, cuts, compaction."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from etcd_server import PROGRESS_INTERVAL_S, EtcdServer, wait_until, etcd, etcd_private, prefix  # noqa: F401 (fixtures)
from etcd_proxy import TcpProxy

from livesettings._etcd.client import EtcdClient, EtcdUnavailable, PrefixState, b64, prefix_end
from livesettings._etcd.watch import STALL_FACTOR, Backoff, WatchLoop


class Recorder:
    """A WatchLoop on its own thread that records every delivered state and state change."""

    def __init__(self, endpoint: str, prefix: str, *, initial: PrefixState | None = None, **kw: Any) -> None:
        self.states: list[PrefixState] = []
        self.changes: list[tuple[float, str, str | None]] = []
        kw.setdefault("progress_interval", PROGRESS_INTERVAL_S)
        kw.setdefault("backoff", Backoff(0.02, 0.3))
        self.loop = WatchLoop(
            EtcdClient(endpoint, timeout=2.0), prefix, self.states.append,
            on_state=lambda s, r: self.changes.append((time.monotonic(), s, r)), on_contact=lambda: None, **kw,
        )
        self.thread = threading.Thread(target=self.loop.run, args=(initial,), name="test-watch", daemon=True)
        self.thread.start()

    @property
    def state(self) -> str | None:
        return self.changes[-1][1] if self.changes else None

    def running(self) -> bool:
        return self.state == "running"

    def revisions(self) -> list[int]:
        return [s.revision for s in self.states]

    def values(self, key: str) -> list[bytes | None]:
        return [s.kvs.get(key) for s in self.states]

    def close(self) -> None:
        self.loop.abort()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()
        self.loop.client.close()


@pytest.fixture
def recorders() -> Iterator[list[Recorder]]:
    made: list[Recorder] = []
    yield made
    for r in made:
        r.close()


class TestClient:
    """Range, txn and leases through etcd3gw."""

    def test_range_keeps_the_header_revision(self, etcd: EtcdServer, prefix: str) -> None:
        """A range returns every key under the prefix and the store revision it was read at."""
        etcd.put(prefix + "a", "1")
        rev = etcd.put(prefix + "b/c", "2")
        etcd.put(prefix[:-1] + "x", "outside")  # a sibling that shares the text but not the prefix
        state = EtcdClient(etcd.url).range(prefix)
        assert state.revision >= rev and state.header.revision == state.revision
        assert dict(state.kvs) == {prefix + "a": b"1", prefix + "b/c": b"2"}

    def test_txn_with_a_raw_mod_revision_compare(self, etcd: EtcdServer, prefix: str) -> None:
        """A compare on the prefix's mod_revision passes at the revision read and fails after a write."""
        client = EtcdClient(etcd.url)
        base = etcd.put(prefix + "a", "1")
        compare = [{
            "key": b64(prefix), "range_end": b64(prefix_end(prefix)),
            "target": "MOD", "result": "LESS", "mod_revision": str(base + 1),
        }]
        put = [{"request_put": {"key": b64(prefix + "a"), "value": b64("2")}}]
        ok, header, _ = client.txn(compare, put)
        assert ok and header.revision == base + 1
        ok, _, _ = client.txn(compare, put)  # the same base again: someone (we) wrote since
        assert not ok
        assert etcd.get(prefix + "a") == b"2"

    def test_lease_bound_key_disappears_on_revoke(self, etcd: EtcdServer, prefix: str) -> None:
        """A key written under a lease goes away when the lease is revoked; keepalive reports its TTL."""
        client = EtcdClient(etcd.url)
        lease = client.lease_grant(5)
        client.put(prefix + "leased", "x", lease=lease)
        assert 0 < client.lease_keepalive(lease) <= 5
        client.lease_revoke(lease)
        assert etcd.get(prefix + "leased") is None
        assert client.lease_keepalive(lease) == -1

    def test_unreachable_endpoint_raises_unavailable(self) -> None:
        """A refused connection is EtcdUnavailable naming the endpoint, after trying each endpoint once."""
        client = EtcdClient("http://127.0.0.1:9,127.0.0.1:10", timeout=0.5)
        with pytest.raises(EtcdUnavailable, match="127.0.0.1:9.*127.0.0.1:10"):
            client.range("x/")

    def test_credentials_in_the_url_never_show(self) -> None:
        """user:password in an endpoint URL is taken out of the label and the repr."""
        client = EtcdClient("http://root:hunter2@127.0.0.1:2379")
        assert "hunter2" not in client.label + repr(client)
        assert client.label == "http://127.0.0.1:2379"


class TestWatchOrder:
    """One revision is one delivery, in order, never twice."""

    def test_range_then_watch_from_next_revision(self, etcd: EtcdServer, prefix: str, recorders: list[Recorder]) -> None:
        """Writes after the range arrive one per revision; nothing before the range is delivered again."""
        etcd.put(prefix + "k", "0")
        initial = EtcdClient(etcd.url).range(prefix)
        rec = Recorder(etcd.url, prefix, initial=initial)
        recorders.append(rec)
        wait_until(rec.running)
        revs = [etcd.put(prefix + "k", str(i)) for i in range(1, 6)]
        wait_until(lambda: len(rec.states) >= 5)
        assert rec.revisions() == revs
        assert rec.values(prefix + "k") == [str(i).encode() for i in range(1, 6)]

    def test_multi_key_txn_is_one_version(self, etcd: EtcdServer, prefix: str, recorders: list[Recorder]) -> None:
        """A transaction writing three keys is delivered once, with all three keys."""
        rec = Recorder(etcd.url, prefix, initial=EtcdClient(etcd.url).range(prefix))
        recorders.append(rec)
        wait_until(rec.running)
        rev = etcd.txn_put({prefix + "a": "1", prefix + "b": "2", prefix + "c": "3"})
        wait_until(lambda: rec.states)
        time.sleep(0.2)  # room for a wrong second delivery to show up (not the proof; the count is)
        assert rec.revisions() == [rev]
        assert dict(rec.states[0].kvs) == {prefix + "a": b"1", prefix + "b": b"2", prefix + "c": b"3"}

    def test_catch_up_batch_is_split_per_revision(self, etcd: EtcdServer, prefix: str, recorders: list[Recorder]) -> None:
        """Revisions written before the watch starts arrive in one catch-up response but are delivered one by one."""
        initial = EtcdClient(etcd.url).range(prefix)
        revs = [etcd.put(prefix + "k", str(i)) for i in range(4)]
        revs.append(etcd.txn_put({prefix + "k": "last", prefix + "j": "x"}))
        rec = Recorder(etcd.url, prefix, initial=initial)
        recorders.append(rec)
        wait_until(lambda: len(rec.states) >= 5)
        assert rec.revisions() == revs
        assert rec.values(prefix + "k") == [b"0", b"1", b"2", b"3", b"last"]
        assert rec.loop.applied == revs[-1]

    def test_deletes_remove_keys(self, etcd: EtcdServer, prefix: str, recorders: list[Recorder]) -> None:
        """A DELETE event (the gateway marks only deletes with a type) removes the key from the state."""
        etcd.put(prefix + "gone", "1")
        rec = Recorder(etcd.url, prefix, initial=EtcdClient(etcd.url).range(prefix))
        recorders.append(rec)
        wait_until(rec.running)
        rev = etcd.delete(prefix + "gone")
        wait_until(lambda: rec.states)
        assert rec.states[-1].revision == rev and prefix + "gone" not in rec.states[-1].kvs

    def test_other_prefixes_are_not_delivered(self, etcd: EtcdServer, prefix: str, recorders: list[Recorder]) -> None:
        """Writes outside the prefix (including its ACK records) do not reach the loop."""
        rec = Recorder(etcd.url, prefix, initial=EtcdClient(etcd.url).range(prefix))
        recorders.append(rec)
        wait_until(rec.running)
        etcd.put(prefix.rstrip("/") + ".acks/x", "{}")
        etcd.put(prefix.rstrip("/") + "0", "sibling")
        rev = etcd.put(prefix + "mine", "1")
        wait_until(lambda: rec.states)
        assert rec.revisions() == [rev]


class TestWatchFailures:
    """Restarts, crashes, cuts, compaction, a rebuilt store and a black hole."""

    @pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["graceful", "kill-9"])
    def test_restart_mid_watch_loses_nothing(
        self, etcd_private: EtcdServer, prefix: str, recorders: list[Recorder], sig: int
    ) -> None:
        """etcd stopped (gracefully or by SIGKILL) and restarted: every write arrives once, in order."""
        etcd = etcd_private
        rec = Recorder(etcd.url, prefix, initial=EtcdClient(etcd.url).range(prefix))
        recorders.append(rec)
        wait_until(rec.running)
        revs = [etcd.put(prefix + "k", "a")]
        wait_until(lambda: len(rec.states) == 1)
        etcd.stop(sig)
        wait_until(lambda: rec.state == "degraded")
        etcd.start()
        revs += [etcd.put(prefix + "k", v) for v in ("b", "c")]
        wait_until(rec.running)
        revs.append(etcd.put(prefix + "k", "d"))
        wait_until(lambda: len(rec.states) >= 4)
        assert rec.revisions() == revs
        assert rec.values(prefix + "k") == [b"a", b"b", b"c", b"d"]

    def test_cut_with_writes_during_the_cut(self, etcd: EtcdServer, prefix: str, recorders: list[Recorder]) -> None:
        """The watcher's connection is cut while b, c, d are written; after the restore it gets all of them once."""
        with TcpProxy(etcd.client_port) as proxy:
            rec = Recorder(proxy.url, prefix, initial=EtcdClient(etcd.url).range(prefix))
            recorders.append(rec)
            wait_until(rec.running)
            revs = [etcd.put(prefix + "k", "a")]
            wait_until(lambda: len(rec.states) == 1)
            proxy.set_mode("cut")
            wait_until(lambda: rec.state == "degraded")
            revs += [etcd.put(prefix + "k", v) for v in "bcd"]
            proxy.set_mode("open")
            wait_until(rec.running)
            revs.append(etcd.put(prefix + "k", "z"))
            wait_until(lambda: len(rec.states) >= 5)
            rec.close()
            recorders.remove(rec)
        assert rec.revisions() == revs
        assert rec.values(prefix + "k") == [b"a", b"b", b"c", b"d", b"z"]

    def test_compaction_during_the_cut_resyncs(
        self, etcd_private: EtcdServer, prefix: str, recorders: list[Recorder]
    ) -> None:
        """Our next revision is compacted away during a cut: the loop re-syncs with a fresh range and goes on."""
        etcd = etcd_private
        with TcpProxy(etcd.client_port) as proxy:
            rec = Recorder(proxy.url, prefix, initial=EtcdClient(etcd.url).range(prefix))
            recorders.append(rec)
            wait_until(rec.running)
            etcd.put(prefix + "k", "a")
            wait_until(lambda: len(rec.states) == 1)
            proxy.set_mode("cut")
            wait_until(lambda: rec.state == "degraded")
            for v in "bcdef":
                etcd.put(prefix + "k", v)
            etcd.compact()
            proxy.set_mode("open")
            wait_until(lambda: rec.loop.resyncs == 1)
            wait_until(rec.running)
            last = etcd.put(prefix + "k", "z")
            wait_until(lambda: rec.states and rec.states[-1].revision == last)
            rec.close()
            recorders.remove(rec)
        assert rec.values(prefix + "k") == [b"a", b"f", b"z"]  # the re-sync delivers the latest value once
        assert rec.revisions() == sorted(set(rec.revisions()))

    def test_wiped_store_is_detected_and_resynced(
        self, etcd_private: EtcdServer, prefix: str, recorders: list[Recorder]
    ) -> None:
        """A store rebuilt from scratch (revision back near 1) is noticed from the header and read afresh."""
        etcd = etcd_private
        for i in range(10):
            etcd.put(prefix + "k", f"old{i}")
        rec = Recorder(etcd.url, prefix, initial=EtcdClient(etcd.url).range(prefix))
        recorders.append(rec)
        wait_until(rec.running)
        before = rec.loop.applied
        etcd.wipe()
        wait_until(lambda: rec.loop.resyncs == 1)
        assert rec.states[-1].revision < before and not rec.states[-1].kvs
        new = etcd.put(prefix + "k", "new")
        wait_until(lambda: rec.states[-1].revision == new)
        assert rec.states[-1].kvs[prefix + "k"] == b"new"

    def test_black_hole_is_detected_within_the_bound(
        self, etcd: EtcdServer, prefix: str, recorders: list[Recorder]
    ) -> None:
        """A connection that stays open but carries nothing is declared stalled within 3 progress intervals (+ slack)."""
        with TcpProxy(etcd.client_port) as proxy:
            rec = Recorder(proxy.url, prefix, initial=EtcdClient(etcd.url).range(prefix))
            recorders.append(rec)
            wait_until(rec.running)
            proxy.set_mode("blackhole")
            frozen = time.monotonic()
            revs = [etcd.put(prefix + "k", v) for v in "xyz"]
            bound = STALL_FACTOR * PROGRESS_INTERVAL_S
            wait_until(lambda: rec.state == "degraded", timeout=bound + 10)
            detected = [t for t, s, _ in rec.changes if s == "degraded"][0] - frozen
            reason = [r for _, s, r in rec.changes if s == "degraded"][0]
            assert detected >= bound * 0.85, detected  # not before the bound: progress kept it alive
            assert "stalled" in (reason or "")
            proxy.set_mode("open")
            wait_until(lambda: len(rec.states) >= 3)
            rec.close()
            recorders.remove(rec)
        assert rec.revisions() == revs

    def test_unreachable_at_start_then_catches_up(self, etcd_private: EtcdServer, prefix: str, recorders: list[Recorder]) -> None:
        """A loop started while etcd is down stays degraded, then catches up from its revision when etcd is back."""
        etcd = etcd_private
        initial = EtcdClient(etcd.url).range(prefix)
        etcd.stop()
        rec = Recorder(etcd.url, prefix, initial=initial)
        recorders.append(rec)
        wait_until(lambda: rec.state == "degraded")
        etcd.start()
        rev = etcd.put(prefix + "k", "v")
        wait_until(lambda: rec.states)
        assert rec.revisions() == [rev]


class TestBackoff:
    """Reconnect delays grow, stay bounded and are jittered."""

    def test_grows_to_the_maximum_with_jitter(self) -> None:
        """Each delay is between half and all of min(max, initial * 2**n); reset starts over."""
        import random

        b = Backoff(0.1, 2.0, rng=random.Random(7))
        delays = [b.next() for _ in range(8)]
        for n, d in enumerate(delays):
            cap = min(2.0, 0.1 * 2**n)
            assert cap / 2 <= d <= cap
        assert len({round(d, 6) for d in delays[-3:]}) == 3  # jittered, not constant
        b.reset()
        assert b.next() <= 0.1
