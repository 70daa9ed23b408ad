"""Subscriber dispatch cost vs number of subscriptions (``settings.watch(path, cb)`` on distinct paths).

Three settings objects load the same generated 10,000-leaf YAML config and register 10, 1,000 and
10,000 ``watch()`` callbacks on distinct leaf paths, one of them on the leaf that changes. After one
real reload (which must call exactly that one callback), the notify step of that reload,
``engine.notifier.publish(version, old, new, changes)``, is timed directly, interleaved across the
three objects. A publish of a change on an unsubscribed leaf is timed as well (index lookup only),
and the one-off cost of registering the subscriptions is reported.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._util import (
    Case,
    Check,
    Job,
    Report,
    Spec,
    Table,
    dump_yaml,
    fmt_time,
    gen_data,
    gen_fields,
    livesettings_class,
    median,
    module_main,
    progress,
    run_interleaved,
    verdict,
)

COUNTS = (10, 1_000, 10_000)
TARGET_S = 50e-6


def jobs(quick: bool) -> list[Job]:
    return [Job("dispatch", timeout_s=120)]


def run_job(name: str, quick: bool) -> dict[str, Any]:
    from pydantic_settings import SettingsConfigDict

    from livesettings import Change, ChangeType, ReloadConfig

    spec = Spec(10_000)
    fields = gen_fields(spec)
    tmp = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    path = tmp / "config.yaml"
    path.write_text(dump_yaml(gen_data(spec, 0)))
    cls = livesettings_class(
        fields,
        model_config=SettingsConfigDict(yaml_file=str(path)),
        reload_config=ReloadConfig(enabled=False),
    )
    leaves = spec.leaf_paths()
    others = [p for p in leaves if p != spec.hot]
    rng = random.Random(7)
    unsubscribed = others[-1]
    pool = others[:-1]
    rng.shuffle(pool)
    hits: dict[int, int] = {}
    objs: dict[int, Any] = {}
    register_s: dict[int, float] = {}
    for count in COUNTS:
        s = cls()
        hits[count] = 0

        def cb(diff: Any, count: int = count) -> None:
            hits[count] += 1

        def noop(diff: Any) -> None:
            pass

        paths = [spec.hot, *pool[: count - 1]]
        rng.shuffle(paths)
        t0 = time.perf_counter()
        for p in paths:
            s.watch(p, cb if p == spec.hot else noop)
        register_s[count] = time.perf_counter() - t0
        objs[count] = s
    path.write_text(dump_yaml(gen_data(spec, 1)))
    cases = []
    extra: dict[int, int] = {}
    for count, s in objs.items():
        version = s.reload()
        assert version is not None and len(version.changes) == 1, version
        assert hits[count] == 1, f"{count}: {hits[count]} callbacks for one matching change"
        engine = s._ls_engine
        old = s.history[-2].snapshot
        new = version.snapshot
        notifier = engine.notifier
        miss = (Change(unsubscribed, ChangeType.MODIFY, 1, 2),)
        cases.append(
            Case(f"hit|{count}", lambda n=notifier, v=version, o=old, w=new: n.publish(v, o, w, v.changes))
        )
        cases.append(
            Case(f"miss|{count}", lambda n=notifier, v=version, o=old, w=new, c=miss: n.publish(v, o, w, c))
        )
        extra[count] = hits[count]
    progress("dispatch: subscriptions registered, timing publish")
    samples = run_interleaved(cases, rounds=5 if quick else 15, min_sample_s=0.005 if quick else 0.02)
    calls = {count: hits[count] - extra[count] for count in COUNTS}
    for s in objs.values():
        s.close()
    return {
        "publish": {k: median(v) for k, v in samples.items()},
        "register_s": {str(k): v for k, v in register_s.items()},
        "callbacks_during_timing": {str(k): v for k, v in calls.items()},
        "rounds": 5 if quick else 15,
    }


def render(results: list[dict[str, Any]], quick: bool) -> Report:
    res = results[0]
    rows = []
    checks: list[Check] = []
    for count in COUNTS:
        hit = res["publish"][f"hit|{count}"]
        miss = res["publish"][f"miss|{count}"]
        target, ok = "–", None
        if count == 10_000:
            target, ok = "≤ 50 µs", hit <= TARGET_S
            checks.append(
                Check("dispatch of one matching change, 10,000 subscriptions", fmt_time(hit), "≤ 50 µs", ok)
            )
        rows.append(
            [
                f"{count:,}",
                fmt_time(hit),
                fmt_time(miss),
                fmt_time(res["register_s"][str(count)]),
                fmt_time(res["register_s"][str(count)] / count),
                target,
                verdict(ok),
            ]
        )
    table = Table(
        "Subscriber dispatch (one reload's notify step), 10,000-leaf config",
        [
            "subscriptions",
            "publish: change matches 1 (callback called)",
            "publish: change matches none",
            "register all (one-off)",
            "register, per call",
            "target",
            "verdict",
        ],
        rows,
        [
            (
                f"Median of {res['rounds']} interleaved rounds; `notifier.publish(version, old, new, changes)` with the "
                "one-leaf change of a real reload; the callback builds nothing, the library builds the `Diff`."
            )
        ],
    )
    return Report([table], checks)


if __name__ == "__main__":
    module_main("dispatch")
