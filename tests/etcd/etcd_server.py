"""A real etcd for the tests: Debian's ``etcd`` binary on free loopback ports, a temp data dir.

Test modules import the fixtures from here (``from etcd_server import etcd, prefix``): a second
``conftest.py`` would replace the suite's own ``conftest`` module that other tests import from.

Tests skip with a clear reason when no ``etcd`` binary is on PATH; ``LIVESETTINGS_REQUIRE_ETCD=1``
(set by ``.ci/run``) turns that skip into a failure. The server runs with a 1 s progress-notify
interval so that stalled connections are detected within seconds.

``etcd_tls`` serves https with a throwaway CA (``etcd_pki.Authority``) and requires client
certificates; ``EtcdServer.enable_auth`` turns on etcd's users (through the gateway's
``/v3/auth/*`` calls, no ``etcdctl`` needed). The harness's own calls then use the root user.
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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


@dataclass
class ServerTls:
    """TLS for an ``EtcdServer``: its certificate, the CA(s) its clients' certificates must chain
    to (``--trusted-ca-file`` with ``--client-cert-auth``), and what the harness's own calls use."""

    cert: Path
    key: Path
    trusted_ca: Path
    verify: Path  # the CA bundle the harness verifies the server with
    client_cert: Path
    client_key: Path


class EtcdServer:
    """One etcd process (restartable, killable, wipeable) on 127.0.0.1 only."""

    def __init__(self, root: Path, *, tls: ServerTls | None = None, extra_args: Sequence[str] = ()) -> None:
        binary = shutil.which("etcd")
        assert binary is not None
        self.binary = binary
        self.root = root
        self.data_dir = root / "data"
        self.client_port = _free_port()
        self.peer_port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "etcd.log"
        self.tls = tls  # may be changed between restarts (a rotated certificate)
        self.extra_args = list(extra_args)
        self.root_password: str | None = None  # set by enable_auth: the harness's calls log in as root
        self._token: str | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.client_port}"

    def start(self) -> None:
        assert self.proc is None
        client, peer = self.url, f"http://127.0.0.1:{self.peer_port}"
        cmd = [
            self.binary, "--name", "test", "--data-dir", str(self.data_dir),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"test={peer}", "--initial-cluster-state", "new",
            "--experimental-watch-progress-notify-interval", f"{PROGRESS_INTERVAL_S:g}s",
            "--log-level", "warn", *self.extra_args,
        ]
        if self.tls is not None:
            cmd += [
                "--cert-file", str(self.tls.cert), "--key-file", str(self.tls.key),
                "--trusted-ca-file", str(self.tls.trusted_ca), "--client-cert-auth",
            ]
        self._token = None  # a restarted etcd forgets every token
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.wait_ready()

    def _session(self) -> Any:
        import requests

        session = requests.Session()
        session.trust_env = False  # no REQUESTS_CA_BUNDLE, no proxies: exactly the files below
        if self.tls is not None:
            session.verify = str(self.tls.verify)
            session.cert = (str(self.tls.client_cert), str(self.tls.client_key))
        return session

    def wait_ready(self, timeout: float = 20.0) -> None:
        import requests

        session = self._session()

        def healthy() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"etcd exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                return bool(session.get(self.url + "/health", timeout=0.5).json().get("health") == "true")
            except (requests.RequestException, ValueError):
                return False

        try:
            wait_until(healthy, timeout, 0.05)
        finally:
            session.close()

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
    def post(self, path: str, body: dict[str, Any], *, token: str | None = None) -> dict[str, Any]:
        """One gateway call (as root once auth is enabled; ``token`` overrides)."""
        with self._session() as session:
            for attempt in range(2):
                headers = {}
                if token is not None:
                    headers["Authorization"] = token
                elif self.root_password is not None:
                    if self._token is None:
                        self._token = self.authenticate("root", self.root_password)
                    headers["Authorization"] = self._token
                resp = session.post(f"{self.url}/v3/{path}", data=json.dumps(body), headers=headers, timeout=5)
                if resp.status_code == 401 and attempt == 0 and token is None and self.root_password is not None:
                    self._token = None
                    continue
                if resp.status_code != 200:
                    raise AssertionError(f"etcd {path}: HTTP {resp.status_code}: {resp.text[:500]}")
                result: dict[str, Any] = resp.json()
                return result
        raise AssertionError("unreachable")

    # -- users (etcd's auth) -------------------------------------------------------------------
    def authenticate(self, name: str, password: str) -> str:
        """A token for ``name`` (raises on a wrong password)."""
        with self._session() as session:
            resp = session.post(f"{self.url}/v3/auth/authenticate", data=json.dumps({"name": name, "password": password}), timeout=5)
        if resp.status_code != 200:
            raise AssertionError(f"etcd refused {name}: {resp.text[:300]}")
        return str(resp.json()["token"])

    def add_user(self, name: str, password: str, *, read: Sequence[str] = (), readwrite: Sequence[str] = ()) -> None:
        """A user with a role of its own that may read the prefixes ``read`` and write ``readwrite``."""
        self.post("auth/user/add", {"name": name, "password": password})
        self.post("auth/role/add", {"name": name})
        for perm, prefixes in (("READ", read), ("READWRITE", readwrite)):
            for p in prefixes:
                end = p[:-1] + chr(ord(p[-1]) + 1)
                self.post("auth/role/grant", {"name": name, "perm": {
                    "permType": perm, "key": _b64(p.encode()), "range_end": _b64(end.encode()),
                }})
        self.post("auth/user/grant", {"user": name, "role": name})

    def change_password(self, name: str, password: str) -> None:
        """Set a user's password (etcd also drops every token it had given that user)."""
        self.post("auth/user/changepw", {"name": name, "password": password})

    def enable_auth(self, root_password: str = "root-secret") -> None:
        """Create root (with the root role) and turn auth on; the harness logs in as root from now on."""
        self.post("auth/user/add", {"name": "root", "password": root_password})
        self.post("auth/role/add", {"name": "root"})
        self.post("auth/user/grant", {"user": "root", "role": "root"})
        self.post("auth/enable", {})
        self.root_password = root_password

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


