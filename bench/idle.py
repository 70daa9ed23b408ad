"""Idle cost of watching: CPU time and wakeups of a process holding 0, 1, 3 or 10 watched settings objects.

Each configuration is its own process (same imports, same generated 100-leaf model, one YAML file
per settings object in its own directory, default ``ReloadConfig``: watching on, 100 ms debounce).
After a short settle, the process sleeps for the measured window and reads
``getrusage(RUSAGE_SELF)`` (all threads) before and after: CPU = user + system time,
wakeups = voluntary context switches. All processes of all rounds run concurrently (they are idle,
and CPU time is counted per process); the table gives the median over rounds, and the extra cost
over the 0-object baseline.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench._util import (
    ROOT,
    Check,
    Job,
    Report,
    Table,
    fmt_int,
    median,
    module_main,
    progress,
    verdict,
)

COUNTS = (0, 1, 3, 10)
CPU_TARGET_PCT = 0.01


def jobs(quick: bool) -> list[Job]:
    return [Job("idle", timeout_s=90)]


def _child(count: int, duration: float) -> dict[str, Any]:
    import gc

    from pydantic_settings import SettingsConfigDict

    from bench._util import Spec, dump_yaml, gen_data, gen_fields, livesettings_class
    from livesettings import ReloadConfig

    spec = Spec(100)
    fields = gen_fields(spec)
    root = Path(tempfile.mkdtemp(prefix=f"bench-idle-{count}-"))
    objects = []
    for i in range(max(count, 1)):  # the baseline writes a file too, but creates no settings object
        d = root / f"s{i}"
        d.mkdir()
        (d / "config.yaml").write_text(dump_yaml(gen_data(spec)))
        if i < count:
            cls = livesettings_class(
                fields,
                model_config=SettingsConfigDict(yaml_file=str(d / "config.yaml")),
                reload_config=ReloadConfig(),
            )
            s = cls()
            assert s._ls_engine.watcher is not None, "not watching (production environment?)"
            objects.append(s)
    gc.collect()
    time.sleep(0.5)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    time.sleep(duration)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.monotonic() - t0
    threads = threading.active_count()
    for s in objects:
        s.close()
    return {
        "count": count,
        "wall_s": wall,
        "cpu_s": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
        "nvcsw": r1.ru_nvcsw - r0.ru_nvcsw,
        "nivcsw": r1.ru_nivcsw - r0.ru_nivcsw,
        "threads": threads,
    }


def run_job(name: str, quick: bool) -> dict[str, Any]:
    if name.startswith("child:"):
        _, count, duration = name.split(":")
        return _child(int(count), float(duration))
    rounds, duration = (1, 2.0) if quick else (3, 10.0)
    runs: dict[int, list[dict[str, Any]]] = {c: [] for c in COUNTS}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    procs = []
    for _ in range(rounds):  # every process of every round at once: they are idle while measured
        for count in COUNTS:
            out = Path(tempfile.mkstemp(suffix=".json")[1])
            cmd = [
                sys.executable,
                "-m",
                "bench.idle",
                "--job",
                f"child:{count}:{duration}",
                "--json",
                str(out),
            ]
            procs.append((count, out, subprocess.Popen(cmd, cwd=ROOT, env=env)))
    for count, out, proc in procs:
        proc.wait(timeout=duration + 60)
        if proc.returncode == 0:
            runs[count].append(json.loads(out.read_text()))
        out.unlink(missing_ok=True)
    progress(f"idle: {len(procs)} processes done")
    return {"duration_s": duration, "rounds": rounds, "runs": {str(k): v for k, v in runs.items()}}


def render(results: list[dict[str, Any]], quick: bool) -> Report:
    res = results[0]
    runs = {int(k): v for k, v in res["runs"].items()}
    duration = res["duration_s"]
    med = {c: {k: median(r[k] for r in runs[c]) for k in ("cpu_s", "nvcsw", "nivcsw", "wall_s", "threads")}
           for c in COUNTS if runs[c]}  # fmt: skip
    base = med.get(0)
    rows = []
    checks: list[Check] = []
    for c in COUNTS:
        if c not in med:
            rows.append([str(c), "failed", "", "", "", "", "", "", ""])
            continue
        m = med[c]
        extra_cpu = m["cpu_s"] - base["cpu_s"] if base else float("nan")
        pct = 100 * max(extra_cpu, 0.0) / m["wall_s"]
        extra_wakeups = (m["nvcsw"] - base["nvcsw"]) / m["wall_s"] if base else float("nan")
        ok = None
        if c > 0:
            ok = pct <= CPU_TARGET_PCT
            checks.append(
                Check(
                    f"idle CPU over baseline, {c} watched object(s)",
                    f"{pct:.4f} %",
                    f"≤ {CPU_TARGET_PCT} % of a core",
                    ok,
                )
            )
        rows.append([
            "baseline (none)" if c == 0 else str(c), f"{m['cpu_s'] * 1e3:.2f}", f"{extra_cpu * 1e3:+.2f}" if c else "",
            f"{pct:.4f} %" if c else "", fmt_int(m["nvcsw"]), f"{extra_wakeups:+.2f}" if c else "",
            fmt_int(m["threads"]), f"≤ {CPU_TARGET_PCT} %" if c else "–", verdict(ok),
        ])  # fmt: skip
    table = Table(
        f"Idle cost over {duration:.0f} s (median of {res['rounds']} rounds, separate processes)",
        [
            "watched settings objects",
            "CPU ms",
            "extra CPU ms",
            "extra, % of a core",
            "voluntary ctx switches",
            "extra wakeups / s",
            "threads",
            "target",
            "verdict",
        ],
        rows,
        [
            (
                "CPU and context switches from getrusage(RUSAGE_SELF) around a sleep in the main thread "
                "(covers every thread); each object watches its own directory."
            )
        ],
    )
    return Report([table], checks)


if __name__ == "__main__":
    module_main("idle")
