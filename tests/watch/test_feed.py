"""End to end through FileFeed and the engine: what handlers see while a writer is mid-write."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest
from pydantic_settings import SettingsConfigDict

from conftest import wait_for
from livesettings import Diff, ReloadableSettings, ReloadConfig, on_change


class TestHalfWrittenSave:
    """The issue's writer: ``port: 16``, a pause with the file open, then the rest."""

    def test_handlers_never_see_the_half(self, tmp_path: Path) -> None:
        """Handlers see one version with the complete content, never ``(16, '')``."""
        cfg = tmp_path / "app.yaml"
        cfg.write_text("port: 1\nname: old\n")
        seen: list[tuple[int, str]] = []
        called = threading.Event()

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg))
            reload_config = ReloadConfig(debounce_ms=20, max_wait_ms=200)
            port: int = 0
            name: str = ""

            @on_change
            def _record(self, diff: Diff) -> None:
                seen.append((self.port, self.name))
                called.set()

        with App() as app:
            with open(cfg, "w") as f:
                f.write("port: 16\n")
                f.flush()
                wait_for(lambda: app.hot_reload.status.events_seen >= 1)
                assert not called.wait(1.0)  # the writer's pause: nothing is applied meanwhile
                f.write("name: new\n")
            wait_for(called.is_set)  # handlers run after the swap: wait for the call itself
            assert seen == [(16, "new")]
            assert app.last_error is None


    def test_open_write_cap_comes_from_reload_config(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """``ReloadConfig(open_write_s=, settle_ms=)`` reach the feed: a writer that never closes
        is applied once its content settled past the cap, with one WARNING naming the file."""
        cfg = tmp_path / "app.yaml"
        cfg.write_text("port: 1\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg))
            reload_config = ReloadConfig(debounce_ms=20, open_write_s=0.3, settle_ms=100)
            port: int = 0

        with caplog.at_level(logging.WARNING, logger="livesettings"), App() as app, open(cfg, "w") as f:
            f.write("port: 16\n")
            f.flush()
            wait_for(lambda: app.port == 16)  # with the default cap (30 s) this would time out
        warnings = [r.getMessage() for r in caplog.records if "still open for writing" in r.getMessage()]
        assert len(warnings) == 1 and str(cfg) in warnings[0]

    def test_open_write_and_settle_are_validated(self) -> None:
        with pytest.raises(ValueError, match="open_write_s and settle_ms"):
            ReloadConfig(settle_ms=-1)


class TestFifoAtConfigPath:
    """A FIFO put at the config path is refused, and the watching carries on."""

    def test_fifo_then_regular_file(self, tmp_path: Path) -> None:
        """A FIFO renamed over the config is rejected, survives safety re-checks, and a later save applies."""
        cfg = tmp_path / "app.yaml"
        cfg.write_text("port: 1\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg))
            reload_config = ReloadConfig(debounce_ms=20, max_wait_ms=200, safety_interval_s=0.02)
            port: int = 0

        with App() as app:
            fifo = tmp_path / "fifo"
            os.mkfifo(fifo)
            os.replace(fifo, cfg)
            wait_for(lambda: app.last_error is not None)
            rechecks = app.hot_reload.status.rechecks
            wait_for(lambda: app.hot_reload.status.rechecks >= rechecks + 3)
            tmp = tmp_path / "app.yaml.new"
            tmp.write_text("port: 2\n")
            os.replace(tmp, cfg)
            wait_for(lambda: app.port == 2)
            worker = app.hot_reload.watcher._thread
        assert not worker.is_alive()
