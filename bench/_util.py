"""Shared benchmark machinery: timing, statistics, config generators, tables and the job runner.

Every benchmark module (``bench/read.py`` ...) defines:

* ``jobs(quick) -> list[Job]``: the separate measurements, each run in its own subprocess;
* ``run_job(name, quick) -> dict``: one measurement, in-process, returning JSON-able raw numbers;
* ``render(results, quick) -> Report``: tables and target checks from the jobs' raw numbers.

and ends with ``if __name__ == "__main__": module_main(__name__)`` so ``python -m bench.read``
runs its jobs (each in a subprocess) and prints its tables.

Method (as in the project's performance-anchor research): the machine is shared and noisy, so cases
that are compared are measured in one process, interleaved round by round, and compared by the
ratio of their medians.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------- timing


@dataclass
class Case:
    """One operation to time.

    Attributes:
        name: key of the samples in the result.
        fn: the timed call.
        prep: untimed call made before each timed call (e.g. write the next file version);
            with ``prep`` every call is timed on its own.
        every: run only in every ``every``-th round (for very slow cases).
    """

    name: str
    fn: Callable[[], Any]
    prep: Callable[[], Any] | None = None
    every: int = 1


def run_interleaved(
    cases: Sequence[Case],
    *,
    rounds: int,
    min_sample_s: float = 0.02,
    max_calls: int = 1_000_000,
    collect: bool = False,
    warmup: bool = True,
) -> dict[str, list[float]]:
    """Time every case once per round, rotating the order each round; seconds per call per sample.

    A case without ``prep`` is called in a loop long enough to last ``min_sample_s`` (one sample per
    round). A case with ``prep`` is timed call by call, repeated up to ``min_sample_s`` per round
    (each call is a sample). ``warmup=False`` skips the untimed first call (for cases taking
    seconds) and times one call per sample.
    """
    plan: dict[str, int] = {}
    for case in cases:  # warm up and calibrate
        if not warmup:
            plan[case.name] = 1
            continue
        if case.prep is not None:
            case.prep()
        t0 = time.perf_counter()
        case.fn()
        one = max(time.perf_counter() - t0, 1e-9)
        plan[case.name] = max(1, min(max_calls, math.ceil(min_sample_s / one)))
    samples: dict[str, list[float]] = {c.name: [] for c in cases}
    for r in range(rounds):
        order = list(cases[r % len(cases) :]) + list(cases[: r % len(cases)])
        for case in order:
            if r % case.every:
                continue
            if collect:
                gc.collect()
            n = plan[case.name]
            fn = case.fn
            if case.prep is None:
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                samples[case.name].append((time.perf_counter() - t0) / n)
            else:
                prep = case.prep
                for _ in range(n):
                    prep()
                    t0 = time.perf_counter()
                    fn()
                    samples[case.name].append(time.perf_counter() - t0)
    return samples


def time_exprs(
    exprs: dict[str, tuple[str, Any]], *, rounds: int, min_sample_s: float = 0.02, unroll: int = 20
) -> dict[str, list[float]]:
    """Per-expression time of ``expr`` on a local ``o``, unrolled ``unroll``× in a timeit loop.

    ``exprs`` maps a name to ``(expression using o, object bound to o)``; the cases are interleaved
    round by round and each round gives one sample (seconds per expression, gross).
    """
    timers: dict[str, tuple[timeit.Timer, int]] = {}
    for name, (expr, obj) in exprs.items():
        timer = timeit.Timer("\n".join([expr] * unroll), setup="o = _o", globals={"_o": obj})
        one = timer.timeit(10) / 10
        timers[name] = (timer, max(1, math.ceil(min_sample_s / max(one, 1e-9))))
    samples: dict[str, list[float]] = {n: [] for n in exprs}
    names = list(exprs)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            timer, number = timers[name]
            samples[name].append(timer.timeit(number) / (number * unroll))
    return samples


def median(values: Iterable[float]) -> float:
    data = sorted(values)
    if not data:
        return math.nan
    mid = len(data) // 2
    return data[mid] if len(data) % 2 else (data[mid - 1] + data[mid]) / 2


def percentile(values: Iterable[float], p: float) -> float:
    """Linear-interpolated percentile (``p`` in 0..100), like numpy's default."""
    data = sorted(values)
    if not data:
        return math.nan
    k = (len(data) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def medians(samples: dict[str, list[float]]) -> dict[str, float]:
    return {k: median(v) for k, v in samples.items()}


class GcPaused:
    """``with GcPaused():`` disables the cyclic GC (as livesettings does around parse + validate)."""

    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was:
            gc.enable()


# ------------------------------------------------------------------------------------ config generators

KINDS = ("int", "str", "bool", "float", "list_int", "list_str", "url", "port")
LEAVES_PER_SECTION = 10
CHILDREN_PER_SECTION = 8


@dataclass
class Spec:
    """The shape of a generated config: sections of up to 10 leaves in an 8-ary tree (BFS order).

    Section ``j`` has children ``8j+1 .. 8j+8``; leaf ``k{i}`` of section ``j`` has kind
    ``KINDS[(i + j) % 8]``. ``hot`` is the dotted path of an int leaf in the last section: the one
    leaf that differs between variants of the data.
    """

    n_leaves: int
    flat: bool = False
    n_sections: int = 0
    paths: list[str] = field(default_factory=list)  # dotted path of each section ("" for the root)
    hot: str = ""

    def __post_init__(self) -> None:
        if self.flat:
            self.n_sections = 1
            self.paths = [""]
            self.hot = "k0"
            return
        self.n_sections = max(1, math.ceil(self.n_leaves / LEAVES_PER_SECTION))
        self.paths = [""]
        for j in range(1, self.n_sections):
            parent, slot = divmod(j - 1, CHILDREN_PER_SECTION)
            self.paths.append(_join(self.paths[parent], f"s{slot}"))
        last = self.n_sections - 1
        ints = [i for i in range(self.leaves_in(last)) if self.kind(last, i) == "int"]
        self.hot = _join(self.paths[last], f"k{ints[0] if ints else 0}")

    def leaves_in(self, j: int) -> int:
        if self.flat:
            return self.n_leaves
        return max(0, min(LEAVES_PER_SECTION, self.n_leaves - LEAVES_PER_SECTION * j))

    def children(self, j: int) -> list[tuple[str, int]]:
        if self.flat:
            return []
        first = CHILDREN_PER_SECTION * j + 1
        return [
            (_name("s", c), first + c) for c in range(CHILDREN_PER_SECTION) if first + c < self.n_sections
        ]

    def kind(self, j: int, i: int) -> str:
        if self.flat:  # .env values are scalars
            return ("int", "str", "bool", "float", "port")[i % 5]
        return KINDS[(i + j) % len(KINDS)]

    @property
    def depth(self) -> int:
        return 1 + max(p.count(".") + 1 if p else 0 for p in self.paths)

    def leaf_paths(self) -> list[str]:
        return [
            _join(self.paths[j], f"k{i}") for j in range(self.n_sections) for i in range(self.leaves_in(j))
        ]


def _join(a: str, b: str) -> str:
    return f"{a}.{b}" if a else b


def _name(prefix: str, i: int) -> str:
    """A field name, interned like the identifiers of a class body (CPython 3.11 only specialises an
    attribute read whose dict key *is* the interned name in the code)."""
    return sys.intern(f"{prefix}{i}")


def _value(kind: str, j: int, i: int) -> Any:
    if kind == "int":
        return (j * 10 + i) * 7
    if kind == "str":
        return f"value-{j}-{i}"
    if kind == "bool":
        return (i + j) % 2 == 0
    if kind == "float":
        return (j + i) / 4 + 0.5
    if kind == "list_int":
        return [i, j, 3]
    if kind == "list_str":
        return ["alpha", f"beta{j}"]
    if kind == "url":
        return f"https://host-{j}.example.com:8443/api/{i}"
    if kind == "port":
        return 1024 + (j * 10 + i) % 60000
    raise ValueError(kind)


def gen_data(spec: Spec, variant: int = 0) -> dict[str, Any]:
    """The nested dict for ``spec``; ``variant`` is the value of the ``hot`` leaf (everything else fixed)."""
    built: dict[int, dict[str, Any]] = {}
    for j in range(spec.n_sections - 1, -1, -1):
        section: dict[str, Any] = {
            _name("k", i): _value(spec.kind(j, i), j, i) for i in range(spec.leaves_in(j))
        }
        for name, child in spec.children(j):
            section[name] = built.pop(child)
        built[j] = section
    data = built[0]
    node = data
    *parents, last = spec.hot.split(".")
    for part in parents:
        node = node[part]
    node[last] = variant
    return data


def _py_type(kind: str) -> Any:
    from typing import Annotated

    from pydantic import AnyUrl, Field

    return {
        "int": int, "str": str, "bool": bool, "float": float, "list_int": list[int],
        "list_str": list[str], "url": AnyUrl, "port": Annotated[int, Field(ge=1, le=65535)],
    }[kind]  # fmt: skip


def gen_fields(spec: Spec, *, share_classes: bool = False) -> dict[str, tuple[Any, Any]]:
    """Top-level ``{name: (type, ...)}`` for ``spec``, built with ``create_model``: one frozen class per
    section, or with ``share_classes`` one per distinct section shape (much faster to build at 100k
    leaves; validation, diff and memory costs per node are the same).
    """
    from pydantic import ConfigDict, create_model

    frozen = ConfigDict(frozen=True)
    classes: dict[int, Any] = {}
    by_shape: dict[tuple[Any, ...], Any] = {}
    root: dict[str, tuple[Any, Any]] = {}
    for j in range(spec.n_sections - 1, -1, -1):
        fields: dict[str, tuple[Any, Any]] = {
            _name("k", i): (_py_type(spec.kind(j, i)), ...) for i in range(spec.leaves_in(j))
        }
        for name, child in spec.children(j):
            fields[name] = (classes.pop(child), ...)
        if j == 0:
            root = fields
            continue
        shape = tuple((k, spec.kind(j, int(k[1:])) if k[0] == "k" else id(t)) for k, (t, _) in fields.items())
        cls = by_shape.get(shape) if share_classes else None
        if cls is None:
            cls = create_model(f"Sec{j}", __config__=frozen, **fields)  # type: ignore[call-overload]
            by_shape[shape] = cls
        classes[j] = cls
    return root


def frozen_model(fields: dict[str, tuple[Any, Any]], name: str = "Top") -> Any:
    """A frozen pydantic ``BaseModel`` with ``fields`` (the floor's validator)."""
    from pydantic import ConfigDict, create_model

    return create_model(name, __config__=ConfigDict(frozen=True), **fields)  # type: ignore[call-overload]


def livesettings_class(
    fields: dict[str, tuple[Any, Any]],
    *,
    model_config: dict[str, Any],
    reload_config: Any,
    extra: dict[str, Any] | None = None,
    name: str = "BenchSettings",
) -> Any:
    """A ``ReloadableSettings`` subclass with dynamically built fields (a class statement's namespace)."""
    from livesettings import ReloadableSettings

    ns: dict[str, Any] = {
        "__module__": __name__,
        "__qualname__": name,
        "__annotations__": {k: t for k, (t, _) in fields.items()},
        "model_config": model_config,
        "reload_config": reload_config,
    }
    for key, (_, default) in fields.items():
        if default is not ...:
            ns[key] = default
    ns.update(extra or {})
    return type(ReloadableSettings)(name, (ReloadableSettings,), ns)


def pydantic_settings_class(
    fields: dict[str, tuple[Any, Any]], *, yaml_file: Path | None = None, toml_file: Path | None = None,
    libyaml: bool = False,
) -> Any:
    """A stock pydantic-settings class reading ``yaml_file`` / ``toml_file`` with its own sources.

    ``libyaml``: its YAML source parses with libyaml's ``CSafeLoader`` (the loader livesettings
    and the floor use) instead of PyYAML's pure-Python ``safe_load``, so a comparison measures
    the reload machinery and not the parser.
    """
    from pydantic import create_model
    from pydantic_settings import (
        BaseSettings,
        SettingsConfigDict,
        TomlConfigSettingsSource,
        YamlConfigSettingsSource,
    )

    class LibyamlSource(YamlConfigSettingsSource):
        def _read_file(self, file_path: Path) -> dict[str, Any]:
            import yaml

            with open(file_path, "rb") as fh:
                return yaml.load(fh, Loader=yaml.CSafeLoader) or {}  # noqa: S506 - the safe C loader

    class Base(BaseSettings):
        model_config = SettingsConfigDict(
            yaml_file=str(yaml_file) if yaml_file else None, toml_file=str(toml_file) if toml_file else None
        )

        @classmethod
        def settings_customise_sources(
            cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
        ):  # type: ignore[no-untyped-def]
            extra = []
            if yaml_file:
                extra.append((LibyamlSource if libyaml else YamlConfigSettingsSource)(settings_cls))
            if toml_file:
                extra.append(TomlConfigSettingsSource(settings_cls))
            return (init_settings, env_settings, dotenv_settings, file_secret_settings, *extra)

    return create_model("PydanticSettings", __base__=Base, **fields)  # type: ignore[call-overload]


# ------------------------------------------------------------------------------------------- dumpers


def dump_yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=None, width=1000)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(type(v))


