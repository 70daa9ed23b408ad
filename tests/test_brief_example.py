"""The original design brief's "Example Test", copied as written, run in a fresh working directory."""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path

import pytest

from conftest import wait_for

from livesettings import HotReloadableConfigProvider


@pytest.fixture(autouse=True)
def fresh_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The brief's test uses relative paths (config/development.yaml): run it in an empty directory."""
    monkeypatch.chdir(tmp_path)


# --- copied from reference/hot-reload-design.md, section "Example Test", unchanged -------------
def test_hot_reload_cycle():
    """Test complete hot-reload cycle"""
    config = HotReloadableConfigProvider(enable_hot_reload=True)
    
    # Subscribe to changes
    changes_received = []
    config.hot_reload.subscribe("test.value", 
        lambda p, o, n: changes_received.append((p, o, n))
    )
    
    # Modify config file
    with open("config/development.yaml", "a") as f:
        f.write("\ntest:\n  value: 42\n")
    
    # Wait for reload
    time.sleep(0.2)
    
    # Verify change was detected and applied
    assert config.get("test.value") == 42
    assert len(changes_received) == 1
    assert changes_received[0] == ("test.value", None, 42)
# --- end of the copied test ----------------------------------------------------------------------


class TestExampleCycleAround:
    """What the brief's test leaves implicit."""

    def test_dropped_provider_stops_its_watcher(self) -> None:
        """A provider that goes out of scope without close() stops and joins its watcher thread."""
        config = HotReloadableConfigProvider(enable_hot_reload=True)
        assert config.hot_reload.is_enabled()
        del config
        gc.collect()
        deadline = time.monotonic() + 5
        while any(t.name.startswith("livesettings") for t in threading.enumerate()):
            assert time.monotonic() < deadline, "watcher thread still running"
            time.sleep(0.01)

    def test_cycle_repeats_and_reports_every_leaf(self) -> None:
        """A second edit (an atomic replace) arrives as a MODIFY with old and new values."""
        config = HotReloadableConfigProvider(enable_hot_reload=True)
        got: list[tuple[str, object, object]] = []
        config.hot_reload.subscribe("test", lambda p, o, n: got.append((p, o, n)))
        try:
            Path("config/development.yaml").write_text("test:\n  value: 1\n")
            wait_for(lambda: len(got) == 1)
            Path("config/development.yaml.tmp").write_text("test:\n  value: 2\n")
            os.replace("config/development.yaml.tmp", "config/development.yaml")
            wait_for(lambda: len(got) == 2)
            assert got == [("test.value", None, 1), ("test.value", 1, 2)]
            assert config.get("test.value") == 2
        finally:
            config.close()
