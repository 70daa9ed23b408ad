"""Measure ReloadableSettings as a drop-in for pydantic-settings with pydantic-settings' own tests.

``make compat`` (or ``python compat/run.py``) downloads the sdist of the pinned pydantic-settings
version (it ships ``tests/`` and ``docs/``), installs it and its test dependencies with
livesettings into a venv of its own under ``.compat/`` (git-ignored, reused between runs), then
runs the unmodified suite twice in the same run:

* the baseline: as shipped, with pydantic-settings' ``BaseSettings``;
* rebound: with ``pydantic_settings.BaseSettings`` rebound to ``livesettings.ReloadableSettings``
  before the test modules import it (the ``compat/rebind.py`` plugin).

It prints ``N passed / M baseline``, then every test that passes on the baseline and not rebound,
grouped by its failure message. Tests listed in ``compat/expected-differences.txt`` (each with the
reason hot reload makes it meaningless) are subtracted; the run exits 1 if any other test that
passes on the baseline fails rebound, and names listed tests that pass now (remove them).

Options: ``--rebound-only`` reuses the last baseline; ``--tests PATH ...`` runs a subset (as
pytest node ids relative to the sdist); ``--refresh`` rebuilds the venv.

It cannot pass by measuring nothing: it fails (exit 1) if the venv cannot be built, if the
baseline run fails any test or exits non-zero, if no test passes on the baseline, if a full run's
baseline passes fewer than ``BASELINE_PASSED`` tests (a missing dependency skipping some), and
if a test of the baseline is missing from the rebound run (it counts as a difference).
"""

from __future__ import annotations

import argparse
import collections
import fcntl
import fnmatch
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

PINNED = "2.16.3"
BASELINE_PASSED = 1376  # the pinned suite's passing tests with every test dependency installed
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = ROOT / ".compat"
VENV = CACHE / "venv"
EXPECTED = HERE / "expected-differences.txt"
# pydantic-settings' "testing" dependency group (its pyproject), plus the optional backends its
# tests exercise; pytest-timeout so one hanging test cannot stall the run.
TEST_DEPS = [
    f"pydantic-settings[yaml,toml,aws-secrets-manager,azure-key-vault,gcp-secret-manager]=={PINNED}",
    "pytest", "pytest-examples", "pytest-mock", "pytest-timeout", "moto[secretsmanager,ssm]", "chardet<6",
]


def _run(cmd: list[str], **kw: object) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    proc = subprocess.run(cmd, **kw)  # type: ignore[call-overload]
    if proc.returncode:
        raise SystemExit(f"FAIL: {' '.join(map(str, cmd[:4]))} ... exited {proc.returncode}")


