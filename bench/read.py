"""Attribute-read cost: livesettings vs a plain object, a frozen pydantic model, pydantic-settings,
dynaconf and OmegaConf, all holding the same generated 100-leaf YAML config.

Each expression runs on a local ``o``, unrolled 20× in a timeit loop; every case is measured once
per round, interleaved, and the table gives the median over rounds. *gross* is the time per
expression including ``LOAD_FAST o``/``POP_TOP``; *net* subtracts the empty expression ``o``.
Ratios use gross times (the net ones divide by about 1 ns and overstate differences).

``a`` is a top-level leaf (``k1``, a str) and ``a.b`` a leaf of a top-level section (``s0.k1``).

The same job runs again on each of ``PYTHONS`` that is not the running interpreter, in a virtual
environment of that Python under ``.bench/py3.X`` (gitignored) with ``pip install -e .`` of the
project and the running interpreter's versions of pydantic, pydantic-settings, PyYAML, dynaconf and
OmegaConf. The environment is kept between runs and built again when ``pyproject.toml`` or those
versions change. The interpreter is ``$BENCH_PYTHON3_12`` (``3_13`` ...) if set, else ``python3.12``
on ``PATH``, else the newest ``~/.pyenv/versions/3.12.*``. Without one, or when the environment cannot
be built (no package index), that row says "not available" and the bench goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench._util import (
    ROOT,
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


PYTHONS = ("3.11", "3.12", "3.13")
_PINNED = ("pydantic", "pydantic-settings", "PyYAML", "dynaconf", "omegaconf")


def _running() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def jobs(quick: bool) -> list[Job]:
    others = [v for v in PYTHONS if v != _running()]
    # a fresh environment takes a pip install (about 15-30 s here); the read job itself about 40 s
    return [Job("read", timeout_s=120)] + [Job(f"py{v}", timeout_s=600) for v in others]


def _find_python(version: str) -> str | None:
    """The first candidate that runs and is ``version`` (a pyenv shim of an inactive version is not)."""
    env = os.environ.get(f"BENCH_PYTHON{version.replace('.', '_')}")
    candidates = [env] if env else []
    candidates.append(shutil.which(f"python{version}"))
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    installed = sorted(
        pyenv.glob(f"{version}.*/bin/python{version}"),
        key=lambda p: [int(x) if x.isdigit() else -1 for x in p.parts[-3].split(".")],
    )
    candidates += [str(p) for p in reversed(installed)]
    for python in candidates:
        if not python:
            continue
        try:
            done = subprocess.run(
                [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=30,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0 and done.stdout.strip() == version:
            return python
    return None


def _requirements() -> list[str]:
    reqs = []
    for dist in _PINNED:
        try:
            reqs.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            continue
    return reqs


def _venv(version: str, python: str) -> tuple[Path, float | None]:
    """The cached environment's interpreter for ``version`` and the seconds a build took (None: cached)."""
    where = ROOT / ".bench" / f"py{version}"
    reqs = _requirements()
    key = hashlib.sha256(
        json.dumps([python, reqs, (ROOT / "pyproject.toml").read_text()]).encode()
    ).hexdigest()
    exe = where / "bin" / "python"
    stamp = where / ".stamp"
    if exe.exists() and stamp.exists() and stamp.read_text() == key:
        return exe, None
    started = time.perf_counter()
    shutil.rmtree(where, ignore_errors=True)
    where.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", str(where)], check=True, capture_output=True, text=True, timeout=300)
    subprocess.run(
        [str(exe), "-m", "pip", "install", "--quiet", "-e", str(ROOT), *reqs],
        check=True, capture_output=True, text=True, timeout=900,
    )
    stamp.write_text(key)
    return exe, time.perf_counter() - started