def _server(root: Path, **options: Any) -> Iterator[EtcdServer]:
    if shutil.which("etcd") is None:
        _need("no etcd binary on PATH")
    try:
        import etcd3gw  # noqa: F401
    except ImportError:
        _need("etcd3gw is not installed (pip install 'livesettings[etcd]')")
    root.mkdir(parents=True, exist_ok=True)
    server = EtcdServer(root, **options)
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


@dataclass
class TlsSetup:
    """The certificates of a TLS test: a CA, another CA nobody trusts, and what each issued."""

    ca: Any  # etcd_pki.Authority
    other: Any  # etcd_pki.Authority: a CA the client does not trust
    server: Any  # etcd_pki.Pair, signed by ca
    client: Any  # etcd_pki.Pair, signed by ca (the application's certificate)
    both: Path  # a bundle of both CAs (the harness trusts either server certificate)


@pytest.fixture
def tls_setup(tmp_path: Path) -> TlsSetup:
    """Throwaway certificates in a temp dir."""
    from etcd_pki import Authority

    ca, other = Authority(tmp_path / "pki"), Authority(tmp_path / "pki", "other-ca")
    both = tmp_path / "pki" / "both.pem"
    both.write_bytes(ca.ca_file.read_bytes() + other.ca_file.read_bytes())
    return TlsSetup(ca, other, ca.issue("server", server=True), ca.issue("app"), both)


@pytest.fixture
def etcd_tls(tmp_path: Path, tls_setup: TlsSetup) -> Iterator[EtcdServer]:
    """An etcd of the test's own on https://127.0.0.1, requiring a client certificate from ``tls_setup.ca``."""
    harness = tls_setup.ca.issue("harness")
    tls = ServerTls(
        cert=tls_setup.server.cert, key=tls_setup.server.key, trusted_ca=tls_setup.ca.ca_file,
        verify=tls_setup.both, client_cert=harness.cert, client_key=harness.key,
    )
    yield from _server(tmp_path / "etcd", tls=tls)
