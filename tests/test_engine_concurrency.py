"""Tests for thread-safety: lock-free consistent reads, and serialised reloads delivered in order."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict

from livesettings import Diff, ReloadableSettings, ReloadConfig, on_change
from livesettings.exceptions import VersionNotFoundError

TIMEOUT = 60.0


class Pair(BaseModel):
    a: int = 0
    b: int = 0


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def content(i: int) -> str:
    return f"a: {i}\nb: {i}\npair: {{a: {i}, b: {i}}}\n"


def make_app(cfg: Path, seen: list[int] | None = None) -> type[ReloadableSettings]:
    class App(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
        reload_config = ReloadConfig(enabled=False, max_versions=5000)
        a: int = 0
        b: int = 0
        pair: Pair = Pair()

        @on_change
        def _record(self, diff: Diff) -> None:
            if seen is not None:
                assert diff.version is not None
                seen.append(diff.version.number)

    return App


def run_all(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.daemon = True  # a deadlock fails the test instead of hanging the interpreter
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads often: more interleavings, and the writer is not starved by spinning readers."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-3)
    yield
    sys.setswitchinterval(before)


class TestConsistentReads:
    """Readers never see a mix of two versions."""

    def test_eight_readers_during_a_thousand_reloads(self, tmp_path: Path, fast_switching: None) -> None:
        """Readers checking a.a == b within snapshot() and within one section object see zero violations."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text(content(0))
        with make_app(cfg)() as s:
            done = threading.Event()
            violations: list[tuple[str, Any]] = []
            observed: list[set[int]] = []
            errors: list[BaseException] = []

            def reader() -> None:
                mine: set[int] = set()
                try:
                    while not done.is_set():
                        snap = s.snapshot()
                        if not (snap.a == snap.b == snap.pair.a == snap.pair.b):
                            violations.append(("snapshot", snap))
                        pair = s.pair
                        if pair.a != pair.b:
                            violations.append(("section", pair))
                        mine.add(snap.a)
                        time.sleep(0)  # let the writer in: spinning readers would starve it of the GIL
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
                observed.append(mine)

            def writer() -> None:
                try:
                    for i in range(1, 1001):
                        cfg.write_text(content(i))
                        assert s.reload() is not None
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
                finally:
                    done.set()

            readers = [threading.Thread(target=reader, name=f"reader-{i}") for i in range(8)]
            run_all([*readers, threading.Thread(target=writer, name="writer")])
            assert errors == []
            assert violations == []
            assert s.a == s.pair.b == 1000
            assert len(observed) == 8
            assert len(set().union(*observed)) > 2, "readers did not overlap with the reloads"


class TestSerialisedReloads:
    """Concurrent reload() calls are serialised and delivered in commit order."""

    def test_concurrent_reload_calls(self, tmp_path: Path) -> None:
        """Reloads from several threads give strictly increasing versions and in-order callbacks."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text(content(0))
        seen: list[int] = []
        with make_app(cfg, seen)() as s:
            errors: list[BaseException] = []
            barrier = threading.Barrier(4)

            def worker(k: int) -> None:
                try:
                    barrier.wait()
                    for i in range(60):
                        atomic_write(cfg, content(k * 1000 + i + 1))
                        s.reload()
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            run_all([threading.Thread(target=worker, args=(k,)) for k in range(4)])
            assert errors == []
            numbers = [v.number for v in s.history]
            ids = [v.id for v in s.history]
            assert numbers == list(range(1, len(numbers) + 1))
            assert ids == sorted(ids) and len(set(ids)) == len(ids)
            assert seen == numbers[1:], "handlers did not see every version exactly once, in commit order"
            assert s.a == s.b == s.pair.a

    def test_rollbacks_racing_reloads(self, tmp_path: Path) -> None:
        """rollback() and reload() from different threads never break ordering or consistency."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text(content(0))
        seen: list[int] = []
        with make_app(cfg, seen)() as s:
            errors: list[BaseException] = []

            def reloader() -> None:
                try:
                    for i in range(1, 150):
                        atomic_write(cfg, content(i))
                        s.reload()
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            def roller() -> None:
                try:
                    for _ in range(150):
                        try:
                            s.rollback()
                        except VersionNotFoundError:
                            pass
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            run_all([threading.Thread(target=reloader), threading.Thread(target=roller)])
            assert errors == []
            numbers = [v.number for v in s.history]
            assert numbers == list(range(1, len(numbers) + 1))
            with_changes = [v.number for v in s.history if v.changes]
            assert seen == with_changes
            snap = s.snapshot()
            assert snap.a == snap.b == snap.pair.a == snap.pair.b

    @pytest.mark.parametrize("n_threads", [2, 8])
    def test_reload_of_one_change_is_applied_once(self, tmp_path: Path, n_threads: int) -> None:
        """Many threads reloading the same new file produce exactly one version."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text(content(0))
        seen: list[int] = []
        with make_app(cfg, seen)() as s:
            cfg.write_text(content(1))
            results: list[Any] = []
            barrier = threading.Barrier(n_threads)

            def worker() -> None:
                barrier.wait()
                results.append(s.reload())

            run_all([threading.Thread(target=worker) for _ in range(n_threads)])
            assert sum(r is not None for r in results) == 1
            assert seen == [2]



class TestDryRunsBesideReloads:
    def test_check_on_another_thread_waits_for_the_load_in_flight(self, tmp_path: Path) -> None:
        """``check()`` loads with the same loader as reloads (kept sources, reused sections), so it
        waits for a load in flight instead of running beside it: their validations never overlap."""
        from pydantic import field_validator

        cfg = tmp_path / "app.yaml"
        atomic_write(cfg, "n: 0\n")
        events: list[tuple[str, str]] = []
        inside, checking, entered = threading.Event(), threading.Event(), threading.Event()

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg))
            reload_config = ReloadConfig(enabled=False)
            n: int = 0

            @field_validator("n")
            @classmethod
            def _observe(cls, v: int) -> int:
                who = threading.current_thread().name
                events.append(("enter", who))
                if who == "reloader":
                    inside.set()
                    checking.wait(TIMEOUT)  # the checker is about to call check()
                    entered.wait(1.0)  # without the wait in load, the check's validation starts now
                elif who == "checker":
                    entered.set()
                events.append(("exit", who))
                return v

        with App() as s:
            events.clear()
            atomic_write(cfg, "n: 1\n")
            reloader = threading.Thread(target=s.reload, name="reloader")
            results = []
            checker = threading.Thread(
                target=lambda: (inside.wait(TIMEOUT), checking.set(), results.append(s.check())), name="checker"
            )
            run_all([reloader, checker])
            assert s.n == 1 and results and results[0].is_valid
        assert events == [("enter", "reloader"), ("exit", "reloader"), ("enter", "checker"), ("exit", "checker")]
