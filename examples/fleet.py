"""A fleet's config in etcd: publish a file, refuse a bad one, lose a race, roll back.

The script starts a throw-away etcd (Debian's ``etcd-server`` binary, loopback only, a temporary
data dir) and plays both sides: the operator running ``livesettings publish`` and a process of
the fleet reading its settings from etcd. See docs/fleet.md ("Running a fleet").
Run it from anywhere: ``python examples/fleet.py``. Without an ``etcd`` binary it says so and
exits 0 (or 1 when ``LIVESETTINGS_REQUIRE_ETCD=1``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from livesettings import ReloadableSettings, ReloadConfig
from livesettings.cli import main as livesettings
from livesettings.sources import EtcdSource

PREFIX = "apps/web/"


class Database(BaseModel):
    host: str = "localhost"
    pool_size: int = Field(5, ge=1, le=100)


class WebSettings(ReloadableSettings):
    reload_config = ReloadConfig(enabled=False)  # this demo reads once per instance
    workers: int = 2
    database: Database = Database()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The endpoint comes from LIVESETTINGS_ETCD_ENDPOINT (set below).
        return (init_settings, env_settings, EtcdSource(settings_cls, PREFIX, ack=False))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_etcd(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("etcd")
    assert binary is not None
    url, peer = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [binary, "--name", "demo", "--data-dir", str(data), "--listen-client-urls", url,
         "--advertise-client-urls", url, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
         "--initial-cluster", f"demo={peer}", "--experimental-watch-progress-notify-interval", "5s",
         "--log-level", "warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    import requests

    for _ in range(400):
        try:
            if requests.get(url + "/health", timeout=0.5).ok:
                return proc, url
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError("etcd did not start")


def publish(workdir: Path, url: str, *args: str) -> int:
    print(f"$ livesettings publish fleet_demo:WebSettings {' '.join(args)}")
    code = livesettings(["publish", "fleet_demo:WebSettings", *args, "--app-dir", str(workdir),
                         "--etcd", url, "--prefix", PREFIX])
    print(f"  -> exit {code}")
    return code


def main() -> int:
    if shutil.which("etcd") is None:
        print("this example needs an etcd binary on PATH (apt-get install etcd-server); skipping")
        return 1 if os.environ.get("LIVESETTINGS_REQUIRE_ETCD") == "1" else 0
    # `publish` imports the class by name (module:Class): make this script importable as fleet_demo.
    sys.modules["fleet_demo"] = types.ModuleType("fleet_demo")
    sys.modules["fleet_demo"].WebSettings = WebSettings  # type: ignore[attr-defined]
    workdir = Path(tempfile.mkdtemp(prefix="livesettings-fleet-"))
    proc, url = start_etcd(workdir / "etcd")
    os.environ["LIVESETTINGS_ETCD_ENDPOINT"] = url
    try:
        good = workdir / "web.yaml"
        good.write_text("workers: 8\ndatabase:\n  host: db.internal\n  pool_size: 20\n")
        assert publish(workdir, url, str(good)) == 0
        first = WebSettings()
        print(f"an instance started now: workers={first.workers}, pool_size={first.database.pool_size}")
        first.close()

        bad = workdir / "bad.yaml"
        bad.write_text("workers: 8\ndatabase:\n  pool_size: 500\n")
        assert publish(workdir, url, str(bad)) == 1  # refused locally, nothing written

        # Two operators both based their change on the revision the fleet is at now: one loses.
        import requests

        base = int(requests.post(url + "/v3/kv/range", json={"key": "AA=="}, timeout=5).json()["header"]["revision"])
        base_rev = str(base)
        more = workdir / "more.yaml"
        more.write_text("workers: 16\n")
        assert publish(workdir, url, str(more), "--expect-revision", base_rev) == 0
        assert publish(workdir, url, str(good), "--expect-revision", base_rev) == 3  # conflict

        assert publish(workdir, url, "--rollback-to", base_rev) == 0
        after = WebSettings()
        print(f"after the rollback: workers={after.workers}, pool_size={after.database.pool_size}")
        assert after.workers == 8
        after.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
