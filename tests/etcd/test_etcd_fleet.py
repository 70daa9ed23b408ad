"""A fleet of real processes on one etcd: convergence, NACKs, a crashed store, dead instances."""

from __future__ import annotations

import contextlib
import io
import json
import signal
from pathlib import Path

import pytest
from etcd_server import PROGRESS_INTERVAL_S, EtcdServer, wait_until, etcd, etcd_private, prefix  # noqa: F401 (fixtures)
from etcd_harness import Fleet, Member
from etcd_proxy import TcpProxy

from livesettings._etcd.watch import STALL_FACTOR
from livesettings.cli import main

HERE = Path(__file__).resolve().parent


def publish_file(etcd: EtcdServer, prefix: str, path: Path) -> int:
    """Publish through the CLI; the revision it wrote (ACK records bump the store revision too)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["publish", "etcd_app:App", str(path), "--app-dir", str(HERE), "--etcd", etcd.url,
                     "--prefix", prefix, "--json"])
    assert code == 0, out.getvalue()
    return int(json.loads(out.getvalue())["revision"])


def wait_fleet(etcd: EtcdServer, prefix: str, revision: int, timeout: float = 20) -> int:
    return main(["fleet", "--etcd", etcd.url, "--prefix", prefix, "--wait-revision", str(revision),
                 "--timeout", str(timeout)])


class TestFleet:
    """Several processes following one prefix."""

    def test_processes_converge_and_ack(self, etcd: EtcdServer, prefix: str, tmp_path: Path) -> None:
        """Three processes apply a published file and `fleet --wait-revision` sees all of them ACK it."""
        etcd.put(prefix + "port", "1")
        with Fleet(etcd.url, prefix, 3) as fleet:
            fleet.wait_ready()
            wait_until(lambda: len(etcd.acks(prefix)) == 3)
            path = tmp_path / "web.yaml"
            path.write_text("port: 2\nname: converged\n")
            revision = publish_file(etcd, prefix, path)
            assert wait_fleet(etcd, prefix, revision) == 0
            for m in fleet.members:
                wait_until(lambda m=m: m.of("applied"))
                assert m.of("applied")[-1]["port"] == 2 and m.of("applied")[-1]["name"] == "converged"
            records = etcd.acks(prefix)
            assert {r["revision"] for r in records.values()} == {revision}
            assert all(r["ok"] for r in records.values())

    def test_bad_revision_is_nacked_by_all_and_last_good_kept(self, etcd: EtcdServer, prefix: str) -> None:
        """A bad value written behind publish's back is rejected by every process; they keep serving the old one."""
        etcd.put(prefix + "port", "1")
        with Fleet(etcd.url, prefix, 3) as fleet:
            fleet.wait_ready()
            bad = etcd.put(prefix + "db/port", "99999")  # out of range for Db.port
            assert wait_fleet(etcd, prefix, bad) == 1
            records = wait_until(lambda: (r := etcd.acks(prefix)) and all(x["revision"] == bad for x in r.values()) and r)
            assert len(records) == 3
            assert all(not r["ok"] and "db.port" in r["error"] for r in records.values())
            assert all(not m.of("applied") for m in fleet.members)  # nothing was applied
            good = etcd.put(prefix + "db/port", "6543")
            assert wait_fleet(etcd, prefix, good) == 0

    def test_etcd_killed_and_restarted_mid_watch(self, etcd_private: EtcdServer, prefix: str) -> None:
        """etcd SIGKILLed and restarted: each process applies every write once, in order."""
        etcd = etcd_private
        etcd.put(prefix + "port", "100")
        with Fleet(etcd.url, prefix, 2) as fleet:
            fleet.wait_ready()
            revisions = [etcd.put(prefix + "port", "101")]
            wait_until(lambda: all(m.of("applied") for m in fleet.members))
            etcd.stop(signal.SIGKILL)
            etcd.start()
            revisions += [etcd.put(prefix + "port", str(p)) for p in (102, 103)]
            assert wait_fleet(etcd, prefix, revisions[-1]) == 0
            for m in fleet.members:
                applied = m.of("applied")
                assert [a["port"] for a in applied] == [101, 102, 103]
                assert [int(a["revision"]) for a in applied] == revisions

    def test_cut_with_writes_and_compaction_during_the_cut(self, etcd_private: EtcdServer, prefix: str) -> None:
        """A process cut off (proxy) while etcd takes writes and compacts them re-syncs to the latest and ACKs it."""
        etcd = etcd_private
        etcd.put(prefix + "port", "1")
        with TcpProxy(etcd.client_port) as proxy:
            member = Member(proxy.url, prefix, "cut0")
            try:
                wait_until(lambda: member.ready, timeout=30)
                wait_until(lambda: "cut0" in etcd.acks(prefix))
                proxy.set_mode("cut")
                last = 0
                for port in (2, 3, 4):
                    last = etcd.put(prefix + "port", str(port))
                etcd.compact()
                proxy.set_mode("open")
                # The re-sync reads the whole prefix and ACKs the revision of that read. It is past
                # `last` when this process's own ACK writer put its record again before the read (seen
                # once in CI: ACK of 7 for last 6); every revision >= last has port 4, and
                # `fleet --wait` counts it as acknowledged.
                acked = lambda: int(etcd.acks(prefix).get("cut0", {}).get("revision", 0))  # noqa: E731
                try:
                    wait_until(lambda: acked() >= last, timeout=40)
                except AssertionError:  # say what the member saw
                    raise AssertionError(
                        f"no ACK of {last}: acks={etcd.acks(prefix)} events={member.events[-8:]} stderr={member.stop()[-2000:]}"
                    ) from None
                assert member.of("applied")[-1]["port"] == 4
                assert [a["port"] for a in member.of("applied")] == [4]  # one re-sync, no replay of compacted ones
            finally:
                member.stop()

    @pytest.mark.parametrize("hole", ["flow", "network"])
    def test_black_hole_in_a_fleet_process(self, etcd: EtcdServer, prefix: str, hole: str) -> None:
        """A member process's connections go silent without closing, and a revision is published meanwhile.

        ``flow``: only the open connections die (a dropped NAT entry); new ones work. ``network``:
        every connection, new ones too, until the hole is lifted. Either way the process finds out
        from its read timeout (3 progress intervals of silence), keeps its last good config,
        re-creates the watch from its last revision + 1 and applies the revision written during the
        hole, once, and ACKs it.
        """
        bound = STALL_FACTOR * PROGRESS_INTERVAL_S
        first = etcd.put(prefix + "port", "1")
        with TcpProxy(etcd.client_port) as proxy:
            member = Member(proxy.url, prefix, "hole0")
            try:
                wait_until(lambda: member.ready, timeout=30)
                wait_until(lambda: etcd.acks(prefix).get("hole0", {}).get("revision") == first)
                if hole == "flow":
                    assert proxy.freeze_existing() >= 1  # the watch (and the ACK writer's connection)
                else:
                    proxy.set_mode("blackhole")
                during = etcd.put(prefix + "port", "2")
                stalled = wait_until(
                    lambda: [e for e in member.of("log") if "stalled" in e["message"]], timeout=bound + 10
                )
                assert "etcd watch" in stalled[0]["message"] and stalled[0]["level"] == "WARNING"
                if hole == "network":
                    assert not member.of("applied")  # nothing gets through: the last good config serves
                    proxy.set_mode("open")
                wait_until(lambda: member.of("applied"), timeout=bound + 10)
                record = wait_until(lambda: (r := etcd.acks(prefix).get("hole0")) and r["revision"] == during and r)
                assert record["ok"] is True
                assert [(a["revision"], a["port"]) for a in member.of("applied")] == [(str(during), 2)]
                assert any("re-established" in e["message"] for e in member.of("log"))
            finally:
                err = member.stop()
        assert "Traceback" not in err, err

    def test_wiped_store_keeps_last_good_then_follows(self, etcd_private: EtcdServer, prefix: str, tmp_path: Path) -> None:
        """After the store is rebuilt empty the process keeps its config (NACKs the empty prefix), then applies a new publish."""
        etcd = etcd_private
        for port in range(10, 20):
            etcd.put(prefix + "port", str(port))
        with Fleet(etcd.url, prefix, 1) as fleet:
            fleet.wait_ready()
            member = fleet.members[0]
            etcd.wipe()
            record = wait_until(lambda: (r := etcd.acks(prefix).get("m0")) and not r["ok"] and r, timeout=20)
            assert "wiped" in record["error"]
            assert not member.of("applied")
            path = tmp_path / "web.yaml"
            path.write_text("port: 42\n")
            revision = publish_file(etcd, prefix, path)
            assert wait_fleet(etcd, prefix, revision) == 0
            assert member.of("applied")[-1]["port"] == 42

    def test_dead_process_record_disappears(self, etcd: EtcdServer, prefix: str) -> None:
        """A SIGKILLed process's record goes away when its lease expires; a closed one's at once."""
        etcd.put(prefix + "port", "1")
        with Fleet(etcd.url, prefix, 2) as fleet:
            fleet.wait_ready()
            wait_until(lambda: set(etcd.acks(prefix)) == {"m0", "m1"})
            killed, closed = fleet.members
            killed.proc.send_signal(signal.SIGKILL)
            closed.stop()
            assert "m1" not in etcd.acks(prefix)
            wait_until(lambda: "m0" not in etcd.acks(prefix), timeout=20)  # lease TTL 5 s

    def test_engine_mode_member_acks(self, etcd: EtcdServer, prefix: str) -> None:
        """A process using hot reload alone (no driver) applies and ACKs a put."""
        etcd.put(prefix + "port", "1")
        member = Member(etcd.url, prefix, "engine0", mode="engine")
        try:
            wait_until(lambda: member.ready, timeout=30)
            revision = etcd.put(prefix + "port", "2")
            wait_until(lambda: etcd.acks(prefix).get("engine0", {}).get("revision") == revision, timeout=3)
        finally:
            member.stop()
