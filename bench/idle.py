"""Idle cost of watching: CPU time and wakeups of a process holding 0, 1, 3 or 10 watched settings objects.

Each configuration is its own process (same imports, same generated 100-leaf model, one YAML file
per settings object in its own directory, default ``ReloadConfig``: watching on, 100 ms debounce).
After a short settle, the process sleeps for the measured window and reads
``getrusage(RUSAGE_SELF)`` (all threads) before and after: CPU = user + system time,
wakeups = voluntary context switches. All processes of all rounds run concurrently (they are idle,
and CPU time is counted per process); the table gives the median over rounds, and the extra cost
over the 0-object baseline.

The safety re-check (the periodic metadata-and-content comparison that catches events the OS
dropped; every 60 s by default) is measured too: each configuration also runs with
``safety_interval_s`` at 0.45 of the window, so that window holds two re-checks per object
(counted from ``WatchStatus.rechecks``). The difference between the two windows, per re-check, is
what one re-check costs; the target applies to the idle cost at the default interval with its
re-checks amortised: CPU of the plain window + re-checks per second at 60 s × cost of one.
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


def _child(count: int, duration: float, safety_s: float) -> dict[str, Any]:
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
                reload_config=ReloadConfig(safety_interval_s=safety_s),
            )
            s = cls()
            assert s._ls_engine.watching, "not watching (production environment?)"
            objects.append(s)
    gc.collect()
    time.sleep(0.5)

    def rechecks() -> int:
        statuses = [s._ls_engine.feeds.statuses().get("files") for s in objects]
        return sum(getattr(st, "rechecks", 0) for st in statuses)

    before = rechecks()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    time.sleep(duration)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.monotonic() - t0
    rechecked = rechecks() - before
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
        "rechecks": rechecked,
    }


DEFAULT_SAFETY_S = 60.0  # ReloadConfig.safety_interval_s's default
VARIANTS = ("default", "recheck")


def run_job(name: str, quick: bool) -> dict[str, Any]:
    if name.startswith("child:"):
        _, count, duration, safety = name.split(":")
        return _child(int(count), float(duration), float(safety))
    rounds, duration = (1, 2.0) if quick else (3, 10.0)
    runs: dict[str, list[dict[str, Any]]] = {f"{v}:{c}": [] for v in VARIANTS for c in COUNTS}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    procs = []
    for _ in range(rounds):  # every process of every round at once: they are idle while measured
        for variant in VARIANTS:
            safety = DEFAULT_SAFETY_S if variant == "default" else 0.45 * duration
            for count in COUNTS:
                out = Path(tempfile.mkstemp(suffix=".json")[1])
                cmd = [
                    sys.executable, "-m", "bench.idle", "--job", f"child:{count}:{duration}:{safety}",
                    "--json", str(out),
                ]  # fmt: skip
                procs.append((f"{variant}:{count}", out, subprocess.Popen(cmd, cwd=ROOT, env=env)))
    for key, out, proc in procs:
        proc.wait(timeout=duration + 60)
        if proc.returncode == 0:
            runs[key].append(json.loads(out.read_text()))
        out.unlink(missing_ok=True)
    progress(f"idle: {len(procs)} processes done")
    return {"duration_s": duration, "rounds": rounds, "runs": runs}


def render(results: list[dict[str, Any]], quick: bool) -> Report:
    res = results[0]
    duration = res["duration_s"]
    keys = ("cpu_s", "nvcsw", "nivcsw", "wall_s", "threads", "rechecks")
    med: dict[str, dict[int, dict[str, float]]] = {
        v: {c: {k: median(r.get(k, 0) for r in res["runs"][f"{v}:{c}"]) for k in keys}
            for c in COUNTS if res["runs"].get(f"{v}:{c}")}
        for v in VARIANTS
    }  # fmt: skip
    plain, rechecking = med["default"], med["recheck"]
    base, rbase = plain.get(0), rechecking.get(0)
    rows = []
    checks: list[Check] = []
    for c in COUNTS:
        if c not in plain or (c and c not in rechecking) or base is None:
            rows.append([str(c), "failed", "", "", "", "", "", "", "", "", "", ""])
            continue
        m = plain[c]
        extra_cpu = m["cpu_s"] - base["cpu_s"]
        pct = 100 * max(extra_cpu, 0.0) / m["wall_s"]
        extra_wakeups = (m["nvcsw"] - base["nvcsw"]) / m["wall_s"]
        ok = None
        per_recheck = amortised = float("nan")
        rechecks = 0.0
        if c > 0 and rbase is not None:
            r = rechecking[c]
            rechecks = r["rechecks"]
            window_cost = (r["cpu_s"] - rbase["cpu_s"]) - extra_cpu  # the re-checks, over the plain window
            per_recheck = max(window_cost, 0.0) / rechecks if rechecks else float("nan")
            amortised = pct + 100 * (c / DEFAULT_SAFETY_S) * (per_recheck if rechecks else 0.0)
            ok = bool(rechecks) and amortised <= CPU_TARGET_PCT
            checks.append(
                Check(
                    f"idle CPU over baseline, {c} watched object(s), re-checks every {DEFAULT_SAFETY_S:.0f} s amortised",
                    f"{amortised:.4f} %" if rechecks else "no re-check measured",
                    f"≤ {CPU_TARGET_PCT} % of a core",
                    ok,
                )
            )
        rows.append([
            "baseline (none)" if c == 0 else str(c), f"{m['cpu_s'] * 1e3:.2f}", f"{extra_cpu * 1e3:+.2f}" if c else "",
            f"{pct:.4f} %" if c else "", fmt_int(m["nvcsw"]), f"{extra_wakeups:+.2f}" if c else "",
            fmt_int(m["threads"]), fmt_int(rechecks) if c else "–",
            f"{per_recheck * 1e3:.3f}" if c and rechecks else "–",
            f"{amortised:.4f} %" if c and rechecks else "–", f"≤ {CPU_TARGET_PCT} %" if c else "–", verdict(ok),
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
            "re-checks in the re-check window",
            "CPU ms per re-check",
            f"extra with re-checks every {DEFAULT_SAFETY_S:.0f} s",
            "target",
            "verdict",
        ],
        rows,
        [
            (
                "CPU and context switches from getrusage(RUSAGE_SELF) around a sleep in the main thread "
                "(covers every thread); each object watches its own directory. The first columns are a window "
                f"with the default safety_interval_s ({DEFAULT_SAFETY_S:.0f} s: no re-check in it); a second "
                "window with safety_interval_s at 0.45 of it holds two re-checks per object, and their cost is "
                "the difference between the two windows."
            )
        ],
    )
    return Report([table], checks)


if __name__ == "__main__":
    module_main("idle")
