"""``livesettings publish`` and ``livesettings fleet`` against a real etcd."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from etcd_server import EtcdServer, etcd, etcd_private, prefix  # noqa: F401 (fixtures)

from livesettings.cli import main

HERE = Path(__file__).resolve().parent
TARGET = ["etcd_app:App", "--app-dir", str(HERE)]


def publish(etcd: EtcdServer, prefix: str, *args: str) -> int:
    return main(["publish", *TARGET[:1], *args, *TARGET[1:], "--etcd", etcd.url, "--prefix", prefix])


def fleet(etcd: EtcdServer, prefix: str, *args: str) -> int:
    return main(["fleet", "--etcd", etcd.url, "--prefix", prefix, *args])


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "web.yaml"
    path.write_text("port: 9000\nname: web\ndb:\n  host: db1\n")
    return path


class TestPublish:
    """Validate locally, then write in one compare-and-swap transaction."""

    def test_valid_file_is_written_as_the_document(
        self, etcd: EtcdServer, prefix: str, config: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A valid file becomes the document key; leftover leaf keys go in the same revision."""
        etcd.put(prefix + "db/port", "1")
        assert publish(etcd, prefix, str(config)) == 0
        assert etcd.get(prefix) == config.read_bytes()
        assert etcd.get(prefix + "db/port") is None
        out = capsys.readouterr().out
        assert f"at revision {etcd.revision()}" in out

    def test_invalid_file_is_refused_with_file_line(
        self, etcd: EtcdServer, prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A type error exits 1 naming file:line and the field; nothing is written."""
        bad = tmp_path / "bad.yaml"
        bad.write_text("name: web\ndb:\n  port: 99999\n")
        before = etcd.revision()
        assert publish(etcd, prefix, str(bad)) == 1
        err = capsys.readouterr().err
        assert f"{bad}:3:" in err and "db.port" in err
        assert etcd.revision() == before

    def test_syntax_error_is_refused(self, etcd: EtcdServer, prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Broken YAML exits 1 with the line of the problem."""
        bad = tmp_path / "bad.yaml"
        bad.write_text("port: 1\nname: [unclosed\n")
        assert publish(etcd, prefix, str(bad)) == 1
        assert f"{bad}:" in capsys.readouterr().err

    def test_secrets_are_masked_in_errors(
        self, etcd: EtcdServer, prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The rejected value of a secret field never appears in the output."""
        bad = tmp_path / "bad.yaml"
        bad.write_text("api_token: s3cr3t-value\n")
        assert publish(etcd, prefix, str(bad)) == 1
        captured = capsys.readouterr()
        assert "api_token" in captured.err and "s3cr3t-value" not in captured.err + captured.out

    def test_stale_expect_revision_is_a_conflict(self, etcd: EtcdServer, prefix: str, config: Path) -> None:
        """A write since --expect-revision exits 3 and writes nothing."""
        base = etcd.put(prefix + "name", "x")
        etcd.put(prefix + "name", "y")
        assert publish(etcd, prefix, str(config), "--expect-revision", str(base)) == 3
        assert etcd.get(prefix) is None and etcd.get(prefix + "name") == b"y"

    def test_two_concurrent_publishes_exactly_one_wins(self, etcd: EtcdServer, prefix: str, tmp_path: Path) -> None:
        """Two publishes from the same base, as two processes at once: one exits 0, the other 3."""
        base = etcd.put(prefix + "name", "base")
        procs = []
        for i in range(2):
            f = tmp_path / f"c{i}.yaml"
            f.write_text(f"name: writer{i}\n")
            cmd = [sys.executable, "-m", "livesettings", "publish", *TARGET[:1], str(f), *TARGET[1:],
                   "--etcd", etcd.url, "--prefix", prefix, "--expect-revision", str(base)]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        codes = sorted(p.wait(timeout=60) for p in procs)
        for p in procs:
            assert p.stdout is not None and p.stderr is not None
            p.stdout.close()
            p.stderr.close()
        assert codes == [0, 3]
        assert etcd.get(prefix) in (b"name: writer0\n", b"name: writer1\n")

    def test_rollback_restores_an_earlier_revision(self, etcd: EtcdServer, prefix: str, config: Path, tmp_path: Path) -> None:
        """--rollback-to R makes the prefix hold exactly what it held at R, in one new revision."""
        assert publish(etcd, prefix, str(config)) == 0
        good = etcd.revision()
        other = tmp_path / "other.yaml"
        other.write_text("port: 1\n")
        assert publish(etcd, prefix, str(other)) == 0
        etcd.put(prefix + "name", "extra")
        assert publish(etcd, prefix, "--rollback-to", str(good)) == 0
        assert etcd.get(prefix) == config.read_bytes() and etcd.get(prefix + "name") is None

    def test_rollback_to_a_compacted_revision(
        self, etcd_private: EtcdServer, prefix: str, config: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A rollback to a revision etcd compacted away exits 1 and says so."""
        old = etcd_private.put(prefix + "name", "old")
        etcd_private.put(prefix + "name", "new")
        etcd_private.compact()
        assert publish(etcd_private, prefix, "--rollback-to", str(old)) == 1
        assert "compacted" in capsys.readouterr().err

    @pytest.mark.parametrize(
        "argv",
        [
            ["publish", "etcd_app:App", "--etcd", "http://127.0.0.1:9", "--prefix", "p/"],
            ["publish", "no_colon", "f.yaml", "--etcd", "http://127.0.0.1:9", "--prefix", "p/"],
            ["fleet", "--prefix", "p/"],
            ["nope"],
        ],
        ids=["no-file-no-rollback", "bad-target", "missing-etcd", "unknown-command"],
    )
    def test_usage_errors_exit_2(self, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
        """Wrong arguments exit 2 with a message."""
        assert main([*argv, "--app-dir", str(HERE)] if argv[0] == "publish" else argv) == 2
        assert capsys.readouterr().err

    def test_console_script_is_installed(self) -> None:
        """``python -m livesettings --help`` works (the console script points at the same main)."""
        out = subprocess.run([sys.executable, "-m", "livesettings", "--help"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "publish" in out.stdout


class TestFleetCommand:
    """Reading and waiting on ACK records (written here by hand, as instances would)."""

    def records(self, etcd: EtcdServer, prefix: str, **instances: tuple[int, bool]) -> None:
        for name, (revision, ok) in instances.items():
            record = {"instance": name, "revision": revision, "ok": ok, "error": None if ok else "port: bad",
                      "version": "v", "host": "h", "pid": 1, "time": "2026-01-01T00:00:00.000000Z"}
            etcd.put(prefix.rstrip("/") + ".acks/" + name, json.dumps(record))

    def test_lists_every_instance(self, etcd: EtcdServer, prefix: str, capsys: pytest.CaptureFixture[str]) -> None:
        """--json lists every record; the table shows REJECTED for a NACK."""
        self.records(etcd, prefix, a=(5, True), b=(5, False))
        assert fleet(etcd, prefix, "--json") == 0
        body = json.loads(capsys.readouterr().out)
        assert [r["instance"] for r in body["instances"]] == ["a", "b"]
        assert fleet(etcd, prefix) == 0
        table = capsys.readouterr().out
        assert "REJECTED" in table and "port: bad" in table

    def test_wait_ok_rejected_and_timeout(self, etcd: EtcdServer, prefix: str) -> None:
        """--wait-revision: 0 when all reached it, 1 when one rejected it, 1 on timeout."""
        self.records(etcd, prefix, a=(7, True), b=(6, True))
        assert fleet(etcd, prefix, "--wait-revision", "7", "--timeout", "0.3") == 1  # b is behind
        self.records(etcd, prefix, b=(7, True))
        assert fleet(etcd, prefix, "--wait-revision", "7", "--timeout", "5") == 0
        self.records(etcd, prefix, b=(8, False))
        assert fleet(etcd, prefix, "--wait-revision", "8", "--timeout", "5") == 1

    def test_no_instances_is_not_success(self, etcd: EtcdServer, prefix: str) -> None:
        """Waiting on a fleet with no records times out instead of passing vacuously."""
        assert fleet(etcd, prefix, "--wait-revision", "1", "--timeout", "0.2") == 1
