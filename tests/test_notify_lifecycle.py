"""close() against running handlers, and async handlers whose event loop is not running."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import SettingsConfigDict

from conftest import wait_for
from livesettings import Diff, ReloadableSettings, ReloadConfig, on_change

TIMEOUT = 10.0


def save(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text("port: 1\n")
    return path


class Slow:
    """Two handlers on one path: the first blocks until released, the second records when it starts."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.closed = threading.Event()
        self.second_started: list[bool] = []  # per call: had close() returned when it started?

    def settings_class(self, cfg: Path, config: ReloadConfig) -> type[ReloadableSettings]:
        slow = self

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg))
            reload_config = config
            port: int = 0

            @on_change("port")
            def _slow_handler(self, diff: Diff) -> None:
                slow.entered.set()
                slow.release.wait(TIMEOUT)

            @on_change("port")
            def _second_handler(self, diff: Diff) -> None:
                slow.second_started.append(slow.closed.is_set())

        return App


class TestCloseWithRunningHandler:
    """close() stops deliveries at once and waits a bounded time for a handler already running."""

    def test_no_handler_starts_after_close_returned(
        self, cfg: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A handler still running past close_timeout_s is named in a WARNING, and no later handler starts."""
        slow = Slow()
        app = slow.settings_class(cfg, ReloadConfig(debounce_ms=20, close_timeout_s=0.2))()
        save(cfg, "port: 2\n")
        assert slow.entered.wait(TIMEOUT)
        worker = app.hot_reload.watcher._thread
        with caplog.at_level(logging.WARNING):
            app.close()
        slow.closed.set()
        assert worker.is_alive()  # still inside _slow_handler: the bounded wait gave up
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("_slow_handler" in m and "close" in m for m in warnings), warnings
        slow.release.set()
        worker.join(TIMEOUT)
        assert not worker.is_alive()
        assert slow.second_started == []

    def test_handler_finishing_in_time_is_waited_for(
        self, cfg: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A running handler that returns within the bound is waited for, and the worker is joined by close()."""
        slow = Slow()
        app = slow.settings_class(cfg, ReloadConfig(debounce_ms=20, close_timeout_s=TIMEOUT))()
        engine: Any = app._ls_engine
        save(cfg, "port: 2\n")
        assert slow.entered.wait(TIMEOUT)
        worker = app.hot_reload.watcher._thread

        def release_once_closing() -> None:
            wait_for(lambda: engine.closed)
            slow.release.set()

        helper = threading.Thread(target=release_once_closing)
        helper.start()
        with caplog.at_level(logging.WARNING):
            app.close()
        slow.closed.set()
        helper.join(TIMEOUT)
        assert not worker.is_alive()
        assert slow.second_started == []  # close() had begun: no new handler call
        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []

    def test_close_from_inside_a_handler(self, cfg: Path) -> None:
        """A handler may close its own settings object: close() does not wait for itself."""
        done = threading.Event()

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg))
            reload_config = ReloadConfig(debounce_ms=20, close_timeout_s=TIMEOUT)
            port: int = 0

            @on_change("port")
            def _close_me(self, diff: Diff) -> None:
                self.close()
                done.set()

        app = App()
        save(cfg, "port: 2\n")
        assert done.wait(TIMEOUT)
        worker = app.hot_reload.watcher
        wait_for(lambda: worker is None or not worker._thread.is_alive())


class TestStoppedEventLoop:
    """An async handler whose loop is stopped (not closed) becomes a dead letter, not a silent no-op."""

    def test_stopped_loop_is_dead_lettered(self, cfg: Path, caplog: pytest.LogCaptureFixture) -> None:
        """The handler's loop stopped after registration: the delivery is a dead letter with a WARNING."""
        ran = threading.Event()

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg))
            reload_config = ReloadConfig(enabled=False)
            port: int = 0

            @on_change("port")
            async def _resize(self, diff: Diff) -> None:
                ran.set()

        loop = asyncio.new_event_loop()

        async def build() -> ReloadableSettings:
            return App()

        try:
            app = loop.run_until_complete(build())  # the loop ran, then stopped; it is not closed
            save(cfg, "port: 2\n")
            with caplog.at_level(logging.WARNING, logger="livesettings.notify"):
                app.reload()
            letters = app.hot_reload.dead_letters
            assert [d.handler.rsplit(".", 1)[-1] for d in letters] == ["_resize"]
            assert "not running" in str(letters[0].error)
            assert any("_resize" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
            assert not ran.is_set()
            app.close()
        finally:
            loop.close()
