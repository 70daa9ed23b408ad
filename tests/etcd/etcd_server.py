"""A real etcd for the tests: Debian's ``etcd`` binary on free loopback ports, a temp data dir.

Test modules import the fixtures from here (``from etcd_server import etcd, prefix``): a second
``conftest.py`` would replace the suite's own ``conftest`` module that other tests import from.

Tests skip with a clear reason when no ``etcd`` binary is on PATH; ``LIVESETTINGS_REQUIRE_ETCD=1``
(set by ``.ci/run``) turns that skip into a failure. The server runs with a 1 s progress-notify
interval so that stalled connections are detected within seconds.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REQUIRE_VAR = "LIVESETTINGS_REQUIRE_ETCD"
PROGRESS_INTERVAL_S = 1.0


def _need(what: str) -> None:
    reason = f"{what}; install Debian's etcd-server (apt-get install etcd-server) to run the etcd tests"
    if os.environ.get(REQUIRE_VAR) == "1":
        pytest.fail(f"{REQUIRE_VAR}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned) or the deadline passes (fails)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


class EtcdServer:
    """One etcd process (restartable, killable, wipeable) on 127.0.0.1 only."""

    def __init__(self, root: Path) -> None:
        binary = shutil.which("etcd")
        assert binary is not None
        self.binary = binary
        self.root = root
        self.data_dir = root / "data"
        self.client_port = _free_port()
        self.peer_port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "etcd.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    def start(self) -> None:
        assert self.proc is None
        client, peer = f"http://127.0.0.1:{self.client_port}", f"http://127.0.0.1:{self.peer_port}"
        cmd = [
            self.binary, "--name", "test", "--data-dir", str(self.data_dir),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"test={peer}", "--initial-cluster-state", "new",
            "--experimental-watch-progress-notify-interval", f"{PROGRESS_INTERVAL_S:g}s",
            "--log-level", "warn",
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.wait_ready()

    def wait_ready(self, timeout: float = 20.0) -> None:
        import requests

        def healthy() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"etcd exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                return requests.get(self.url + "/health", timeout=0.5).json().get("health") == "true"
            except (requests.RequestException, ValueError):
                return False

        wait_until(healthy, timeout, 0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the process by its PID (``SIGKILL`` for a crash)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self, sig: int = signal.SIGTERM) -> None:
        self.stop(sig)
        self.start()

    def wipe(self) -> None:
        """Stop, delete the data dir, start again: a rebuilt store (same ports and member name)."""
        self.stop()
        shutil.rmtree(self.data_dir)
        self.start()

    # -- direct calls (not through the code under test) --------------------------------------
    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        import requests

        resp = requests.post(f"{self.url}/v3/{path}", data=json.dumps(body), timeout=5)
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result

    def put(self, key: str, value: str | bytes) -> int:
        """Write one key; its revision."""
        raw = value.encode() if isinstance(value, str) else value
        result = self.post("kv/put", {"key": _b64(key.encode()), "value": _b64(raw)})
        return int(result["header"]["revision"])

    def txn_put(self, items: dict[str, str]) -> int:
        """Write several keys in one transaction (one revision)."""
        ops = [{"request_put": {"key": _b64(k.encode()), "value": _b64(v.encode())}} for k, v in items.items()]
        return int(self.post("kv/txn", {"success": ops})["header"]["revision"])

    def delete(self, key: str) -> int:
        return int(self.post("kv/deleterange", {"key": _b64(key.encode())})["header"]["revision"])

    def get(self, key: str) -> bytes | None:
        kvs = self.post("kv/range", {"key": _b64(key.encode())}).get("kvs")
        return base64.b64decode(kvs[0].get("value", "")) if kvs else None

    def revision(self) -> int:
        return int(self.post("kv/range", {"key": _b64(b"\0"), "limit": 1})["header"]["revision"])

    def compact(self, revision: int | None = None) -> None:
        self.post("kv/compaction", {"revision": str(revision or self.revision()), "physical": True})

    def acks(self, prefix: str) -> dict[str, dict[str, Any]]:
        """Every ACK record under ``prefix``: instance -> record."""
        start = prefix.rstrip("/") + ".acks/"
        end = start[:-1] + chr(ord(start[-1]) + 1)
        kvs = self.post("kv/range", {"key": _b64(start.encode()), "range_end": _b64(end.encode())}).get("kvs", [])
        records = [json.loads(base64.b64decode(kv["value"])) for kv in kvs]
        return {r["instance"]: r for r in records}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _server(root: Path) -> Iterator[EtcdServer]:
    if shutil.which("etcd") is None:
        _need("no etcd binary on PATH")
    try:
        import etcd3gw  # noqa: F401
    except ImportError:
        _need("etcd3gw is not installed (pip install 'livesettings[etcd]')")
    root.mkdir(parents=True, exist_ok=True)
    server = EtcdServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    """One etcd shared by the tests that only read and write keys (each uses its own prefix)."""
    yield from _server(tmp_path_factory.mktemp("etcd"))


@pytest.fixture
def etcd_private(tmp_path: Path) -> Iterator[EtcdServer]:
    """An etcd of the test's own, for killing, restarting, compacting and wiping."""
    yield from _server(tmp_path / "etcd")


@pytest.fixture
def prefix() -> str:
    """A prefix no other test uses."""
    return f"tests/{uuid.uuid4().hex[:10]}/"