def dump_toml(data: dict[str, Any]) -> str:
    lines: list[str] = []

    def emit(prefix: list[str], table: dict[str, Any]) -> None:
        if prefix:
            lines.append(f"\n[{'.'.join(prefix)}]")
        for k, v in table.items():
            if not isinstance(v, dict):
                lines.append(f"{k} = {_toml_value(v)}")
        for k, v in table.items():
            if isinstance(v, dict):
                emit([*prefix, k], v)

    emit([], data)
    return "\n".join(lines) + "\n"


def dump_env(data: dict[str, Any]) -> str:
    return "".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}\n" for k, v in data.items())


DUMPERS = {"yaml": dump_yaml, "toml": dump_toml, "env": dump_env}


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# -------------------------------------------------------------------------------------------- formats


def fmt_time(seconds: float) -> str:
    if math.isnan(seconds):
        return "–"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.1f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        v = seconds * 1e3
        return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "–"
    v = seconds * 1e3
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def fmt_ratio(r: float) -> str:
    if math.isnan(r):
        return "–"
    return f"{r:.2f}×" if r < 10 else f"{r:.1f}×" if r < 100 else f"{r:,.0f}×"


def fmt_bytes(n: float) -> str:
    if n < 1024:
        return f"{n:.0f} B"
    if n < 1024**2:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024**2:.2f} MiB"