def _run_elsewhere(version: str, quick: bool) -> dict[str, Any]:
    """The read job under Python ``version`` in its environment, or why it is not available."""
    python = _find_python(version)
    if python is None:
        return {"python": version, "unavailable": f"no Python {version} found", "elsewhere": True}
    try:
        exe, built = _venv(version, python)
    except (OSError, subprocess.SubprocessError) as exc:
        tail = getattr(exc, "stderr", None) or str(exc)
        last = (tail.strip().splitlines() or ["?"])[-1]
        return {"python": version, "unavailable": f"environment not built: {last}", "elsewhere": True}
    with tempfile.NamedTemporaryFile("r", suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    cmd = [str(exe), "-m", "bench.read", "--job", "read", "--json", str(out), *(["--quick"] if quick else [])]
    try:
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, timeout=300)
        result: dict[str, Any] = json.loads(out.read_text())
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return {"python": version, "unavailable": f"the read job failed there: {exc}", "elsewhere": True}
    finally:
        out.unlink(missing_ok=True)
    result.pop("job", None)
    result["built_s"] = built
    result["elsewhere"] = True
    return result


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
    ("pydantic-settings, a second object (A/A)", "ps′.a", "o.k1", "ps2"),
    ("pydantic-settings, a second object (A/A)", "ps′.a.b", "o.s0.k1", "ps2"),
    ("**livesettings**", "settings.a", "o.k1", "ls"),
    ("**livesettings**", "settings.a.b", "o.s0.k1", "ls"),
    ("**livesettings**", "settings.snapshot().a.b", "o.snapshot().s0.k1", "ls"),
    ("dynaconf", "d.A", "o.K1", "dynaconf"),
    ("dynaconf", "d.A.b", "o.S0.k1", "dynaconf"),
    ("OmegaConf", "c.a", "o.k1", "omegaconf"),
    ("OmegaConf", "c.a.b", "o.s0.k1", "omegaconf"),
]


_PARITY_LIBS = ("pydantic-settings", "pydantic-settings, a second object (A/A)", "**livesettings**")


def _read_opcodes(obj: Any) -> list[str]:
    """The instructions CPython specialised ``o.k1`` and ``o.s0.k1`` into after warming up (3.12+:
    ``dis(adaptive=True)``; on 3.11 the instruction names are not shown specialised, so ``[]``)."""
    import dis

    def reads(o: Any) -> None:
        o.k1
        o.s0.k1

    if sys.version_info < (3, 12):
        return []
    for _ in range(64):  # past the warm-up counters
        reads(obj)
    return [i.opname for i in dis.get_instructions(reads, adaptive=True) if i.opname.startswith("LOAD_ATTR")]


def _parity(res: dict[str, Any], ps_label: str, ls_label: str) -> tuple[float, float, float]:
    """``(livesettings ÷ pydantic-settings, lowest, highest A/A ratio)`` over the rounds: the A/A ratio is
    a second pydantic-settings object of the same class ÷ the first, measured in the same rounds."""
    rounds = res["per_round"]
    ps = rounds[f"pydantic-settings|{ps_label}"]
    aa = rounds[f"pydantic-settings, a second object (A/A)|{ps_label.replace('ps', 'ps′', 1)}"]
    ls = rounds[f"**livesettings**|{ls_label}"]
    ratio = median(ls) / median(ps)
    spread = [b / a for a, b in zip(ps, aa)]
    return ratio, min(spread), max(spread)


def run_job(name: str, quick: bool) -> dict[str, Any]:
    if name.startswith("py"):
        return _run_elsewhere(name[2:], quick)
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
    objects["ps2"] = type(objects["ps"])()  # the A/A case: the same class, another object
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
        "per_round": {k: v for k, v in samples.items() if k.split("|")[0] in _PARITY_LIBS},
        "opcodes": {key: _read_opcodes(objects[key]) for key in ("ps", "ls")},
        "rounds": len(next(iter(samples.values()))),
        "missing": missing,
        "python": _running(),
        "python_full": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": {d: metadata.version(d) for d in ("pydantic", "pydantic-core", "pydantic-settings")},
    }


def _version_key(res: dict[str, Any]) -> list[int]:
    return [int(x) for x in res["python"].split(".")]


