"""The subscriber protocol: preparers (two-phase change), per-handler timeouts, coalescing."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr
from pydantic_settings import SettingsConfigDict

from conftest import wait_for
from livesettings import Diff, ReloadableSettings, ReloadConfig, ReloadError, on_change
from livesettings.typing import Preparation

TIMEOUT = 10.0


class Database(BaseModel):
    url: str = "db1"
    password: SecretStr = SecretStr("")


def write(path: Path, url: str, port: int = 1, password: str = "") -> None:
    text = f"database:\n  url: {url}\n  password: '{password}'\nport: {port}\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "app.yaml"
    write(path, "db1")
    return path


def app_class(cfg: Path, **config: Any) -> type[ReloadableSettings]:
    class App(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(cfg))
        reload_config = ReloadConfig(enabled=False, **config)
        database: Database = Database()
        port: int = 0

    return App


class Pools:
    """Preparers that build a 'pool' per candidate and record what they learn."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.veto_url: str | None = None
        self.lock_free: list[bool] = []

    def settings_class(self, cfg: Path, **config: Any) -> type[ReloadableSettings]:
        pools = self

        class App(app_class(cfg, **config)):  # type: ignore[misc]
            @on_change("database", prepare=True)
            def _first(self, diff: Diff) -> Preparation:
                pools.events.append(("first prepares", diff.new_value.url))
                pools.lock_free.append(self._ls_engine._lock.acquire(timeout=TIMEOUT))
                self._ls_engine._lock.release()
                committed = yield
                pools.events.append(("first learns", committed))

            @on_change("database", prepare=True)
            def _second(self, diff: Diff) -> Preparation:
                pools.events.append(("second prepares", diff.new_value.url))
                if diff.new_value.url == pools.veto_url:
                    raise RuntimeError(f"cannot connect to {diff.new_value.url}")
                committed = yield
                pools.events.append(("second learns", committed))

            @on_change("database", prepare=True)
            def _third(self, diff: Diff) -> None:
                pools.events.append(("third prepares", diff.new_value.url))

            @on_change("database")
            def _handler(self, diff: Diff) -> None:
                pools.events.append(("handler", diff.new_value.url))

        return App


