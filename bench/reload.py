"""Cold load and reload cost vs config size, vs the parse+validate floor and vs pydantic-settings.

One job (subprocess) per size; inside it every case is interleaved round by round:

* **floor**: read the file, parse it (libyaml ``CSafeLoader`` / ``tomllib`` / python-dotenv) and
  ``model_validate`` the result into frozen models, with the cyclic GC paused as livesettings
  pauses it; *floor, gc on* is the same with the GC running (information only);
* **reload**: ``settings.reload()`` after the file changed (one leaf differs; the file is rewritten
  before each timed call, alternating between two versions);
* **cold load**: constructing the settings object (``ReloadConfig(enabled=False)``: no watcher);
* **pydantic-settings**: constructing a stock pydantic-settings class with the same fields reading
  the same file (``YamlConfigSettingsSource`` / ``TomlConfigSettingsSource`` / ``env_file``), i.e.
  what "reloading" costs there; for YAML also **pydantic-settings-libyaml**, the same class whose
  YAML source parses with libyaml's ``CSafeLoader`` (the floor's parser), which the target uses so
  the comparison measures the reload machinery and not PyYAML's pure-Python parser.

Configs are nested sections of 10 leaves (int, str, bool, float, list[int], list[str], URL, port),
one frozen ``create_model`` class per section; ``.env`` files are flat.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from bench._util import (
    DUMPERS,
    Case,
    Check,
    GcPaused,
    Job,
    Report,
    Spec,
    Table,
    fmt_bytes,
    fmt_int,
    fmt_ratio,
    fmt_time,
    frozen_model,
    gen_data,
    gen_fields,
    livesettings_class,
    median,
    module_main,
    progress,
    pydantic_settings_class,
    run_interleaved,
    verdict,
)

SIZES = (100, 1_000, 10_000, 100_000)
ENV_SIZES = (100, 1_000)
RELOAD_TARGET = 0.8  # issue 12: a one-key reload below the parse + validate floor
PS_TARGET = 2.0  # vs re-creating a pydantic-settings object that reads YAML with the same libyaml loader


def jobs(quick: bool) -> list[Job]:
    sizes = SIZES[:2] if quick else SIZES
    return [Job(str(n), timeout_s=150 if n >= 100_000 else 90) for n in sizes]


def _plan(n: int, quick: bool) -> dict[str, Any]:
    if quick:
        return {"rounds": 3, "min_sample_s": 0.005, "warmup": True, "gc_on": True, "slow_every": 1}
    if n >= 100_000:  # seconds per call: cold load and pydantic-settings get one sample
        return {"rounds": 2, "min_sample_s": 0.0, "warmup": False, "gc_on": False, "slow_every": 2}
    if n >= 10_000:
        return {"rounds": 7, "min_sample_s": 0.0, "warmup": True, "gc_on": True, "slow_every": 1}
    return {"rounds": 7, "min_sample_s": 0.03, "warmup": True, "gc_on": True, "slow_every": 1}


def _env_settings_class(fields: dict[str, Any], path: Path) -> Any:
    from pydantic import create_model
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class Base(BaseSettings):
        model_config = SettingsConfigDict(env_file=str(path))

    return create_model("EnvSettings", __base__=Base, **fields)


def _parser(fmt: str) -> Any:
    if fmt == "yaml":
        import yaml

        loader = yaml.CSafeLoader
        return lambda data: yaml.load(data, Loader=loader)
    if fmt == "toml":
        import tomllib

        return lambda data: tomllib.loads(data.decode())
    from dotenv import dotenv_values

    return lambda data: dotenv_values(stream=io.StringIO(data.decode()))


def _cases(
    fmt: str, spec: Spec, fields: dict[str, Any], tmp: Path, plan: dict[str, Any]
) -> tuple[list[Case], dict[str, Any]]:
    from pydantic_settings import SettingsConfigDict

    from livesettings import ReloadConfig

    dump = DUMPERS[fmt]
    path = tmp / {"yaml": "config.yaml", "toml": "config.toml", "env": ".env"}[fmt]
    texts = [dump(gen_data(spec, v)) for v in (1, 2)]
    path.write_text(texts[0])
    top = frozen_model(fields)
    parse = _parser(fmt)
    key = {"yaml": "yaml_file", "toml": "toml_file", "env": "env_file"}[fmt]
    ls_cls = livesettings_class(
        fields,
        model_config=SettingsConfigDict(**{key: str(path)}),
        reload_config=ReloadConfig(enabled=False, max_file_bytes=1 << 28),
    )
    ps_fast: Any = None
    if fmt == "env":
        ps_cls = _env_settings_class(fields, path)
    else:
        ps_cls = pydantic_settings_class(fields, **{key: path})
        if fmt == "yaml":
            ps_fast = pydantic_settings_class(fields, yaml_file=path, libyaml=True)
    settings = ls_cls()
    state = {"i": 0, "settings": settings, "calls": 0}

    def flip() -> None:
        state["i"] ^= 1
        path.write_text(texts[state["i"]])

    def reload() -> None:
        state["calls"] += 1
        settings.reload()

    def floor() -> Any:
        with GcPaused():
            return top.model_validate(parse(path.read_bytes()))

    def floor_gc() -> Any:
        return top.model_validate(parse(path.read_bytes()))

    def cold() -> None:
        ls_cls().close()

    slow = plan["slow_every"]
    cases = [
        Case(f"{fmt}|floor", floor),
        Case(f"{fmt}|reload", reload, prep=flip),
        Case(f"{fmt}|cold", cold, every=slow),
        Case(f"{fmt}|pydantic-settings", ps_cls, every=slow),
    ]
    if ps_fast is not None:
        cases.append(Case(f"{fmt}|pydantic-settings-libyaml", ps_fast, every=slow))
    if plan["gc_on"] and fmt == "yaml":
        cases.insert(1, Case(f"{fmt}|floor_gc", floor_gc))
    info = {"bytes": len(texts[0].encode()), "state": state}
    return cases, info


def run_job(name: str, quick: bool) -> dict[str, Any]:
    import time

    n = int(name)
    plan = _plan(n, quick)
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-reload-{n}-"))
    spec = Spec(n)
    t0 = time.perf_counter()
    fields = gen_fields(spec)
    build_s = time.perf_counter() - t0
    progress(f"reload {n}: {spec.n_sections} model classes built in {build_s:.1f} s")
    cases, infos = [], {}
    for fmt in ("yaml", "toml", "env"):
        if fmt == "env" and n not in ENV_SIZES:
            continue
        (tmp / fmt).mkdir()
        fmt_spec = Spec(n, flat=True) if fmt == "env" else spec
        fmt_fields = gen_fields(fmt_spec) if fmt == "env" else fields
        c, infos[fmt] = _cases(fmt, fmt_spec, fmt_fields, tmp / fmt, plan)
        cases += c
    samples = run_interleaved(
        cases, rounds=plan["rounds"], min_sample_s=plan["min_sample_s"], warmup=plan["warmup"]
    )
    out: dict[str, Any] = {
        "n": n,
        "build_s": build_s,
        "sections": spec.n_sections,
        "depth": spec.depth,
        "formats": {},
    }
    for fmt, info in infos.items():
        state = info["state"]
        engine = state["settings"]._ls_engine
        applied = engine.metrics.applied
        state["settings"].close()
        out["formats"][fmt] = {
            "bytes": info["bytes"],
            "applied": applied,
            "reload_calls": state["calls"],
            **{k.split("|", 1)[1]: median(v) for k, v in samples.items() if k.startswith(f"{fmt}|")},
            "samples": {k.split("|", 1)[1]: len(v) for k, v in samples.items() if k.startswith(f"{fmt}|")},
            "spread": {k.split("|", 1)[1]: (min(v), max(v)) for k, v in samples.items() if k.startswith(f"{fmt}|") and v},
        }
    return out


def _spread(f: dict[str, Any], case: str) -> str:
    lo_hi = f.get("spread", {}).get(case)
    return f"{fmt_time(lo_hi[0])}–{fmt_time(lo_hi[1])}" if lo_hi else "–"


def render(results: list[dict[str, Any]], quick: bool) -> Report:
    results = sorted(results, key=lambda r: r["n"])
    reload_rows, load_rows, build_rows = [], [], []
    checks: list[Check] = []
    for fmt in ("yaml", "toml", "env"):
        for res in results:
            f = res["formats"].get(fmt)
            if f is None:
                continue
            n = res["n"]
            label = {"yaml": "YAML", "toml": "TOML", "env": ".env"}[fmt]
            ratio = f["reload"] / f["floor"]
            tgt = fmt == "yaml"
            ok = ratio <= RELOAD_TARGET if tgt else None
            applied_note = (
                ""
                if f["applied"] >= f["reload_calls"]
                else f" (only {f['applied']}/{f['reload_calls']} applied!)"
            )
            reload_rows.append([
                label, fmt_int(n), fmt_bytes(f["bytes"]), fmt_time(f["floor"]),
                fmt_time(f["floor_gc"]) if "floor_gc" in f else "–",
                fmt_time(f["reload"]) + applied_note, _spread(f, "reload"), fmt_ratio(ratio),
                f"≤ {RELOAD_TARGET}×" if tgt else "–", verdict(ok),
            ])  # fmt: skip
            stock_ratio = f["pydantic-settings"] / f["reload"]
            fast = f.get("pydantic-settings-libyaml")
            ps_ratio = fast / f["reload"] if fast else stock_ratio
            ok2 = ps_ratio >= PS_TARGET if tgt else None
            load_rows.append([
                label, fmt_int(n), fmt_time(f["cold"]), fmt_ratio(f["cold"] / f["floor"]),
                fmt_time(f["pydantic-settings"]), fmt_ratio(stock_ratio),
                fmt_time(fast) if fast else "–", fmt_ratio(ps_ratio) if fast else "–",
                f"≥ {PS_TARGET:.0f}×" if tgt else "–", verdict(ok2),
            ])  # fmt: skip
            if tgt:
                checks.append(
                    Check(f"YAML reload, {n:,} leaves, vs floor", fmt_ratio(ratio), f"≤ {RELOAD_TARGET}×", ok)
                )
                checks.append(
                    Check(
                        f"YAML reload, {n:,} leaves, speed-up vs re-instantiating pydantic-settings (same libyaml loader)",
                        fmt_ratio(ps_ratio),
                        f"≥ {PS_TARGET:.0f}×",
                        ok2,
                    )
                )
    for res in results:
        build_rows.append(
            [
                fmt_int(res["n"]),
                fmt_int(res["sections"]),
                str(res["depth"]),
                fmt_time(res["build_s"]),
                " / ".join(f"{k} {v}" for k, v in res["formats"]["yaml"]["samples"].items()),
            ]
        )
    tables = [
        Table(
            "Reload (`settings.reload()` on a changed file) vs the floor (read + parse + `model_validate`, gc paused)",
            [
                "format",
                "leaves",
                "file",
                "floor",
                "floor, gc on",
                "livesettings reload",
                "reload min–max",
                "reload ÷ floor",
                "target",
                "verdict",
            ],
            reload_rows,
            [
                (
                    "Median per call; cases interleaved in one process per size. The floor uses libyaml `CSafeLoader`, "
                    "`tomllib`, or python-dotenv `dotenv_values`; the target applies to YAML."
                )
            ],
        ),
        Table(
            "Cold load, and re-instantiating pydantic-settings on the same file (its way to reload)",
            [
                "format",
                "leaves",
                "livesettings cold load",
                "cold ÷ floor",
                "pydantic-settings `PS()`",
                "PS() ÷ reload",
                "`PS()`, libyaml loader",
                "÷ reload",
                "target",
                "verdict",
            ],
            load_rows,
            [
                (
                    "pydantic-settings reads YAML with its stock `YamlConfigSettingsSource` (PyYAML `safe_load`, pure Python); "
                    "the libyaml column gives the same source libyaml's `CSafeLoader` (the floor's parser), and the target "
                    "applies to it; cold load = constructing the settings object with `ReloadConfig(enabled=False)`."
                )
            ],
        ),
        Table(
            "Generated configs (one-off cost, not part of any timing)",
            ["leaves", "section classes", "depth", "`create_model` build", "YAML samples per case"],
            build_rows,
        ),
    ]
    return Report(tables, checks)


if __name__ == "__main__":
    module_main("reload")
