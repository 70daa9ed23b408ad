"""``debounce_ms=0``: events go from the thread that reads inotify to the watcher's worker in one hop.

Real files, real watcher threads; every wait is on an event or a predicate with a timeout.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import SettingsConfigDict

from conftest import kubelet_mount, kubelet_swap, wait_for
from livesettings import Diff, ReloadableSettings, ReloadConfig, on_change
from livesettings.watch import observer as _observer
from livesettings.watch import watcher as _watch

ZERO = ReloadConfig(debounce_ms=0)
BACKENDS = ["direct", "watchdog"] if _observer._DIRECT else ["watchdog"]
TIMEOUT = 10.0


@pytest.fixture(autouse=True, params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test on each inotify backend (the shared observer is made anew for the test)."""
    monkeypatch.delenv("LIVESETTINGS_POLL", raising=False)
    _watch._reset_for_tests()
    monkeypatch.setattr(_observer, "_DIRECT", request.param == "direct")
    yield request.param
    _watch._reset_for_tests()


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def settings_class(yaml: Path, seen: list[tuple[int, str]], **hooks: Any) -> type[ReloadableSettings]:
    """Settings on `yaml` at debounce 0; the handler records (count, name) and calls hooks["during"]."""
    during = hooks.get("during")

    class App(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(yaml))
        reload_config = ZERO
        count: int = 0
        name: str = ""

        @on_change
        def _seen(self, diff: Diff) -> None:
            seen.append((self.count, self.name))
            if during is not None:
                during(self)

    return App


