"""Attribute-read cost: livesettings vs a plain object, a frozen pydantic model, pydantic-settings,
dynaconf and OmegaConf, all holding the same generated 100-leaf YAML config.

Each expression runs on a local ``o``, unrolled 20× in a timeit loop; every case is measured once
per round, interleaved, and the table gives the median over rounds. *gross* is the time per
expression including ``LOAD_FAST o``/``POP_TOP``; *net* subtracts the empty expression ``o``.
Ratios use gross times (the net ones divide by about 1 ns and overstate differences).

``a`` is a top-level leaf (``k1``, a str) and ``a.b`` a leaf of a top-level section (``s0.k1``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench._util import (
    Check,
    Job,
    Report,
    Spec,
    Table,
    dump_yaml,
    fmt_ratio,
    frozen_model,
    gen_data,
    gen_fields,
    livesettings_class,
    median,
    module_main,
    pydantic_settings_class,
    time_exprs,
    verdict,
)


def jobs(quick: bool) -> list[Job]:
    return [Job("read", timeout_s=120)]


class _Plain:
    """A plain object tree (the floor)."""

    def __init__(self, data: dict[str, Any]) -> None:
        for key, value in data.items():
            setattr(self, key, _Plain(value) if isinstance(value, dict) else value)


# (library, expression label, expression on o, object key)
CASES: list[tuple[str, str, str, str]] = [
    ("empty expression (`o`)", "o", "o", "plain"),
    ("plain object", "o.a", "o.k1", "plain"),
    ("plain object", "o.a.b", "o.s0.k1", "plain"),
    ("frozen pydantic model", "m.a", "o.k1", "model"),
    ("frozen pydantic model", "m.a.b", "o.s0.k1", "model"),
    ("pydantic-settings", "ps.a", "o.k1", "ps"),
    ("pydantic-settings", "ps.a.b", "o.s0.k1", "ps"),
    ("**livesettings**", "settings.a", "o.k1", "ls"),
    ("**livesettings**", "settings.a.b", "o.s0.k1", "ls"),
    ("**livesettings**", "settings.snapshot().a.b", "o.snapshot().s0.k1", "ls"),
    ("dynaconf", "d.A", "o.K1", "dynaconf"),
    ("dynaconf", "d.A.b", "o.S0.k1", "dynaconf"),
    ("OmegaConf", "c.a", "o.k1", "omegaconf"),
    ("OmegaConf", "c.a.b", "o.s0.k1", "omegaconf"),
]


def run_job(name: str, quick: bool) -> dict[str, Any]:
    from pydantic_settings import SettingsConfigDict

    from livesettings import ReloadConfig

    spec = Spec(100)
    data = gen_data(spec)
    tmp = Path(tempfile.mkdtemp(prefix="bench-read-"))
    path = tmp / "config.yaml"
    path.write_text(dump_yaml(data))
    fields = gen_fields(spec)

    objects: dict[str, Any] = {
        "plain": _Plain(data),
        "model": frozen_model(fields).model_validate(data),
        "ps": pydantic_settings_class(fields, yaml_file=path)(),
    }
    ls_cls = livesettings_class(
        fields,
        model_config=SettingsConfigDict(yaml_file=str(path)),
        reload_config=ReloadConfig(enabled=False),
    )
    objects["ls"] = ls_cls()
    missing: list[str] = []
    try:
        from dynaconf import Dynaconf

        objects["dynaconf"] = Dynaconf(settings_files=[str(path)])
        _ = objects["dynaconf"].K1  # dynaconf loads lazily: load before timing
    except ImportError:
        missing.append("dynaconf")
    try:
        from omegaconf import OmegaConf

        objects["omegaconf"] = OmegaConf.load(path)
    except ImportError:
        missing.append("omegaconf")

    exprs = {}
    for lib, label, expr, key in CASES:
        if key in objects:
            assert eval(expr, {"o": objects[key]}) is not None
            exprs[f"{lib}|{label}"] = (expr, objects[key])
    samples = time_exprs(exprs, rounds=5 if quick else 15, min_sample_s=0.005 if quick else 0.02)
    objects["ls"].close()
    return {
        "gross": {k: median(v) for k, v in samples.items()},
        "rounds": len(next(iter(samples.values()))),
        "missing": missing,
    }


def render(results: list[dict[str, Any]], quick: bool) -> Report:
    res = results[0]
    gross: dict[str, float] = res["gross"]
    empty = gross["empty expression (`o`)|o"]
    plain = gross["plain object|o.a"]
    ps = {"a": gross["pydantic-settings|ps.a"], "a.b": gross["pydantic-settings|ps.a.b"]}
    rows = []
    checks = []
    for lib, label, _, _ in CASES:
        key = f"{lib}|{label}"
        if key not in gross:
            rows.append([lib, f"`{label}`", "not installed", "", "", "", "", ""])
            continue
        g = gross[key]
        depth = "a.b" if label.endswith(".b") else "a"
        vs_ps = g / ps[depth] if label != "o" else float("nan")
        target, ok = "", None
        if lib == "**livesettings**" and "snapshot" not in label:
            target, ok = "≤ 1.0× pydantic-settings", g <= ps[depth]
            checks.append(
                Check(f"read `{label}` vs pydantic-settings `ps.{depth}`", fmt_ratio(vs_ps), "≤ 1.0×", ok)
            )
        rows.append([
            lib, f"`{label}`", f"{g * 1e9:,.1f}", f"{(g - empty) * 1e9:,.1f}", fmt_ratio(g / plain),
            fmt_ratio(vs_ps), target, verdict(ok) if target else "",
        ])  # fmt: skip
    table = Table(
        "Attribute read (ns per expression, median of interleaved rounds)",
        [
            "library",
            "expression",
            "gross ns",
            "net ns",
            "× plain `o.a`",
            "× pydantic-settings (same depth)",
            "target",
            "verdict",
        ],
        rows,
        [
            (
                f"{res['rounds']} interleaved rounds; each expression unrolled 20× on a local `o`; "
                "net = gross − empty expression."
            ),
            (
                "`a` is a top-level str leaf, `a.b` a leaf one section down, in the same 100-leaf YAML config "
                "loaded by every library (dynaconf upper-cases top-level keys)."
            ),
        ],
    )
    if res["missing"]:
        table.notes.append(f"not installed: {', '.join(res['missing'])} (`make bench` installs them)")
    return Report([table], checks)


if __name__ == "__main__":
    module_main("read")
