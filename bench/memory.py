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

The ``vs-N`` jobs compare one loaded settings object of each library, on the same generated YAML file
(``N`` leaves): livesettings, pydantic-settings (its stock ``YamlConfigSettingsSource``), dynaconf
(``Dynaconf(settings_files=[file])``, loaded) and OmegaConf (``OmegaConf.load(file)``), next to one
validated snapshot (frozen models from the parsed file: the floor). Every library is imported and every
class built before tracing starts; each object is first built once and dropped (lazy imports,
module-level caches), then traced: *retained* is what tracemalloc still counts as allocated after the
object is built and ``gc.collect()`` ran, i.e. the object and everything it keeps alive that was not
there before. What livesettings keeps to parse only an edited YAML entry (the file's last layout)
belongs to the object's file reader and is counted with it; the parser's scalar cache (shared by every
file of the process) stays warm. Watching is off
(``ReloadConfig(enabled=False)``): no watcher thread or inotify buffer is counted.
"""

from __future__ import annotations

import functools
import gc
import os
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
    pydantic_settings_class,
    verdict,
)

TARGET = 1.5
VS_TARGET = 1.3  # a livesettings object retains at most 1.3x what a pydantic-settings object does
VERSIONS = 10
LIBRARIES = ("snapshot", "livesettings", "pydantic-settings", "dynaconf", "omegaconf")


def jobs(quick: bool) -> list[Job]:
    sizes = (1_000,) if quick else (1_000, 10_000)
    return [Job(str(n), timeout_s=120) for n in sizes] + [Job(f"vs-{n}", timeout_s=180) for n in sizes]


def _retained(fn: Callable[[], Any]) -> tuple[Any, int]:
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    obj = fn()
    gc.collect()
    return obj, tracemalloc.get_traced_memory()[0] - before


def _builders(n: int) -> tuple[dict[str, Callable[[], Any]], list[str], int]:
    """``{library: build one loaded object}`` on one generated ``n``-leaf YAML file, classes built."""
    import yaml
    from pydantic_settings import SettingsConfigDict

    from livesettings import ReloadConfig

    spec = Spec(n)
    fields = gen_fields(spec)
    top = frozen_model(fields)
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-memory-vs-{n}-"))
    path = tmp / "config.yaml"
    text = dump_yaml(gen_data(spec))
    path.write_text(text)
    ls_cls = livesettings_class(
        fields,
        model_config=SettingsConfigDict(yaml_file=str(path)),
        reload_config=ReloadConfig(enabled=False, max_file_bytes=1 << 28),
    )
    ps_cls = pydantic_settings_class(fields, yaml_file=path)
    builders: dict[str, Callable[[], Any]] = {
        "snapshot": lambda: top.model_validate(yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)),
        "livesettings": ls_cls,
        "pydantic-settings": ps_cls,
    }
    missing = []
    try:
        from dynaconf import Dynaconf

        def dynaconf() -> Any:
            d = Dynaconf(settings_files=[str(path)])
            assert d.K1 is not None  # dynaconf loads on first access
            return d

        builders["dynaconf"] = dynaconf
    except ImportError:
        missing.append("dynaconf")
    try:
        from omegaconf import OmegaConf

        # OmegaConf 2.4 refuses a document of more than 10,000 nodes unless told otherwise.
        os.environ["OMEGACONF_MAX_YAML_EXPANDED_NODES"] = str(100 * n)
        builders["omegaconf"] = lambda: OmegaConf.load(path)
    except ImportError:
        missing.append("omegaconf")

    return builders, missing, len(text.encode())


def run_vs(n: int) -> dict[str, Any]:
    builders, missing, size = _builders(n)
    for lib, build in builders.items():  # warm up: lazy imports, module caches, first-use paths
        obj = build()
        if lib == "livesettings":
            obj.close()
        del obj
    gc.collect()
    tracemalloc.start()
    retained: dict[str, int] = {}
    for lib, build in builders.items():
        obj, retained[lib] = _retained(build)
        if lib == "livesettings":
            obj.close()  # watching is off: closing frees nothing the object held for reads
        del obj
        gc.collect()
    tracemalloc.stop()
    return {"n": n, "vs": retained, "missing": missing, "yaml_bytes": size}


def run_job(name: str, quick: bool) -> dict[str, Any]:
    if name.startswith("vs-"):
        return run_vs(int(name[3:]))
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


_LABELS = {
    "snapshot": "one validated snapshot (floor: frozen models from the parsed file)",
    "livesettings": "**livesettings** settings object",
    "pydantic-settings": "pydantic-settings object",
    "dynaconf": "dynaconf `Dynaconf(settings_files=[…])`, loaded",
    "omegaconf": "OmegaConf `OmegaConf.load(…)`",
}


def _render_vs(results: list[dict[str, Any]]) -> tuple[Table, list[Check]]:
    rows, checks = [], []
    for res in sorted(results, key=lambda r: r["n"]):
        n, vs = res["n"], res["vs"]
        ps = vs["pydantic-settings"]
        ratio = vs["livesettings"] / ps
        ok = ratio <= VS_TARGET
        checks.append(Check(f"settings object, {n:,} leaves, retained vs a pydantic-settings object",
                            fmt_ratio(ratio), f"≤ {VS_TARGET}×", ok))
        for lib in LIBRARIES:
            if lib not in vs:
                rows.append([fmt_int(n), _LABELS[lib], "not installed", "–", "–", "–", "–"])
                continue
            target, v = (f"≤ {VS_TARGET}×", verdict(ok)) if lib == "livesettings" else ("–", "–")
            rows.append([fmt_int(n), _LABELS[lib], fmt_bytes(vs[lib]), fmt_ratio(vs[lib] / ps),
                         fmt_ratio(vs[lib] / vs["snapshot"]), target, v])
    sizes = ", ".join(f"{r['n']:,} leaves {fmt_bytes(r['yaml_bytes'])}" for r in sorted(results, key=lambda r: r["n"]))
    table = Table(
        "Memory retained by one loaded object of each library, same YAML file (tracemalloc, after gc)",
        ["leaves", "object", "retained", "× pydantic-settings", "× snapshot", "target", "verdict"],
        rows,
        [
            f"YAML files: {sizes}. Libraries imported and classes built before tracing; each object built "
            "once untraced first, then traced; retained = allocated and still alive after `gc.collect()`.",
            "livesettings counts everything its object keeps for reloads: the snapshot (version 1 of the "
            "history), the per-file parse cache (sections of a file of 8 KiB or more packed) and bytes digest, "
            "the kept pydantic-settings sources, the "
            "engine, and its file reader's YAML layout of the file (to parse only an edited entry); watching is off.",
        ],
    )
    missing = sorted({m for r in results for m in r.get("missing", [])})
    if missing:
        table.notes.append(f"not installed: {', '.join(missing)} (`make bench` installs them)")
    return table, checks


def render(results: list[dict[str, Any]], quick: bool) -> Report:
    rows = []
    checks: list[Check] = []
    vs_results = [r for r in results if "vs" in r]
    results = [r for r in results if "vs" not in r]
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
    tables = [table] if results else []
    if vs_results:
        vs_table, vs_checks = _render_vs(vs_results)
        tables.append(vs_table)
        checks += vs_checks
    return Report(tables, checks)


if __name__ == "__main__":
    module_main("memory")
