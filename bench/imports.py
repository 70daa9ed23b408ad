"""Import time: ``import livesettings`` vs ``import pydantic_settings``, each in a fresh interpreter.

One job; inside it every round starts one fresh ``python -c`` per case, in rotating order, and each
child times its own import with ``perf_counter`` (interpreter start-up excluded), so the cases share
the machine's noise. A case whose package is not installed is left out. One extra
``python -X importtime -c "import livesettings"`` run lists the modules livesettings imports that
``pydantic_settings`` does not, heaviest first (self time), for the notes. One more case times
``import livesettings`` in a child that imported ``pydantic_settings`` first: what livesettings adds,
measured inside one process (the target's difference of two medians carries both runs' noise).

The children run with bytecode writing on (``PYTHONDONTWRITEBYTECODE`` removed) and a warm-up round
first, so livesettings loads from ``.pyc`` files as an installed wheel does: with the editable
install and bytecode writing off, every import would recompile ~40 modules from source (about
50 ms here) while site-packages already holds compiled files.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.util import find_spec
from typing import Any

from bench._util import (
    ROOT,
    Check,
    Job,
    Report,
    Table,
    fmt_ms,
    median,
    module_main,
    percentile,
    verdict,
)

CASES = ("livesettings", "pydantic_settings", "pydantic", "dynaconf", "omegaconf")
TARGET_MS = 40.0  # import livesettings <= import pydantic_settings + 40 ms
_CHILD = (
    "import time, sys; t = time.perf_counter(); import {mod}; d = time.perf_counter() - t; "
    "print(d, 'watchdog' in sys.modules)"
)
# What livesettings adds on top of pydantic-settings, timed inside one child (pydantic_settings imported
# first, untimed): the same quantity as the target's difference of medians, without two runs' noise in it.
_ADDED = "livesettings after pydantic_settings"
_CHILD_ADDED = (
    "import time, sys, pydantic_settings; t = time.perf_counter(); import livesettings; "
    "d = time.perf_counter() - t; print(d, 'watchdog' in sys.modules)"
)


def jobs(quick: bool) -> list[Job]:
    return [Job("imports", timeout_s=180)]


_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _one(mod: str) -> tuple[float, bool]:
    code = _CHILD_ADDED if mod == _ADDED else _CHILD.format(mod=mod)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
        env=_ENV,
    ).stdout.split()
    return float(out[0]), out[1] == "True"


def _importtime(mod: str) -> dict[str, int]:
    """Module -> self time in µs from one ``-X importtime`` run."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {mod}"], cwd=ROOT, capture_output=True, text=True,
        check=True, env=_ENV,
    ).stderr
    found = {}
    for line in err.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \| \s*(\S+)", line)
        if m:
            found[m[2]] = int(m[1])
    return found


def run_job(name: str, quick: bool) -> dict[str, Any]:
    cases = [c for c in CASES if find_spec(c) is not None] + [_ADDED]
    rounds = 7 if quick else 15
    for mod in cases:  # warm the .pyc and file caches once
        _one(mod)
    samples: dict[str, list[float]] = {c: [] for c in cases}
    watchdog: dict[str, bool] = {}
    for r in range(rounds):
        for mod in cases[r % len(cases) :] + cases[: r % len(cases)]:
            seconds, imported = _one(mod)
            samples[mod].append(seconds)
            watchdog[mod] = imported
    ours, theirs = _importtime("livesettings"), _importtime("pydantic_settings")
    extra = sorted(((us, mod) for mod, us in ours.items() if mod not in theirs), reverse=True)
    return {
        "samples": samples,
        "watchdog": watchdog,
        "extra_total_us": sum(us for us, _ in extra),
        "extra_top": extra[:12],
    }


def render(results: list[dict[str, Any]], quick: bool) -> Report:
    res = results[0]
    samples: dict[str, list[float]] = res["samples"]
    base = median(samples["pydantic_settings"])
    rows = []
    added = samples.pop(_ADDED, None)
    for mod, values in samples.items():
        med = median(values)
        rows.append([
            f"import {mod}",
            str(len(values)),
            fmt_ms(med),
            f"{fmt_ms(percentile(values, 25))}–{fmt_ms(percentile(values, 75))}",
            f"{fmt_ms(min(values))}–{fmt_ms(max(values))}",
            f"{'+' if med >= base else '−'}{fmt_ms(abs(med - base))}",
            "yes" if res["watchdog"].get(mod) else "no",
        ])
    ours = median(samples["livesettings"])
    ok = ours - base <= TARGET_MS / 1e3
    checks = [
        Check("import livesettings vs import pydantic_settings",
              f"{'+' if ours >= base else '−'}{fmt_ms(abs(ours - base))} ms",
              f"≤ +{TARGET_MS:.0f} ms", ok),
        Check("import livesettings leaves watchdog out", "imported" if res["watchdog"]["livesettings"] else "not imported",
              "not imported", not res["watchdog"]["livesettings"]),
    ]
    top = ", ".join(f"{mod} {us / 1e3:.1f}" for us, mod in res["extra_top"])
    table = Table(
        "Import time in a fresh interpreter (ms; each child times its own import, start-up excluded)",
        ["import", "samples", "median ms", "p25–p75", "min–max", "vs pydantic_settings", "watchdog loaded"],
        rows,
        [
            f"Target: `import livesettings` ≤ `import pydantic_settings` + {TARGET_MS:.0f} ms ({verdict(ok)}).",
            *(
                [
                    f"`import livesettings` timed in a child that imported `pydantic_settings` first (what "
                    f"livesettings adds, without the two medians' noise): median {fmt_ms(median(added))} ms, "
                    f"p25–p75 {fmt_ms(percentile(added, 25))}–{fmt_ms(percentile(added, 75))} ms "
                    f"({len(added)} samples)."
                ]
                if added
                else []
            ),
            (
                f"Modules livesettings imports beyond pydantic_settings: {res['extra_total_us'] / 1e3:.1f} ms of "
                f"self time under `-X importtime` (one run, inflated by the tracing); heaviest (ms): {top}."
            ),
        ],
    )
    return Report([table], checks)


if __name__ == "__main__":
    module_main("imports")
