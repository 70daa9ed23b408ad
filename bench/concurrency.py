"""Readers under reloads: throughput with 4 reader threads during a reload storm, and stalls during
one 100,000-leaf reload.

Readers loop over ``settings.s0.k1`` (a live two-level read) in batches and note the time at the end
of each batch; after each batch they also take ``settings.snapshot()`` and check that two leaves
written together in every version agree (a torn snapshot would be a bug).

Each measurement compares three phases, interleaved over rounds in one process:

* **alone**: the 4 readers only;
* **busy thread**: the readers plus one thread running pure-Python code. On CPython the GIL makes
  any fifth runnable thread take its share, so this is the fair baseline for "reads keep their speed";
* **reloads**: the readers plus one thread calling ``settings.reload()`` (storm: back to back on a
  1,000-leaf config, rewriting the file each time; stall: one reload of a 100,000-leaf config).

A *stall* is the longest gap between two consecutive batch ends of one reader inside the window.
On a shared 2-core machine the OS alone causes stalls of tens of milliseconds, so the stall target is
relative: at most 50 ms longer than the longest stall beside the busy thread (whose window is capped
at 3 s, which can only make that baseline smaller).
"""

from __future__ import annotations

import itertools
import operator
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from bench._util import (
    Check,
    Job,
    Report,
    Spec,
    Table,
    dump_yaml,
    fmt_int,
    fmt_ms,
    fmt_ratio,
    gen_data,
    gen_fields,
    livesettings_class,
    median,
    module_main,
    percentile,
    progress,
    verdict,
)

READERS = 4
BATCH = 200
THROUGHPUT_TARGET = 0.8  # reads during reloads ÷ reads beside a busy pure-Python thread
STALL_MARGIN_S = 0.050  # longest stall during reloads ≤ longest stall beside the busy thread + this
CONTROL_MAX_S = 3.0  # the alone / busy windows of the stall job are at most this long


def jobs(quick: bool) -> list[Job]:
    return [Job("storm", timeout_s=90), Job("stall-1000" if quick else "stall-100000", timeout_s=150)]


def _data(spec: Spec, variant: int) -> dict[str, Any]:
    data = gen_data(spec, variant)
    data["k0"] = variant  # written together with the hot leaf: a snapshot must never mix them
    return data


class Readers:
    """``READERS`` threads reading ``settings.s0.k1`` until stopped, noting each batch's end time."""

    def __init__(self, settings: Any, hot: str) -> None:
        self.settings = settings
        self.hot = operator.attrgetter(hot)
        self.stop = threading.Event()
        self.times: list[list[float]] = []
        self.torn = 0
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(READERS)]

    def _run(self) -> None:
        s, hot, stop, pc = self.settings, self.hot, self.stop, time.perf_counter
        times: list[float] = []
        torn = 0
        rng = range(BATCH)
        while not stop.is_set():
            for _ in rng:
                _ = s.s0.k1  # the read being measured
            times.append(pc())
            snap = s.snapshot()
            if snap.k0 != hot(snap):
                torn += 1
        self.times.append(times)
        self.torn += torn

    def __enter__(self) -> Self:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()

    def window(self, t0: float, t1: float) -> dict[str, float]:
        """Reads per second and gaps between batch ends inside [t0, t1]."""
        reads, gaps, batch_s = 0, [], []
        for times in self.times:
            inside = [t for t in times if t0 <= t <= t1]
            reads += len(inside) * BATCH
            before = [t for t in times if t < t0]
            prev = before[-1] if before else t0
            for t in inside:
                gaps.append(t - prev)
                prev = t
            gaps.append(t1 - prev)  # a reader stuck at the end of the window counts too
            batch_s.extend(b - a for a, b in itertools.pairwise(inside))
        return {
            "reads_per_s": reads / (t1 - t0),
            "max_gap_s": max(gaps) if gaps else float("nan"),
            "p99_gap_s": percentile(gaps, 99),
            "median_batch_s": median(batch_s),
        }


def _busy(stop: threading.Event) -> None:
    x = 0
    while not stop.is_set():
        for i in range(1000):
            x += i * i


def _phase(
    settings: Any, hot: str, competitor: Callable[[threading.Event], Any] | None, duration: float
) -> tuple[dict[str, float], Any]:
    """Run the readers with an optional competitor; the window is the competitor's run (or ``duration``)."""
    readers = Readers(settings, hot)
    result: Any = None
    with readers:
        time.sleep(0.05)
        stop = threading.Event()
        if competitor is None:
            t0 = time.perf_counter()
            time.sleep(duration)
            t1 = time.perf_counter()
        else:
            box: list[Any] = []
            thread = threading.Thread(target=lambda: box.append(competitor(stop)), daemon=True)
            t0 = time.perf_counter()
            thread.start()
            if duration > 0:
                time.sleep(duration)
                stop.set()
            thread.join()
            t1 = time.perf_counter()
            result = box[0] if box else None
    stats = readers.window(t0, t1)
    stats["torn"] = readers.torn
    stats["window_s"] = t1 - t0
    return stats, result


def _setup(n: int) -> tuple[Any, Spec, Path, list[str]]:
    from pydantic_settings import SettingsConfigDict

    from livesettings import ReloadConfig

    spec = Spec(n)
    t0 = time.perf_counter()
    fields = gen_fields(spec, share_classes=True)  # class identity does not matter to readers
    progress(f"concurrency {n}: model for {spec.n_sections} sections in {time.perf_counter() - t0:.1f} s")
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-concurrency-{n}-"))
    path = tmp / "config.yaml"
    texts = [dump_yaml(_data(spec, v)) for v in (1, 2)]
    path.write_text(texts[0])
    cls = livesettings_class(
        fields,
        model_config=SettingsConfigDict(yaml_file=str(path)),
        reload_config=ReloadConfig(enabled=False, max_file_bytes=1 << 28),
    )
    return cls(), spec, path, texts