def venv_python(refresh: bool) -> Path:
    """The compat venv's python, created and filled when missing or when its inputs changed."""
    py = VENV / "bin" / "python"
    key = hashlib.sha256(
        "\n".join([*TEST_DEPS, (ROOT / "pyproject.toml").read_text(encoding="utf-8")]).encode()
    ).hexdigest()
    stamp = VENV / ".livesettings-compat"
    if refresh or not py.exists() or not stamp.exists() or stamp.read_text() != key:
        _run([sys.executable, "-m", "venv", "--clear", str(VENV)])
        _run([str(py), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        _run([str(py), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[etcd]", *TEST_DEPS])
        stamp.write_text(key)
    return py


def sdist_tree(py: Path) -> Path:
    """The extracted sdist of the pinned version (downloaded once)."""
    tree = CACHE / f"pydantic_settings-{PINNED}"
    if (tree / "tests").is_dir():
        return tree
    archive = CACHE / f"pydantic_settings-{PINNED}.tar.gz"
    if not archive.exists():
        _run([str(py), "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
              f"pydantic-settings=={PINNED}", "-d", str(CACHE)])  # fmt: skip
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(CACHE)
    return tree


def run_suite(py: Path, tree: Path, *, rebind: bool, tests: list[str]) -> dict[str, dict[str, str]]:
    """Run the suite once; returns {node id: {"outcome", "message"}}.

    The baseline must pass as a whole (pytest exit 0): a failure there means the environment or
    the suite is broken, and nothing measured against it would mean anything.
    """
    # A subset's results go to their own file: --rebound-only compares with the last full baseline.
    out = CACHE / f"{'rebound' if rebind else 'baseline'}{'-subset' if tests else ''}.json"
    out.unlink(missing_ok=True)
    env = {
        **os.environ,
        "LIVESETTINGS_COMPAT_REBIND": "1" if rebind else "0",
        "LIVESETTINGS_COMPAT_RESULTS": str(out),
        # The sdist root too: some tests import ``tests`` as a package (its copy of pydantic_settings
        # is the pinned version, the same code as the installed one).
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), str(tree), os.environ.get("PYTHONPATH")])),
        "COLUMNS": "80",
    }
    env.pop("LIVESETTINGS_ENV", None)
    cmd = [str(py.parent / "pytest"), "-p", "rebind", "-q", "-p", "no:cacheprovider", "-o", "timeout=60",
           "--tb=no", "-rN", *(tests or ["tests"])]  # fmt: skip
    label = "rebound to ReloadableSettings" if rebind else "baseline (BaseSettings)"
    print(f"\n== {label}: {' '.join(cmd[1:])}", flush=True)
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail = proc.stdout.strip().splitlines()[-1:] or ["(no output)"]
    print(f"   {tail[0]}  [{time.monotonic() - started:.0f} s]")
    if not out.exists():
        print(proc.stdout[-4000:])
        raise SystemExit(f"FAIL: the {label} run wrote no results (pytest exit {proc.returncode})")
    results: dict[str, dict[str, str]] = json.loads(out.read_text(encoding="utf-8"))
    if not rebind and proc.returncode != 0:
        print(proc.stdout[-4000:])
        out.unlink()  # never reused by --rebound-only
        raise SystemExit(f"FAIL: the {label} run failed (pytest exit {proc.returncode}): {_counts(results) or 'no tests'}")
    return results


