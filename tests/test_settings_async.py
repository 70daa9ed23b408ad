"""pinned(), wait_for_version(), changes() and event-loop binding of async handlers."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict

from conftest import wait_for
from livesettings import Diff, ReloadableSettings, ReloadConfig, on_change
from livesettings.exceptions import ClosedError, VersionNotFoundError

TIMEOUT = 10.0


class Pair(BaseModel):
    a: int = 0
    b: int = 0


def write(path: Path, n: int, port: int = 1) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"pair:\n  a: {n}\n  b: {n}\nport: {port}\n")
    tmp.replace(path)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "app.yaml"
    write(path, 0)
    return path


def app_class(cfg: Path, **config: Any) -> type[ReloadableSettings]:
    class App(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(cfg))
        reload_config = ReloadConfig(enabled=False, **config)
        pair: Pair = Pair()
        port: int = 0

    return App


class TestPinned:
    """pinned() gives one version's snapshot for a block, and keeps that version findable."""

    def test_reads_in_the_block_come_from_one_version(self, cfg: Path) -> None:
        """Commits from another thread during the block change nothing read through snap; pin.version matches it."""
        with app_class(cfg)() as app:
            pin = app.pinned()
            with pin as snap:
                pair = snap.pair
                worker = threading.Thread(target=lambda: [write(cfg, n) or app.reload() for n in (1, 2)])
                worker.start()
                worker.join(TIMEOUT)
                assert app.pair.a == 2  # the façade moved on
                assert snap.pair is pair and (snap.pair.a, snap.pair.b) == (0, 0)
                assert pin.version.snapshot is snap and pin.version.number == 1

    def test_pinned_version_stays_findable_while_pinned(self, cfg: Path) -> None:
        """A pinned version that left the history can still be rolled back to and diffed; after the block it cannot."""
        with app_class(cfg, max_versions=2)() as app:
            pin = app.pinned()
            with pin:
                for n in (1, 2, 3):
                    write(cfg, n)
                    app.reload()
                assert pin.version.id not in [v.id for v in app.history]
                assert [c.path for c in app.diff(pin.version.id, app.version.id)] == ["pair.a", "pair.b"]
                app.rollback(pin.version.id)
                assert app.pair.a == 0
            with pytest.raises(VersionNotFoundError):
                app.rollback(pin.version.id)


class TestWaitForVersion:
    """await wait_for_version(n) returns once version n (or later) is served."""

    def test_waits_for_a_commit_on_another_thread(self, cfg: Path) -> None:
        """A waiter on the next number is woken by a reload on another thread and gets that version."""
        with app_class(cfg)() as app:

            async def main() -> tuple[int, int]:
                already = await app.wait_for_version(1)
                waiter = asyncio.create_task(app.wait_for_version(2, timeout=TIMEOUT))
                await asyncio.sleep(0)
                assert not waiter.done()
                write(cfg, 1)
                await asyncio.to_thread(app.reload)
                return already.number, (await waiter).number

            assert asyncio.run(main()) == (1, 2)

    def test_timeout(self, cfg: Path) -> None:
        """No such version within the timeout raises TimeoutError."""
        with app_class(cfg)() as app, pytest.raises(TimeoutError):
            asyncio.run(app.wait_for_version(5, timeout=0.05))

    def test_close_ends_the_wait(self, cfg: Path) -> None:
        """Closing the settings object fails a pending waiter with ClosedError."""
        app = app_class(cfg)()

        async def main() -> None:
            waiter = asyncio.create_task(app.wait_for_version(2))
            await asyncio.sleep(0)
            await asyncio.to_thread(app.close)
            await asyncio.wait_for(waiter, TIMEOUT)

        with pytest.raises(ClosedError):
            asyncio.run(main())


class TestChanges:
    """async for diff in settings.changes(path): Diffs at the path, coalesced, ended cleanly."""

    def test_yields_the_diffs_at_its_path(self, cfg: Path) -> None:
        """A change elsewhere is not yielded; one at the path is, with its version."""
        with app_class(cfg)() as app:

            async def main() -> list[tuple[int, int, int]]:
                stream = app.changes("port")
                write(cfg, 1, port=1)  # pair only
                await asyncio.to_thread(app.reload)
                write(cfg, 1, port=2)
                await asyncio.to_thread(app.reload)
                diff = await asyncio.wait_for(stream.__anext__(), TIMEOUT)
                await stream.aclose()
                assert diff.version is not None
                return [(diff.old_value, diff.new_value, diff.version.number)]

            assert asyncio.run(main()) == [(1, 2, 3)]

    def test_slow_consumer_gets_one_combined_diff(self, cfg: Path) -> None:
        """Versions committed while the consumer is busy arrive as one Diff from what it last saw to the newest."""
        with app_class(cfg)() as app:

            async def main() -> list[tuple[Any, Any, int]]:
                got: list[tuple[Any, Any, int]] = []
                stream = app.changes("pair.a")
                write(cfg, 1)
                await asyncio.to_thread(app.reload)
                async for diff in stream:
                    assert diff.version is not None
                    got.append((diff.old_value, diff.new_value, diff.version.number))
                    if len(got) == 1:  # busy: a burst lands meanwhile
                        for n in (2, 3, 4):
                            write(cfg, n)
                            await asyncio.to_thread(app.reload)
                    else:
                        break
                return got

            assert asyncio.run(main()) == [(0, 1, 2), (1, 4, 5)]

    def test_ends_when_the_settings_object_closes(self, cfg: Path) -> None:
        """The async for loop ends when the settings object is closed from another thread."""
        app = app_class(cfg)()

        async def main() -> list[Diff]:
            got: list[Diff] = []

            async def consume() -> None:
                async for diff in app.changes():
                    got.append(diff)

            task = asyncio.create_task(consume())
            await asyncio.sleep(0)
            await asyncio.to_thread(app.close)
            await asyncio.wait_for(task, TIMEOUT)
            return got

        assert asyncio.run(main()) == []

    def test_break_and_loop_end_unsubscribe(self, cfg: Path) -> None:
        """Breaking out of the loop, or the event loop ending under a waiting consumer, removes the subscription."""
        with app_class(cfg)() as app:
            notifier = app.hot_reload.notifier
            before = len(notifier)

            async def breaks() -> None:
                stream = app.changes("port")
                write(cfg, 0, port=5)
                await asyncio.to_thread(app.reload)
                async for _ in stream:
                    break
                await stream.aclose()

            asyncio.run(breaks())
            assert len(notifier) == before

            async def abandoned() -> None:
                started = asyncio.Event()

                async def consume() -> None:
                    started.set()
                    async for _ in app.changes("port"):
                        pass

                asyncio.get_running_loop().create_task(consume())
                await started.wait()
                await asyncio.sleep(0)

            asyncio.run(abandoned())  # asyncio.run cancels the task and finalises the generator
            wait_for(lambda: len(notifier) == before)

    def test_unknown_path_is_refused(self, cfg: Path) -> None:
        """changes() checks its path like watch()."""
        with app_class(cfg)() as app, pytest.raises(ValueError, match="pair"):
            app.changes("pairs")