def run_job(name: str, quick: bool) -> dict[str, Any]:
    if name == "storm":
        return _storm(quick)
    return _stall(int(name.split("-")[1]), quick)


def _storm(quick: bool) -> dict[str, Any]:
    settings, spec, path, texts = _setup(1_000)
    duration = 0.3 if quick else 1.0
    rounds = 2 if quick else 3

    def storm(stop: threading.Event) -> int:
        i = 0
        while not stop.is_set():
            i += 1
            path.write_text(texts[i % 2])
            settings.reload()
        return i

    phases: dict[str, list[dict[str, float]]] = {"alone": [], "busy": [], "storm": []}
    reloads = []
    for _ in range(rounds):
        phases["alone"].append(_phase(settings, spec.hot, None, duration)[0])
        phases["busy"].append(_phase(settings, spec.hot, _busy, duration)[0])
        stats, count = _phase(settings, spec.hot, storm, duration)
        phases["storm"].append(stats)
        reloads.append(count / stats["window_s"])
    applied = settings._ls_engine.metrics.applied
    settings.close()
    return {
        "kind": "storm",
        "n": 1_000,
        "phases": phases,
        "reloads_per_s": median(reloads),
        "applied": applied,
    }


def _stall(n: int, quick: bool) -> dict[str, Any]:
    settings, spec, path, texts = _setup(n)
    rounds = 2
    phases: dict[str, list[dict[str, float]]] = {"alone": [], "busy": [], "reload": []}
    reload_s = []
    for r in range(rounds):
        path.write_text(texts[(r + 1) % 2])

        def one_reload(stop: threading.Event) -> float:
            t0 = time.perf_counter()
            assert settings.reload() is not None
            return time.perf_counter() - t0

        stats, took = _phase(settings, spec.hot, one_reload, 0)
        phases["reload"].append(stats)
        reload_s.append(took)
        window = min(stats["window_s"], CONTROL_MAX_S)
        phases["alone"].append(_phase(settings, spec.hot, None, window)[0])
        phases["busy"].append(_phase(settings, spec.hot, _busy, window)[0])
        progress(f"concurrency stall {n}: round {r + 1}/{rounds}, reload took {took:.2f} s")
    settings.close()
    return {"kind": "stall", "n": n, "phases": phases, "reload_s": median(reload_s)}


def _med(phase: list[dict[str, float]], key: str) -> float:
    return median(p[key] for p in phase)


def render(results: list[dict[str, Any]], quick: bool) -> Report:
    rows = []
    checks: list[Check] = []
    for res in results:
        ph = res["phases"]
        contender = "storm" if res["kind"] == "storm" else "reload"
        busy = _med(ph["busy"], "reads_per_s")
        what = (
            f"reload storm, {res['n']:,} leaves ({res['reloads_per_s']:.0f} reloads/s)"
            if res["kind"] == "storm"
            else f"one reload, {res['n']:,} leaves ({res['reload_s']:.2f} s)"
        )
        torn = sum(p["torn"] for phase in ph.values() for p in phase)
        for key, label in (
            ("alone", "4 readers alone"),
            ("busy", "4 readers + busy pure-Python thread"),
            (contender, f"4 readers + {what}"),
        ):
            m = ph[key]
            reads = _med(m, "reads_per_s")
            target, ok = "–", None
            if key == contender:
                ratio = reads / busy
                stall = _med(m, "max_gap_s")
                limit = _med(ph["busy"], "max_gap_s") + STALL_MARGIN_S
                ok = ratio >= THROUGHPUT_TARGET and stall <= limit and torn == 0
                target = f"≥ {THROUGHPUT_TARGET}× busy, stall ≤ {fmt_ms(limit)} ms, 0 torn"
                checks.append(
                    Check(
                        f"reads during {what}: × busy-thread baseline / longest stall / torn",
                        f"{fmt_ratio(ratio)} / {fmt_ms(stall)} ms / {torn}",
                        f"≥ {THROUGHPUT_TARGET}× / ≤ {fmt_ms(limit)} ms (busy + 50) / 0",
                        ok,
                    )
                )
            rows.append([
                f"{res['kind']} ({res['n']:,})", label, fmt_int(reads), fmt_ratio(reads / _med(ph["alone"], "reads_per_s")),
                fmt_ratio(reads / busy), f"{_med(m, 'median_batch_s') * 1e6 / BATCH * 1e3:.0f}",
                fmt_ms(_med(m, "p99_gap_s")), fmt_ms(_med(m, "max_gap_s")),
                str(sum(p["torn"] for p in m)), target, verdict(ok),
            ])  # fmt: skip
    table = Table(
        "Readers during reloads (4 reader threads, live `settings.a.b` reads)",
        [
            "measurement",
            "phase",
            "reads/s (all readers)",
            "× alone",
            "× busy thread",
            "ns per read while running",
            "p99 gap ms",
            "longest stall ms",
            "torn snapshots",
            "target",
            "verdict",
        ],
        rows,
        [
            (
                f"Readers read in batches of {BATCH} and note each batch end; gaps are between consecutive batch ends of one "
                "reader. Medians over interleaved rounds. The GIL lets one thread run Python at a time, so any extra "
                "runnable thread costs the readers about its share: the busy-thread row is the baseline."
            ),
            "ns per read while running = median batch duration ÷ batch size (includes preemptions inside a batch).",
        ],
    )
    return Report([table], checks)


if __name__ == "__main__":
    module_main("concurrency")