def _render_pythons(results: list[dict[str, Any]]) -> tuple[Table, list[Check]]:
    """One row per Python: pydantic-settings and livesettings reads at both depths; checks for the others."""
    rows, checks, notes = [], [], []
    for res in sorted(results, key=_version_key):
        version = res["python"]
        name = f"read `settings.a` / `settings.a.b` vs pydantic-settings, Python {version}"
        if "unavailable" in res:
            rows.append([f"Python {version}", "not available", *[""] * 8, "–", "–"])
            checks.append(Check(name, "not available", "≤ 1.0×", None))
            notes.append(f"Python {version}: not available ({res['unavailable']}).")
            continue
        gross = res["gross"]
        parity = _version_key(res) >= [3, 12] and "per_round" in res
        cells, oks, ratios = [], [], []
        for ps_label, ls_label in (("ps.a", "settings.a"), ("ps.a.b", "settings.a.b")):
            ps = gross[f"pydantic-settings|{ps_label}"]
            ls = gross[f"**livesettings**|{ls_label}"]
            if parity:
                ratio, low, high = _parity(res, ps_label, ls_label)
                cells += [f"{ps * 1e9:,.1f}", f"{ls * 1e9:,.1f}", fmt_ratio(ratio), f"{low:.2f}–{high:.2f}×"]
                oks.append(ratio <= max(1.0, high))
            else:
                cells += [f"{ps * 1e9:,.1f}", f"{ls * 1e9:,.1f}", fmt_ratio(ls / ps), "–"]
                oks.append(ls <= ps)
            ratios.append(fmt_ratio(ls / ps))
        ops = res.get("opcodes", {})
        same = ops.get("ps") == ops.get("ls")
        if parity:
            oks.append(same)
            target = "parity: ≤ 1.0× or within the A/A range, same instructions"
        else:
            target = "≤ 1.0× pydantic-settings"
        shown = " / ".join(dict.fromkeys(ops.get("ls", []))) or "–"
        if ops.get("ls") and not same:
            shown += f" (pydantic-settings: {' / '.join(dict.fromkeys(ops.get('ps', [])))})"
        ok = all(oks)
        rows.append([res.get("python_full", version), *cells, shown, target, verdict(ok)])
        if res.get("elsewhere"):  # the running interpreter's reads are checked by the table above
            checks.append(Check(name, " / ".join(ratios), target, ok))
        versions = res.get("versions", {})
        built = res.get("built_s")
        how = ("cached environment" if built is None else f"environment built in {built:.0f} s") if res.get(
            "elsewhere") else "the bench's own interpreter"
        notes.append(
            f"Python {version}: {how}; pydantic {versions.get('pydantic', '?')}, pydantic-core "
            f"{versions.get('pydantic-core', '?')}, pydantic-settings {versions.get('pydantic-settings', '?')}."
        )
    table = Table(
        "Attribute reads per Python version (gross ns per expression, median of interleaved rounds)",
        ["Python", "`ps.a` ns", "`settings.a` ns", "× ps", "A/A range", "`ps.a.b` ns", "`settings.a.b` ns", "× ps",
         "A/A range", "specialised as", "target", "verdict"],
        rows,
        [
            *notes,
            "Each Python runs the read job above in a process of its own (environments under `.bench/`, kept "
            "between runs); ratios compare cases measured side by side in that process. On 3.12+ a pydantic "
            "attribute read is about as fast as a plain one, so the target there is parity: both reads are "
            "specialised into the same instructions (`dis(adaptive=True)` after warming up), and the ratio is "
            "≤ 1.0× or no higher than the highest per-round ratio of a second pydantic-settings object of the "
            "same class to the first (the A/A range: what the same read measures against itself in that run).",
        ],
    )
    return table, checks


def render(results: list[dict[str, Any]], quick: bool) -> Report:
    here = [r for r in results if "gross" in r and not r.get("elsewhere")]
    report = _render_one(here[0]) if here else Report()
    table, checks = _render_pythons(results)
    report.tables.append(table)
    report.checks += checks
    return report


def _render_one(res: dict[str, Any]) -> Report:
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