def fmt_int(n: float) -> str:
    return f"{n:,.0f}"


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else "PASS" if ok else "FAIL"


# --------------------------------------------------------------------------------------------- reports


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


@dataclass
class Check:
    """One target: ``name`` measured ``value`` against ``target``; ``ok`` is None when not measured."""

    name: str
    value: str
    target: str
    ok: bool | None


@dataclass
class Report:
    tables: list[Table] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)


def _is_numeric(cell: str) -> bool:
    s = cell.strip().strip("*")
    return bool(s) and (s[0].isdigit() or s[0] in "-–+.<>≤≥~") and s not in ("-",)


def markdown_table(table: Table) -> str:
    cols = table.columns
    align = []
    for c in range(len(cols)):
        cells = [r[c] for r in table.rows if c < len(r) and r[c] not in ("", "–")]
        align.append("---:" if c > 0 and cells and all(_is_numeric(x) for x in cells) else "---")
    out = [f"| {' | '.join(cols)} |", f"|{'|'.join(align)}|"]
    for row in table.rows:
        cells = [("**FAIL**" if x == "FAIL" else x) for x in row]
        out.append(f"| {' | '.join(cells)} |")
    return "\n".join(out)


def console_table(table: Table) -> str:
    cols = table.columns
    widths = [max(len(cols[c]), *(len(r[c]) for r in table.rows if c < len(r))) for c in range(len(cols))]
    numeric = [
        c > 0 and all(_is_numeric(r[c]) or r[c] in ("", "–") for r in table.rows) for c in range(len(cols))
    ]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            x.rjust(w) if num else x.ljust(w) for x, w, num in zip(cells, widths, numeric)
        ).rstrip()

    out = [table.title, line(cols), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in table.rows)
    out.extend(f"  note: {n}" for n in table.notes)
    return "\n".join(out)