class TestOneHop:
    def test_events_come_from_the_reader_thread(self, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Every raw event reaches the watcher on the backend's reader thread; with the direct backend
        no watchdog emitter or observer thread exists at all, and the handler sees the new version."""
        from watchdog.observers.api import BaseObserver, EventEmitter

        cfg = tmp_path / "app.yaml"
        cfg.write_text("count: 0\n")
        delivering: set[threading.Thread] = set()
        record = _watch.FileWatcher._record

        def spy(self: _watch.FileWatcher, rec: Any) -> None:
            delivering.add(threading.current_thread())
            record(self, rec)

        monkeypatch.setattr(_watch.FileWatcher, "_record", spy)
        seen: list[tuple[int, str]] = []
        with settings_class(cfg, seen)() as app:
            atomic_write(cfg, "count: 1\nname: one\n")
            wait_for(lambda: (1, "one") in seen)
            assert app.count == 1
            hub = _observer.shared_observer()
            assert hub is not None
            assert delivering == {hub.reader}
            watchdog_threads = [t for t in threading.enumerate() if isinstance(t, (EventEmitter, BaseObserver))]
            if backend == "direct":
                assert watchdog_threads == []
            else:
                assert watchdog_threads != []

    def test_in_place_write_waits_for_close(self, tmp_path: Path) -> None:
        """An in-place write held open between chunks is applied once, complete, when it is closed."""
        cfg = tmp_path / "app.yaml"
        cfg.write_text("count: 0\nname: old\n")
        seen: list[tuple[int, str]] = []
        with settings_class(cfg, seen)() as app:
            with open(cfg, "w") as fh:
                fh.write("count: 16\n")
                fh.flush()
                wait_for(lambda: app.hot_reload.status.events_seen >= 1)  # the write was seen while open
                fh.write("name: new\n")
            wait_for(lambda: seen != [])
            wait_for(lambda: app.name == "new")
            assert seen == [(16, "new")]
            assert app.last_error is None

    def test_in_place_write_in_two_parts_is_never_read_half_written(self, tmp_path: Path) -> None:
        """open, write part 1, (the watcher has seen it), write part 2, close: no reload starts before
        the close, and the one after it applies the whole file."""
        cfg = tmp_path / "app.yaml"
        cfg.write_text("count: 0\nname: old\n")
        seen: list[tuple[int, str]] = []
        with settings_class(cfg, seen)() as app:
            engine: Any = app._ls_engine
            status = lambda: app.hot_reload.status  # noqa: E731
            attempted, events = engine.metrics.attempted, status().events_seen
            with open(cfg, "w") as fh:
                fh.write("count: 7\n")  # a valid file on its own: applying it early would be a new version
                fh.flush()
                os.utime(fh.fileno())  # an attrib event behind the writes: once it is counted, so are they
                wait_for(lambda: status().events_seen >= events + 2)
                # at debounce 0 the attrib alone would fire at once: only the open write holds it
                assert engine.metrics.attempted == attempted
                assert (app.count, app.name) == (0, "old")
                fh.write("name: done\n")
            wait_for(lambda: seen != [])
            assert seen == [(7, "done")]
            assert [(v.snapshot.count, v.snapshot.name) for v in app.history] == [(0, "old"), (7, "done")]
            assert engine.metrics.attempted == attempted + 1
            assert app.last_error is None

    def test_kubernetes_data_swap(self, tmp_path: Path) -> None:
        """The kubelet's ``..data`` swap is applied at debounce 0 although no event names app.yaml."""
        d = tmp_path / "cm"
        kubelet_mount(d, {"app.yaml": "count: 1\n"})
        seen: list[tuple[int, str]] = []
        with settings_class(d / "app.yaml", seen)() as app:
            for i in (2, 3):
                kubelet_swap(d, {"app.yaml": f"count: {i}\n"})
                wait_for(lambda i=i: app.count == i)
            assert [c for c, _ in seen] == [2, 3]
            assert app.history[-1].source == "file"


class TestSlowHandler:
    def test_slow_handler_does_not_stall_event_reading(self, tmp_path: Path) -> None:
        """While A's handler blocks, an edit of B's file in the same watched directory is read and applied."""
        a_cfg, b_cfg = tmp_path / "a.yaml", tmp_path / "b.yaml"
        a_cfg.write_text("count: 0\n")
        b_cfg.write_text("count: 0\n")
        inside, release = threading.Event(), threading.Event()

        def block(app: Any) -> None:
            inside.set()
            release.wait(TIMEOUT)

        a_seen: list[tuple[int, str]] = []
        b_seen: list[tuple[int, str]] = []
        with settings_class(a_cfg, a_seen, during=block)() as a, settings_class(b_cfg, b_seen)() as b:
            try:
                atomic_write(a_cfg, "count: 1\n")
                assert inside.wait(TIMEOUT)  # A's worker is now inside A's handler
                atomic_write(b_cfg, "count: 2\n")
                wait_for(lambda: b.count == 2)
                wait_for(lambda: b_seen != [])  # the handler runs just after the commit, on B's own worker
                assert b_seen == [(2, "")]
                assert not release.is_set() and a_seen == [(1, "")]  # A's handler is still running
            finally:
                release.set()
            wait_for(lambda: a.count == 1)

    def test_edits_during_a_slow_handler_are_applied_meanwhile(self, tmp_path: Path) -> None:
        """While the handler of version 1 blocks, later edits are detected, applied and readable at once;
        the handler then sees each later version once, in commit order."""
        cfg = tmp_path / "app.yaml"
        cfg.write_text("count: 0\n")
        inside, release = threading.Event(), threading.Event()
        seen: list[tuple[int, int]] = []  # (new count, version number)
        threads: set[str] = set()

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg))
            reload_config = ZERO
            count: int = 0

            @on_change("count")
            def _slow(self, diff: Diff) -> None:
                assert diff.version is not None
                seen.append((diff.new_value, diff.version.number))
                threads.add(threading.current_thread().name)
                if diff.new_value == 1:
                    inside.set()
                    release.wait(TIMEOUT)

        with App() as app:
            try:
                atomic_write(cfg, "count: 1\n")
                assert inside.wait(TIMEOUT)
                for i in range(2, 6):
                    atomic_write(cfg, f"count: {i}\n")
                    wait_for(lambda i=i: app.count == i)  # applied while the handler of version 1 still blocks
                assert not release.is_set() and [c for c, _ in seen] == [1]
                watcher = app._ls_engine.feeds.get("files").watcher  # type: ignore[attr-defined, union-attr]
                assert watcher._relief is not None and watcher._relief.is_alive()
            finally:
                release.set()
            wait_for(lambda: len(seen) == 5)
            assert [c for c, _ in seen] == [1, 2, 3, 4, 5]
            numbers = [n for _, n in seen]
            assert numbers == sorted(numbers)
            assert app.last_error is None
        assert threads <= {watcher._thread.name, watcher._relief.name}
        assert not watcher._thread.is_alive() and not watcher._relief.is_alive()  # close() joined both


@pytest.mark.skipif(not _observer._DIRECT, reason="the direct inotify backend needs Linux")
def test_reader_survives_an_error_in_a_callback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """An exception while turning one event into a raw event is logged; the reader keeps delivering."""
    cfg = tmp_path / "app.yaml"
    cfg.write_text("count: 0\n")
    handle = _observer._DirectWatch._on_event
    failed = threading.Event()

    def once(self: Any, event: Any) -> None:
        if not failed.is_set() and event.name == b"app.yaml":
            failed.set()
            raise RuntimeError("boom")
        handle(self, event)

    monkeypatch.setattr(_observer, "_DIRECT", True)
    monkeypatch.setattr(_observer._DirectWatch, "_on_event", once)
    seen: list[tuple[int, str]] = []
    with settings_class(cfg, seen)() as app:
        atomic_write(cfg, "count: 1\n")
        assert failed.wait(TIMEOUT)
        atomic_write(cfg, "count: 2\n")
        wait_for(lambda: app.count == 2)
        reader = _observer.shared_observer().reader  # type: ignore[union-attr]
        assert reader.is_alive()
    assert any("cannot handle" in r.getMessage() and r.exc_info for r in caplog.records)