def load_expected() -> dict[str, str]:
    """``{node id or fnmatch pattern: reason}`` from expected-differences.txt."""
    expected: dict[str, str] = {}
    for number, raw in enumerate(EXPECTED.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        test, sep, reason = line.partition("  # ")
        if not sep or not reason.strip():
            raise SystemExit(f"{EXPECTED.name}:{number}: every entry needs a reason: '<test id>  # <reason>'")
        expected[test.strip()] = reason.strip()
    return expected


def _listed(test: str, expected: dict[str, str]) -> str | None:
    for pattern, reason in expected.items():
        if test == pattern or fnmatch.fnmatchcase(test, pattern):
            return pattern
    return None


def _counts(results: dict[str, dict[str, str]]) -> str:
    c = collections.Counter(r["outcome"] for r in results.values())
    return ", ".join(f"{c[k]} {k}" for k in ("passed", "failed", "error", "skipped") if c[k])


def _selected(nodeid: str, tests: list[str]) -> bool:
    """Whether ``--tests`` (paths or node ids, as given to pytest) selects ``nodeid``."""
    for test in tests:
        test = test.removeprefix("./").rstrip("/")
        if nodeid == test or nodeid.startswith((f"{test}::", f"{test}[", f"{test}/")):
            return True
    return False


def _baseline_id(nodeid: str, baseline: dict[str, dict[str, str]]) -> str:
    """The baseline's id of a rebound test whose parameter id is the class name."""
    if "[" not in nodeid or "ReloadableSettings" not in nodeid.partition("[")[2]:
        return nodeid
    head, _, params = nodeid.partition("[")
    renamed = f"{head}[{params.replace('ReloadableSettings', 'BaseSettings')}"
    return renamed if renamed in baseline else nodeid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rebound-only", action="store_true", help="reuse the last baseline results")
    parser.add_argument("--tests", nargs="*", default=[], help="pytest node ids relative to the sdist")
    parser.add_argument("--refresh", action="store_true", help="rebuild the compat venv")
    parser.add_argument("--show", type=int, default=12, help="tests shown per failure message")
    args = parser.parse_args(argv)
    CACHE.mkdir(exist_ok=True)
    lock = open(CACHE / ".lock", "w")  # noqa: SIM115  (held until exit)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise SystemExit(f"FAIL: another compat run is using {CACHE}") from None
    expected = load_expected()
    py = venv_python(args.refresh)
    version = subprocess.run([str(py), "-c", "import pydantic_settings as p; print(p.__version__)"],
                             check=True, stdout=subprocess.PIPE, text=True).stdout.strip()  # fmt: skip
    if version != PINNED:
        raise SystemExit(f"FAIL: the compat venv has pydantic-settings {version}, not the pinned {PINNED} (--refresh)")
    tree = sdist_tree(py)
    baseline_file = CACHE / "baseline.json"
    if args.rebound_only and baseline_file.exists():
        baseline = json.loads(baseline_file.read_text(encoding="utf-8"))
        print(f"\n== baseline (BaseSettings): reused {baseline_file}")
    else:
        baseline = run_suite(py, tree, rebind=False, tests=args.tests)
    rebound = run_suite(py, tree, rebind=True, tests=args.tests)
    return compare(baseline, rebound, expected, tests=args.tests, show=args.show)


def compare(
    baseline: dict[str, dict[str, str]],
    rebound: dict[str, dict[str, str]],
    expected: dict[str, str],
    *,
    tests: list[str],
    show: int = 12,
) -> int:
    """Print the measure and the unexpected differences; 0 if there are none (and something was measured)."""
    # A test parametrized with the class itself takes its id from the class name: rebound, the
    # parameter ``BaseSettings`` is named ``ReloadableSettings``. Same test, so compare it as one.
    rebound = {_baseline_id(t, baseline): r for t, r in rebound.items()}
    if tests:
        baseline = {k: v for k, v in baseline.items() if _selected(k, tests)}

    passing = {t for t, r in baseline.items() if r["outcome"] == "passed"}
    if not passing:
        print(f"\nFAIL: no test passed on the baseline ({_counts(baseline) or 'none ran'}): nothing was measured")
        return 1
    if not tests and len(passing) < BASELINE_PASSED:
        print(f"\nFAIL: {len(passing)} tests passed on the baseline, not {BASELINE_PASSED}: "
              f"{_counts(baseline)} (a test dependency missing?)")  # fmt: skip
        return 1
    now = {t for t, r in rebound.items() if r["outcome"] == "passed"}
    lost = sorted(passing - now)
    listed = {t: _listed(t, expected) for t in lost}
    unexpected = [t for t in lost if listed[t] is None]
    stale = sorted(t for t in now & passing if _listed(t, expected) is not None)

    print(f"\nbaseline: {_counts(baseline)}")
    print(f"rebound:  {_counts(rebound)}")
    print(f"\n{len(now & passing)} passed / {len(passing)} baseline")
    print(f"expected differences: {len(lost) - len(unexpected)} of the {len(lost)} tests that differ "
          f"({len(expected)} entries in {EXPECTED.name})")  # fmt: skip
    gained = sorted(now - passing)
    if gained:
        print(f"passing rebound but not on the baseline: {len(gained)}")
    if stale:
        print(f"\nlisted in {EXPECTED.name} but passing now ({len(stale)}; remove them):")
        for test in stale:
            print(f"  {test}")
    if unexpected:
        groups: dict[str, list[str]] = collections.defaultdict(list)
        for test in unexpected:
            groups[rebound.get(test, {}).get("message") or rebound.get(test, {}).get("outcome", "not run")].append(test)
        print(f"\nunexpected differences: {len(unexpected)} (by failure message, most frequent first)")
        for message, tests in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            print(f"\n  [{len(tests)}] {message}")
            for test in tests[: show]:
                print(f"      {test}")
            if len(tests) > show:
                print(f"      ... and {len(tests) - show} more")
        print(f"\nFAIL: {len(unexpected)} tests pass with BaseSettings and fail with ReloadableSettings, "
              f"and are not in {EXPECTED.name}")  # fmt: skip
        return 1
    print("\nOK: every other difference is listed with its reason")
    return 0


if __name__ == "__main__":
    sys.exit(main())
