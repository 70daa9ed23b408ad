"""Memory of one validated snapshot vs a 10-version history (tracemalloc, bytes retained after gc).

Ten versions of a generated config that differ in one leaf each (the ``hot`` int leaf) are loaded
by one settings object with ``reload()``. Unchanged sub-trees should be shared between versions,
so the history should cost about one snapshot plus the changed path per version.

Rows (all measured in one process, model classes built before tracing starts):

* one snapshot: ``model_validate`` of the parsed file into frozen models, the parsed dict dropped;
* ten independent snapshots: what a history without sharing would cost;
* the settings object with 1 and with 10 versions (everything it retains: history, façade dict,
  the parsed-file cache, the engine);
* the 10-version history alone: ``settings.history`` kept, the settings object closed and dropped.
"""

from __future__ import annotations

import functools
import gc
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._util import (
    Check,
    Job,
    Report,
    Spec,
    Table,
    dump_yaml,
    fmt_bytes,
    fmt_int,
    fmt_ratio,
    frozen_model,
    gen_data,
    gen_fields,
    livesettings_class,
    module_main,
    verdict,
)

TARGET = 1.5
VERSIONS = 10


def jobs(quick: bool) -> list[Job]:
    return [Job(str(n), timeout_s=120) for n in ((1_000,) if quick else (1_000, 10_000))]


def _retained(fn: Callable[[], Any]) -> tuple[Any, int]:
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    obj = fn()
    gc.collect()
    return obj, tracemalloc.get_traced_memory()[0] - before


def run_job(name: str, quick: bool) -> dict[str, Any]:
    import yaml
    from pydantic_settings import SettingsConfigDict

    from livesettings import ReloadConfig

    n = int(name)
    spec = Spec(n)
    fields = gen_fields(spec)
    top = frozen_model(fields)
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-memory-{n}-"))
    path = tmp / "config.yaml"
    texts = [dump_yaml(gen_data(spec, v)) for v in range(VERSIONS)]
    path.write_text(texts[0])
    cls = livesettings_class(
        fields,
        model_config=SettingsConfigDict(yaml_file=str(path)),
        reload_config=ReloadConfig(enabled=False, max_versions=VERSIONS, max_file_bytes=1 << 28),
    )
    load = yaml.CSafeLoader

    def snapshot(text: str) -> Any:
        return top.model_validate(yaml.load(text, Loader=load))

    # warm every code path once before tracing (lazy imports, caches, interned strings)
    warm = cls()
    path.write_text(texts[1])
    warm.reload()
    warm.close()
    del warm
    path.write_text(texts[0])
    snapshot(texts[0])

    tracemalloc.start()
    out: dict[str, Any] = {"n": n}
    snap, out["snapshot"] = _retained(lambda: snapshot(texts[0]))
    del snap
    many, out["independent"] = _retained(lambda: [snapshot(t) for t in texts])
    del many
    gc.collect()
    start = tracemalloc.get_traced_memory()[0]
    settings, out["settings_1"] = _retained(cls)

    def reload_all(obj: Any) -> None:
        for text in texts[1:]:
            path.write_text(text)
            assert obj.reload() is not None

    _, grow = _retained(functools.partial(reload_all, settings))
    out["settings_10"] = out["settings_1"] + grow
    history = settings.history
    assert len(history) == VERSIONS
    settings.close()
    del settings
    gc.collect()
    out["history_only"] = tracemalloc.get_traced_memory()[0] - start
    del history
    tracemalloc.stop()
    out["yaml_bytes"] = len(texts[0].encode())
    return out


def render(results: list[dict[str, Any]], quick: bool) -> Report:
    rows = []
    checks: list[Check] = []
    for res in sorted(results, key=lambda r: r["n"]):
        n, snap = res["n"], res["snapshot"]
        ratio = res["history_only"] / snap
        ok = ratio <= TARGET
        checks.append(
            Check(f"10-version history, {n:,} leaves, vs one snapshot", fmt_ratio(ratio), f"≤ {TARGET}×", ok)
        )
        per_version = (res["settings_10"] - res["settings_1"]) / (VERSIONS - 1)
        for label, value, target, v in [
            ("one snapshot", snap, "", ""),
            ("10 independent snapshots (no sharing)", res["independent"], "", ""),
            ("settings object, 1 version (all it retains)", res["settings_1"], "", ""),
            ("settings object, 10 versions (all it retains)", res["settings_10"], "", ""),
            ("**10-version history alone**", res["history_only"], f"≤ {TARGET}×", verdict(ok)),
        ]:
            rows.append(
                [fmt_int(n), label, fmt_bytes(value), fmt_ratio(value / snap), target or "–", v or "–"]
            )
        rows.append(
            [
                fmt_int(n),
                "each extra version (settings object growth ÷ 9)",
                fmt_bytes(per_version),
                fmt_ratio(per_version / snap),
                "–",
                "–",
            ]
        )
    table = Table(
        "Memory retained (tracemalloc, after gc), ten versions differing in one leaf each",
        ["leaves", "what", "retained", "× one snapshot", "target", "verdict"],
        rows,
        [
            (
                'The YAML file of the 10,000-leaf config is about 240 KiB. "Settings object" includes the parsed-file '
                "cache the reader keeps to skip re-parsing unchanged files."
            )
        ],
    )
    return Report([table], checks)


if __name__ == "__main__":
    module_main("memory")
