"""etcd put → applied in every watching process, beside the raw gateway watch, in one run on one etcd.

One job per fleet size N (1, 10, 50). Each job starts its own etcd (Debian's ``etcd`` binary,
loopback, temp data dir) and two fleets of N processes:

* **raw**: a bare streaming ``POST /v3/watch`` per process (requests), reporting as soon as an
  event message is parsed: the floor;
* **livesettings**: a ``ReloadableSettings`` with ``EtcdSource`` per process, watching on (the
  engine starts the etcd feed, as in any application), reporting from a
  ``settings.watch("value", ...)`` handler, i.e. after the feed delivered the revision, the
  source decoded it, pydantic validated it and the new version was swapped in. ACK records are
  off (they are written after the apply, and on the cores the other processes are applying on;
  ``BENCH_ETCD_ACK=1`` turns them on to measure that).

Both fleets have N processes: the raw floor is N watchers in N processes too, so the overhead
compares like with like. Trials alternate between the two fleets (each on its own prefix), so
both see the same machine load; a trial's latency runs from just before the put to the last of
the N reports (the clock is ``CLOCK_MONOTONIC``, shared by all processes).

Each report also carries when that process's feed handed the revision over (the raw watcher:
when it parsed the event) and the process's CPU time since its previous report. When N
processes share fewer cores, the last one can only finish after about N × (CPU per update) /
cores: the breakdown table prints that floor for the extra CPU livesettings spends per update.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench._util import ROOT, Check, Job, Report, Table, fmt_ms, median, module_main, percentile, progress, verdict

SIZES = (1, 10, 50)
TRIAL_TIMEOUT_S = 10.0
TARGET_P50_OVERHEAD_S = {1: 0.001, 50: 0.002}
ACK_ENV = "BENCH_ETCD_ACK"  # =1: the livesettings workers write their ACK records (off by default, see above)


def jobs(quick: bool) -> list[Job]:
    return [Job(str(n), timeout_s=300) for n in SIZES]


# --------------------------------------------------------------------------------------- etcd server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Etcd:
    """A throw-away etcd on loopback, stopped by PID."""

    def __init__(self) -> None:
        binary = shutil.which("etcd")
        if binary is None:
            raise RuntimeError("no etcd binary on PATH (apt-get install etcd-server)")
        self.dir = Path(tempfile.mkdtemp(prefix="bench-etcd-"))
        port, peer = _free_port(), _free_port()
        self.url = f"http://127.0.0.1:{port}"
        p = f"http://127.0.0.1:{peer}"
        self.proc = subprocess.Popen(
            [binary, "--name", "bench", "--data-dir", str(self.dir / "data"),
             "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
             "--listen-peer-urls", p, "--initial-advertise-peer-urls", p, "--initial-cluster", f"bench={p}",
             "--experimental-watch-progress-notify-interval", "5s", "--log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import requests

        self.session = requests.Session()
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.session.get(self.url + "/health", timeout=0.5).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("etcd did not start")
            time.sleep(0.05)

    def put(self, key: str, value: str) -> int:
        body = {"key": base64.b64encode(key.encode()).decode(), "value": base64.b64encode(value.encode()).decode()}
        resp = self.session.post(self.url + "/v3/kv/put", json=body, timeout=5)
        return int(resp.json()["header"]["revision"])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------------------------------- workers


def _worker_raw(endpoint: str, prefix: str) -> None:
    import requests

    def exit_on_eof() -> None:
        sys.stdin.read()  # the parent closed our stdin
        os._exit(0)

    threading.Thread(target=exit_on_eof, daemon=True).start()

    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    body = {"create_request": {"key": b64(prefix), "range_end": b64(end), "progress_notify": True}}
    resp = requests.post(endpoint + "/v3/watch", json=body, stream=True, timeout=(5, None))
    buf = b""
    cpu = time.process_time_ns()
    for chunk in resp.iter_content(chunk_size=None):
        buf += chunk
        while b"\n" in buf:
            line, _, buf = buf.partition(b"\n")
            now = time.monotonic_ns()
            result = json.loads(line).get("result", {})
            if result.get("created"):
                print("ready", flush=True)
                cpu = time.process_time_ns()
            for event in result.get("events", ()):
                # received = done: the floor; CPU: this process's, since the previous report
                spent, cpu = -cpu, time.process_time_ns()
                print(f"{event['kv']['mod_revision']} {now} {now} {spent + cpu}", flush=True)
                break


def _worker_ours(endpoint: str, prefix: str) -> None:
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

    from livesettings import ReloadableSettings, ReloadConfig
    from livesettings.sources import EtcdSource

    ack = os.environ.get(ACK_ENV) == "1"

    class App(ReloadableSettings):
        reload_config = ReloadConfig(enabled=True)
        value: int = 0
        name: str = "bench"
        port: int = 8000

        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, EtcdSource(settings_cls, prefix, endpoint, ack=ack, progress_interval=5.0))

    delivered = [0]
    cpu = [0]
    settings = App()
    (feed,) = _feeds(settings)

    def applied(diff: object) -> None:
        now = time.monotonic_ns()
        spent, cpu[0] = -cpu[0], time.process_time_ns()
        print(f"{feed.current()} {now} {delivered[0]} {spent + cpu[0]}", flush=True)

    settings.watch("value", applied)
    # The engine started the feed; stamp the moment it hands a revision over (bench only: a
    # private attribute, wrapped before the first put).
    reload = feed._on_change

    def on_change() -> None:
        delivered[0] = time.monotonic_ns()  # the feed parsed the revision and hands it over
        reload()

    feed._on_change = on_change
    while not (feed.status is not None and feed.status.state == "running"):
        time.sleep(0.005)
    cpu[0] = time.process_time_ns()
    print("ready", flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    settings.close()


def _feeds(settings: Any) -> list[Any]:
    """The change feeds the engine started for ``settings`` (the etcd one)."""
    engine = settings._ls_engine
    return [engine.feeds.get(key) for key in engine.loader.feeds() if engine.feeds.get(key) is not None]


# -------------------------------------------------------------------------------------------- parent


class Fleet:
    """N worker processes of one kind; collects (revision -> report times)."""

    def __init__(self, kind: str, endpoint: str, prefix: str, n: int) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        self.n = n
        self.reports: dict[int, list[tuple[int, int, int]]] = {}  # revision -> (done, received, cpu ns)
        self.ready = 0
        self.cond = threading.Condition()
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-m", "bench.etcd", "--worker", kind, endpoint, prefix],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT,
            )
            for _ in range(n)
        ]
        self.threads = [threading.Thread(target=self._read, args=(p,), daemon=True) for p in self.procs]
        for t in self.threads:
            t.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self.cond:
                if line.startswith("ready"):
                    self.ready += 1
                else:
                    rev, done, received, cpu = (int(x) for x in line.split())
                    self.reports.setdefault(rev, []).append((done, received, cpu))
                self.cond.notify_all()

    def wait_ready(self) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.ready >= self.n, timeout=120):
                raise RuntimeError(f"only {self.ready}/{self.n} workers started")

    def wait(self, revision: int) -> list[tuple[int, int, int]] | None:
        """The N reports (done, received, cpu ns) for ``revision`` once all arrived; None on timeout."""
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.reports.get(revision, ())) >= self.n, timeout=TRIAL_TIMEOUT_S):
                return None
            return list(self.reports[revision])

    def stop(self) -> None:
        for p in self.procs:
            assert p.stdin is not None
            try:
                p.stdin.close()
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for t in self.threads:
            t.join(timeout=5)


def run_job(name: str, quick: bool) -> dict[str, Any]:
    n = int(name)
    trials = 20 if quick else (100 if n < 50 else 60)
    etcd = Etcd()
    fleets: dict[str, Fleet] = {}
    try:
        fleets = {kind: Fleet(kind, etcd.url, f"bench/{kind}/", n) for kind in ("raw", "ours")}
        for f in fleets.values():
            f.wait_ready()
        progress(f"etcd: {n} + {n} workers ready")
        samples: dict[str, list[float]] = {"raw": [], "ours": []}
        # per trial: the last process to receive the revision, the median process's CPU per update
        received: dict[str, list[float]] = {"raw": [], "ours": []}
        cpu: dict[str, list[float]] = {"raw": [], "ours": []}
        misses = {"raw": 0, "ours": 0}
        for i in range(5 + trials):
            order = ("raw", "ours") if i % 2 else ("ours", "raw")
            for kind in order:
                t0 = time.monotonic_ns()
                rev = etcd.put(f"bench/{kind}/value", str(i + 1))
                done = fleets[kind].wait(rev)
                if i < 5:
                    continue  # warm-up
                if done is None:
                    misses[kind] += 1
                else:
                    samples[kind].append((max(r[0] for r in done) - t0) / 1e9)
                    received[kind].append((max(r[1] for r in done) - t0) / 1e9)
                    cpu[kind].append(median(r[2] for r in done) / 1e9)
                time.sleep(0.01)
        return {"n": n, "samples": samples, "received": received, "cpu": cpu, "misses": misses,
                "cores": os.cpu_count() or 1}
    finally:
        for f in fleets.values():
            f.stop()
        etcd.stop()


def render(results: list[dict[str, Any]], quick: bool) -> Report:
    rows, checks = [], []
    for res in sorted(results, key=lambda r: r["n"]):
        n, s = res["n"], res["samples"]
        raw50, raw99 = percentile(s["raw"], 50), percentile(s["raw"], 99)
        ours50, ours99 = percentile(s["ours"], 50), percentile(s["ours"], 99)
        overhead = ours50 - raw50
        target = TARGET_P50_OVERHEAD_S.get(n)
        ok = None if target is None else overhead <= target
        rows.append([
            str(n), fmt_ms(raw50), fmt_ms(raw99), fmt_ms(ours50), fmt_ms(ours99), fmt_ms(overhead),
            f"{ours50 / raw50:.2f}×" if raw50 else "–", f"{res['misses']['raw']}/{res['misses']['ours']}", verdict(ok),
        ])
        if target is not None:
            checks.append(Check(
                f"etcd put → applied in all {n} process(es), overhead over the raw watch (p50 ms)",
                fmt_ms(overhead), f"≤ {target * 1e3:g}", ok,
            ))
    table = Table(
        "etcd put → applied in every process (ms)",
        ["processes", "raw p50", "raw p99", "livesettings p50", "livesettings p99", "overhead p50", "ratio p50",
         "missed raw/ours", "verdict"],
        rows,
        notes=[
            "raw: a bare streaming /v3/watch per process; livesettings: feed → source → validate → swap → handler.",
            "Both fleets have N processes and run at once on the same etcd; trials alternate between them.",
            "With N above the core count the overhead is CPU: see the next table.",
            f"median of medians across sizes: {fmt_ms(median(percentile(r['samples']['ours'], 50) for r in results))} ms",
        ],
    )
    breakdown = []
    for res in sorted(results, key=lambda r: r["n"]):
        if "cpu" not in res:
            continue
        n, cores = res["n"], res["cores"]
        cpu = {k: median(v) for k, v in res["cpu"].items()}
        extra = cpu["ours"] - cpu["raw"]
        breakdown.append([
            str(n), fmt_ms(percentile(res["received"]["raw"], 50)), fmt_ms(percentile(res["received"]["ours"], 50)),
            fmt_ms(percentile(res["samples"]["ours"], 50)), fmt_ms(cpu["raw"]), fmt_ms(cpu["ours"]), fmt_ms(extra),
            fmt_ms(extra * n / min(n, cores)),
        ])
    tables = [table]
    if breakdown:
        tables.append(Table(
            "etcd: where the time goes (ms, p50 over trials)",
            ["processes", "raw: last received", "ours: last handed to reload", "ours: last applied",
             "raw CPU/update/process", "ours CPU/update/process", "extra CPU/update/process",
             "extra CPU × N / cores"],
            breakdown,
            notes=[
                "last received / handed / applied: after the put, of the N processes the last one to get there.",
                "CPU/update/process: the median process's CPU time (all its threads) from one update's report to "
                "the next (the raw watcher's floor: read the stream, parse the JSON, print).",
                "extra CPU × N / cores: what the fleet's extra work costs in wall time when N processes share the "
                "cores: the overhead's floor from CPU alone.",
            ],
        ))
    return Report(tables, checks)


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "--worker":
        kind, endpoint, prefix = sys.argv[2:5]
        (_worker_raw if kind == "raw" else _worker_ours)(endpoint, prefix)
    else:
        module_main("etcd")