class TestLoopBinding:
    """Async handlers run on the loop they were registered from, or on one bound later."""

    def test_import_time_settings_run_async_handlers_on_the_bound_loop(
        self, cfg: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Created with no loop: one WARNING says where the handler runs; after bind_loop it runs on the app's loop."""
        ran_on: list[asyncio.AbstractEventLoop] = []
        done = threading.Event()

        class App(app_class(cfg)):  # type: ignore[misc]
            @on_change("port")
            async def _apply(self, diff: Diff) -> None:
                ran_on.append(asyncio.get_running_loop())
                done.set()

        with caplog.at_level(logging.WARNING, logger="livesettings.notify"):
            app = App()
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "_apply" in warnings[0] and "asyncio.run()" in warnings[0], warnings
        with app:

            async def main() -> asyncio.AbstractEventLoop:
                app.bind_loop()
                write(cfg, 0, port=2)
                await asyncio.to_thread(app.reload)
                await asyncio.to_thread(done.wait, TIMEOUT)
                return asyncio.get_running_loop()

            loop = asyncio.run(main())
        assert ran_on == [loop]
        assert [r for r in caplog.records if r.levelno == logging.WARNING] == caplog.records[:1]

    def test_registered_inside_a_loop_no_warning(self, cfg: Path, caplog: pytest.LogCaptureFixture) -> None:
        """An async handler registered while a loop runs logs nothing and runs on that loop."""
        with app_class(cfg)() as app:

            async def main() -> tuple[asyncio.AbstractEventLoop, asyncio.AbstractEventLoop]:
                seen: asyncio.Future[asyncio.AbstractEventLoop] = asyncio.get_running_loop().create_future()

                async def handler(diff: Diff) -> None:
                    seen.set_result(asyncio.get_running_loop())

                with caplog.at_level(logging.WARNING):
                    handle = app.watch("port", handler)
                assert handle.loop is asyncio.get_running_loop()
                write(cfg, 0, port=2)
                await asyncio.to_thread(app.reload)
                return await asyncio.wait_for(seen, TIMEOUT), asyncio.get_running_loop()

            ran, loop = asyncio.run(main())
            assert ran is loop
            assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

    def test_handle_bind_loop_moves_one_handler(self, cfg: Path) -> None:
        """handle.bind_loop(loop) runs that handler on a loop running in another thread."""
        loop = asyncio.new_event_loop()
        runner = threading.Thread(target=loop.run_forever, name="app-loop")
        runner.start()
        try:
            with app_class(cfg)() as app:
                ran_on: list[threading.Thread] = []
                done = threading.Event()

                async def handler(diff: Diff) -> None:
                    ran_on.append(threading.current_thread())
                    done.set()

                handle = app.watch("port", handler)
                handle.bind_loop(loop)
                write(cfg, 0, port=2)
                app.reload()
                assert done.wait(TIMEOUT)
                assert ran_on == [runner]
        finally:
            loop.call_soon_threadsafe(loop.stop)
            runner.join(TIMEOUT)
            loop.close()

    def test_bind_loop_rebinds_handlers_whose_loop_closed(self, cfg: Path) -> None:
        """Settings created inside one asyncio.run(): after that loop closed, bind_loop moves its handlers to the new loop."""
        ran_on: list[asyncio.AbstractEventLoop] = []
        App = app_class(cfg)

        class Bound(App):  # type: ignore[misc, valid-type]
            @on_change("port")
            async def _apply(self, diff: Diff) -> None:
                ran_on.append(asyncio.get_running_loop())

        async def create() -> ReloadableSettings:
            return Bound()

        app = asyncio.run(create())
        with app:

            async def main() -> asyncio.AbstractEventLoop:
                app.bind_loop()
                write(cfg, 0, port=2)
                await asyncio.to_thread(app.reload)
                await asyncio.to_thread(wait_for, lambda: len(ran_on) == 1)
                return asyncio.get_running_loop()

            loop = asyncio.run(main())
        assert ran_on == [loop]