class TestPreparers:
    """A preparer runs before the commit, may veto, and learns whether its version was committed."""

    def test_committed_version(self, cfg: Path) -> None:
        """Every preparer prepares in registration order, then learns True, all before the handlers run."""
        pools = Pools()
        with pools.settings_class(cfg)() as app:
            write(cfg, "db2")
            app.reload()
            assert app.database.url == "db2"
        assert pools.events == [
            ("first prepares", "db2"), ("second prepares", "db2"), ("third prepares", "db2"),
            ("first learns", True), ("second learns", True), ("handler", "db2"),
        ]

    def test_preparer_sees_the_candidate_diff_filtered_by_path(self, cfg: Path) -> None:
        """A preparer gets the candidate's Diff at its path (no version yet) and is not called for other paths."""
        seen: list[Diff] = []

        class App(app_class(cfg)):  # type: ignore[misc]
            @on_change("database.url", prepare=True)
            def _prep(self, diff: Diff) -> None:
                seen.append(diff)
                assert self.database.url == "db1", "a preparer runs before the commit"

        with App() as app:
            write(cfg, "db1", port=2)
            app.reload()
            assert seen == []
            write(cfg, "db2", port=2)
            app.reload()
        assert len(seen) == 1
        assert (seen[0].path, seen[0].old_value, seen[0].new_value) == ("database.url", "db1", "db2")
        assert seen[0].version is None

    def test_veto_rejects_the_version_like_any_rejection(self, cfg: Path, caplog: pytest.LogCaptureFixture) -> None:
        """A raising preparer: ReloadError naming it, last good config kept, error callbacks, audit WARNING, breaker."""
        pools = Pools()
        pools.veto_url = "db2"
        with pools.settings_class(cfg, failure_threshold=1)() as app:
            errors: list[BaseException] = []
            app.hot_reload.on_error(errors.append)
            first = app.version
            write(cfg, "db2")
            with caplog.at_level(logging.WARNING, logger="livesettings.audit"), pytest.raises(ReloadError) as info:
                app.reload()
            assert "_second" in str(info.value) and "cannot connect to db2" in str(info.value)
            assert info.value.stage == "prepare"
            assert app.database.url == "db1" and app.version is first
            assert app.last_error is info.value
            assert errors == [info.value]
            assert app.hot_reload.metrics.rejected == 1
            assert app.hot_reload.metrics.breaker_state == "open"
            audits = [r.getMessage() for r in caplog.records if r.name == "livesettings.audit"]
            assert any("rejected" in m and "_second" in m for m in audits), audits
        # the first had prepared: told to abort; the third never prepared; no handler ran
        assert pools.events == [("first prepares", "db2"), ("second prepares", "db2"), ("first learns", False)]

    def test_next_good_version_after_a_veto(self, cfg: Path) -> None:
        """After a veto, the next candidate is prepared afresh on top of the last good config."""
        pools = Pools()
        pools.veto_url = "db2"
        with pools.settings_class(cfg)() as app:
            write(cfg, "db2")
            with pytest.raises(ReloadError):
                app.reload()
            write(cfg, "db3")
            app.reload()
            assert app.database.url == "db3" and app.last_error is None
        assert pools.events[-3:] == [("first learns", True), ("second learns", True), ("handler", "db3")]

    def test_preparers_run_without_the_engine_lock(self, cfg: Path) -> None:
        """Another thread can take the engine's state lock while a preparer runs (user code never runs under it)."""
        pools = Pools()
        with pools.settings_class(cfg)() as app:
            write(cfg, "db2")
            done: list[bool] = []
            worker = threading.Thread(target=lambda: done.append(app.reload() is not None))
            worker.start()
            worker.join(TIMEOUT)
            assert done == [True]
        assert pools.lock_free == [True]

    def test_preparers_are_serialised_with_the_pipeline(self, cfg: Path) -> None:
        """A reload started while a preparer runs prepares on top of the version being prepared, in order."""
        entered, release = threading.Event(), threading.Event()
        seen: list[tuple[str, str]] = []

        class App(app_class(cfg)):  # type: ignore[misc]
            @on_change("database.url", prepare=True)
            def _prep(self, diff: Diff) -> None:
                seen.append((diff.old_value, diff.new_value))
                if diff.new_value == "db2":
                    entered.set()
                    assert release.wait(TIMEOUT)

        with App() as app:
            write(cfg, "db2")
            first = threading.Thread(target=app.reload)
            first.start()
            assert entered.wait(TIMEOUT)
            write(cfg, "db3")
            second = threading.Thread(target=app.reload)
            second.start()
            release.set()
            first.join(TIMEOUT)
            second.join(TIMEOUT)
            assert app.database.url == "db3"
            assert [v.snapshot.database.url for v in app.history] == ["db1", "db2", "db3"]
        assert seen == [("db1", "db2"), ("db2", "db3")]

    def test_veto_message_masks_secrets(self, cfg: Path) -> None:
        """A preparer's exception text that quotes a secret is masked in the ReloadError."""

        class App(app_class(cfg)):  # type: ignore[misc]
            @on_change("database", prepare=True)
            def _prep(self, diff: Diff) -> None:
                raise RuntimeError(f"login refused for {diff.new_value.password.get_secret_value()}")

        with App() as app:
            write(cfg, "db1", password="hunter2-very-secret")
            with pytest.raises(ReloadError) as info:
                app.reload()
            assert "hunter2-very-secret" not in str(info.value)
            assert "hunter2-very-secret" not in str(app.last_error)

    def test_watch_preparer_also_guards_rollback(self, cfg: Path) -> None:
        """A preparer registered with watch(prepare=True) can veto a rollback too; the current version stays."""
        with app_class(cfg)() as app:
            write(cfg, "db2")
            app.reload()

            def refuse_db1(diff: Diff) -> None:
                if diff.new_value == "db1":
                    raise RuntimeError("db1 is being decommissioned")

            handle = app.watch("database.url", refuse_db1, prepare=True)
            with pytest.raises(ReloadError, match="decommissioned"):
                app.rollback()
            assert app.database.url == "db2"
            handle.cancel()
            app.rollback()
            assert app.database.url == "db1"

    def test_failure_after_the_yield_is_logged_and_the_version_stays(
        self, cfg: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A preparer that raises while being told the outcome is logged; the committed version stays."""

        class App(app_class(cfg)):  # type: ignore[misc]
            @on_change("database", prepare=True)
            def _prep(self, diff: Diff) -> Preparation:
                yield
                raise RuntimeError("swap failed")

        with App() as app, caplog.at_level(logging.WARNING, logger="livesettings.notify"):
            write(cfg, "db2")
            app.reload()
            assert app.database.url == "db2"
        assert any("_prep" in r.getMessage() and "commit" in r.getMessage() for r in caplog.records)

    def test_invalid_declarations_are_refused(self) -> None:
        """An async preparer, or one with critical= or timeout=, is refused where it is declared."""
        with pytest.raises(TypeError, match="synchronous"):

            @on_change("port", prepare=True)
            async def _async_prep(self: Any, diff: Diff) -> None: ...

        with pytest.raises(TypeError, match="neither"):

            @on_change("port", prepare=True, timeout=1.0)
            def _timed_prep(self: Any, diff: Diff) -> None: ...

        with pytest.raises(ValueError, match="timeout"):

            @on_change("port", timeout=0)
            def _zero(self: Any, diff: Diff) -> None: ...


class Hanging:
    """A handler that blocks on a chosen version until released, and one registered after it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.block_on = 2
        self.calls: list[tuple[int, int, int]] = []  # (old port, new port, version number)
        self.others: list[int] = []
        self.active = 0
        self.overlapped = False
        self.threads: set[str] = set()
        self.raise_when_released = False

    def handler(self, diff: Diff) -> None:
        self.active += 1
        self.overlapped |= self.active > 1
        self.threads.add(threading.current_thread().name)
        assert diff.version is not None
        self.calls.append((diff.old_value, diff.new_value, diff.version.number))
        try:
            if diff.new_value == self.block_on:
                self.entered.set()
                self.release.wait(TIMEOUT)
                if self.raise_when_released:
                    raise RuntimeError("late failure")
        finally:
            self.active -= 1

    def other(self, diff: Diff) -> None:
        self.others.append(diff.new_value)


class TestHandlerTimeout:
    """A handler that exceeds its timeout is abandoned as a dead letter; nobody waits for it any longer."""

    def test_hanging_handler_is_a_dead_letter_and_the_others_run(
        self, cfg: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """reload() returns after the timeout, the next handler ran, and the abandoned call is a TimeoutError dead letter."""
        h = Hanging()
        h.raise_when_released = True
        with app_class(cfg)() as app:
            app.watch("port", h.handler, timeout=0.2)
            app.watch("port", h.other)
            write(cfg, "db1", port=2)
            with caplog.at_level(logging.WARNING, logger="livesettings.notify"):
                app.reload()
            assert h.entered.is_set() and not h.release.is_set()
            assert h.others == [2]
            letters = app.hot_reload.dead_letters
            assert len(letters) == 1 and isinstance(letters[0].error, TimeoutError)
            assert "handler" in letters[0].handler and letters[0].version_id == app.version.id
            assert any("did not return within" in r.getMessage() for r in caplog.records)
            h.release.set()
            wait_for(lambda: h.active == 0)
            write(cfg, "db1", port=3)
            app.reload()
            wait_for(lambda: h.calls[-1] == (2, 3, 3))
            assert len(app.hot_reload.dead_letters) == 1, "the late failure of an abandoned call is ignored"

    def test_behind_handler_gets_one_combined_diff(self, cfg: Path) -> None:
        """While an abandoned call hangs, later versions reach the others at once and merge into one diff for it."""
        h = Hanging()
        with app_class(cfg)() as app:
            app.watch("port", h.handler, timeout=0.2)
            app.watch("port", h.other)
            for port in (2, 3, 4, 5):
                write(cfg, "db1", port=port)
                app.reload()
            assert h.others == [2, 3, 4, 5]
            assert h.calls == [(1, 2, 2)]
            h.release.set()
            wait_for(lambda: len(h.calls) == 2)
            assert h.calls[1] == (2, 5, 5), "old = what it last saw, new = the newest"
        assert not h.overlapped
        assert all(name.startswith("livesettings-handler") for name in h.threads)

    def test_close_does_not_wait_for_an_abandoned_call(self, cfg: Path, caplog: pytest.LogCaptureFixture) -> None:
        """close() returns while an abandoned call still hangs, even with a long close_timeout_s."""
        h = Hanging()
        app = app_class(cfg, close_timeout_s=60)()
        app.watch("port", h.handler, timeout=0.2)
        write(cfg, "db1", port=2)
        app.reload()
        closer = threading.Thread(target=app.close)
        with caplog.at_level(logging.WARNING, logger="livesettings.notify"):
            closer.start()
            closer.join(TIMEOUT)
            assert not closer.is_alive(), "close() waited for an abandoned handler"
        assert not h.release.is_set()
        assert not any("still running" in r.getMessage() for r in caplog.records)
        h.release.set()

    def test_close_joins_the_worker_thread(self, cfg: Path) -> None:
        """A handler's worker thread ends when the settings object closes."""
        seen: list[str] = []
        with app_class(cfg)() as app:
            app.watch("port", lambda d: seen.append(threading.current_thread().name), timeout=5)
            write(cfg, "db1", port=2)
            app.reload()
            workers = [t for t in threading.enumerate() if t.name.startswith("livesettings-handler")]
            assert len(workers) == 1 and seen == [workers[0].name]
        assert not workers[0].is_alive()

    def test_cancel_ends_the_worker_thread(self, cfg: Path) -> None:
        """Cancelling a handler with a timeout ends its worker thread while the settings object stays open."""
        with app_class(cfg)() as app:
            handle = app.watch("port", lambda d: None, timeout=5)
            write(cfg, "db1", port=2)
            app.reload()
            workers = [t for t in threading.enumerate() if t.name.startswith("livesettings-handler")]
            assert len(workers) == 1
            handle.cancel()
            workers[0].join(TIMEOUT)
            assert not workers[0].is_alive()

    def test_config_default_and_opting_out(self, cfg: Path) -> None:
        """ReloadConfig.handler_timeout_s applies to on_change handlers; timeout=math.inf runs on the delivering thread."""
        threads: dict[str, str] = {}

        class App(app_class(cfg, handler_timeout_s=5)):  # type: ignore[misc]
            @on_change("port")
            def _default(self, diff: Diff) -> None:
                threads["default"] = threading.current_thread().name

            @on_change("port", timeout=math.inf)
            def _inline(self, diff: Diff) -> None:
                threads["inline"] = threading.current_thread().name

        with App() as app:
            write(cfg, "db1", port=2)
            app.reload()
        assert threads["default"].startswith("livesettings-handler")
        assert threads["inline"] == threading.current_thread().name

    def test_critical_handler_that_times_out_rolls_back(self, cfg: Path) -> None:
        """A critical handler that exceeds its timeout counts as failed: the version is rolled back."""
        release = threading.Event()

        class App(app_class(cfg)):  # type: ignore[misc]
            @on_change("port", critical=True, timeout=0.2)
            def _apply(self, diff: Diff) -> None:
                if diff.new_value == 2:
                    release.wait(TIMEOUT)

        with App() as app:
            write(cfg, "db1", port=2)
            app.reload()
            assert app.port == 1 and app.version.source == "rollback"
            assert "_apply" in (app.version.reason or "")
            release.set()

    def test_async_handler_timeout_cancels_it(self, cfg: Path) -> None:
        """An async handler past its timeout is cancelled on its loop and becomes a TimeoutError dead letter."""
        cancelled = threading.Event()

        async def slow(diff: Diff) -> None:
            try:
                await asyncio.sleep(TIMEOUT * 10)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        async def main(app: ReloadableSettings) -> None:
            app.watch("port", slow, timeout=0.2)
            write(cfg, "db1", port=2)
            await asyncio.to_thread(app.reload)
            await asyncio.to_thread(wait_for, lambda: len(app.hot_reload.dead_letters) == 1)

        with app_class(cfg)() as app:
            asyncio.run(main(app))
            assert cancelled.is_set()
            assert isinstance(app.hot_reload.dead_letters[0].error, TimeoutError)


class TestCoalescing:
    """A subscriber that falls behind gets one combined diff of the newest version."""

    def test_slow_async_handler_on_its_loop(self, cfg: Path) -> None:
        """An async handler still busy with one version gets the burst after it as one diff, calls never overlapping."""
        calls: list[tuple[int, int, int]] = []
        active: list[int] = [0]
        overlapped: list[bool] = []

        async def main(app: ReloadableSettings) -> None:
            gate = asyncio.Event()
            started = asyncio.Event()

            async def handler(diff: Diff) -> None:
                active[0] += 1
                overlapped.append(active[0] > 1)
                assert diff.version is not None
                calls.append((diff.old_value, diff.new_value, diff.version.number))
                if diff.new_value == 2:
                    started.set()
                    await gate.wait()
                active[0] -= 1

            app.watch("port", handler)
            write(cfg, "db1", port=2)
            await asyncio.to_thread(app.reload)
            await asyncio.wait_for(started.wait(), TIMEOUT)
            for port in (3, 4, 5):
                write(cfg, "db1", port=port)
                await asyncio.to_thread(app.reload)
            gate.set()
            await asyncio.to_thread(wait_for, lambda: len(calls) == 2)

        with app_class(cfg)() as app:
            asyncio.run(main(app))
        assert calls == [(1, 2, 2), (2, 5, 5)]
        assert not any(overlapped)

    def test_a_value_back_to_what_it_last_saw_is_no_call(self, cfg: Path) -> None:
        """Versions that, combined, change nothing at a behind handler's path do not call it again."""
        h = Hanging()
        with app_class(cfg)() as app:
            app.watch("port", h.handler, timeout=0.2)
            for port, url in ((2, "db1"), (3, "db1"), (2, "db2")):
                write(cfg, url, port=port)
                app.reload()
            h.release.set()
            wait_for(lambda: h.active == 0)
            write(cfg, "db2", port=7)
            app.reload()
            wait_for(lambda: len(h.calls) == 2)
        assert h.calls == [(1, 2, 2), (2, 7, 5)]