def checks_table(checks: Sequence[Check]) -> Table:
    return Table(
        "Targets",
        ["measurement", "result", "target", "verdict"],
        [[c.name, c.value, c.target, verdict(c.ok)] for c in checks],
    )


# ------------------------------------------------------------------------------------------ running


@dataclass
class Job:
    name: str
    timeout_s: float = 120.0


def progress(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_job_subprocess(module: str, job: Job, quick: bool) -> dict[str, Any]:
    """Run ``python -m bench.<module> --job <name>`` in a fresh process group; its JSON result or an error."""
    with tempfile.NamedTemporaryFile("r", suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    cmd = [sys.executable, "-m", f"bench.{module}", "--job", job.name, "--json", str(out)]
    if quick:
        cmd.append("--quick")
    scratch = tempfile.mkdtemp(prefix=f"bench-{module}-")  # the job's temp files, removed afterwards
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["TMPDIR"] = scratch
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    try:
        rc = proc.wait(timeout=job.timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this call created
        proc.wait()
        out.unlink(missing_ok=True)
        return {
            "job": job.name,
            "error": f"timed out after {job.timeout_s:.0f} s",
            "elapsed_s": job.timeout_s,
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    elapsed = time.perf_counter() - started
    try:
        if rc != 0:
            return {"job": job.name, "error": f"exit status {rc}", "elapsed_s": elapsed}
        result: dict[str, Any] = json.loads(out.read_text())
    except (OSError, ValueError) as exc:
        return {"job": job.name, "error": f"no result ({exc})", "elapsed_s": elapsed}
    finally:
        out.unlink(missing_ok=True)
    result["elapsed_s"] = elapsed
    return result


def run_module(module: str, quick: bool) -> tuple[Report, list[dict[str, Any]]]:
    """Run every job of ``bench.<module>`` in its own subprocess and render the module's report."""
    import importlib

    mod = importlib.import_module(f"bench.{module}")
    results = []
    for job in mod.jobs(quick):
        progress(f"{module}: {job.name} ...")
        res = run_job_subprocess(module, job, quick)
        if "error" in res:
            progress(f"{module}: {job.name} FAILED: {res['error']}")
        else:
            progress(f"{module}: {job.name} done in {res['elapsed_s']:.1f} s")
        results.append(res)
    ok = [r for r in results if "error" not in r]
    report: Report = mod.render(ok, quick) if ok else Report()
    for r in results:
        if "error" in r:
            report.checks.append(Check(f"{module}/{r['job']}", f"error: {r['error']}", "runs", False))
    return report, results


def module_main(short: str) -> None:
    """Entry point of ``python -m bench.<short>``: one job in-process (``--job``) or all, printed."""
    import importlib

    parser = argparse.ArgumentParser(prog=f"python -m bench.{short}")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller sizes (smoke run)")
    parser.add_argument("--job", help="run one job in this process")
    parser.add_argument("--json", type=Path, help="with --job: write the raw result here")
    args = parser.parse_args()
    mod = sys.modules.get("__main__")
    if mod is None or not hasattr(mod, "run_job"):
        mod = importlib.import_module(f"bench.{short}")
    if args.job:
        result = {"job": args.job, **mod.run_job(args.job, args.quick)}
        if args.json:
            args.json.write_text(json.dumps(result))
        else:
            report = mod.render([result], args.quick)
            for t in report.tables:
                print(console_table(t), end="\n\n")
        return
    report, _ = run_module(short, args.quick)
    for t in report.tables:
        print(console_table(t), end="\n\n")
    if report.checks:
        print(console_table(checks_table(report.checks)))
