"""Tests for livesettings.watch.watcher: real files, real threads, tiny debounce, predicates with timeouts."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from watchdog.observers import Observer

from livesettings.watch import observer as _observer
from livesettings.watch import watcher as _watch
from conftest import kubelet_mount, kubelet_swap
from livesettings.watch import FileWatcher, WatchOptions, handoff

TIMEOUT = 10.0
FAST = WatchOptions(debounce_ms=20, max_wait_ms=1000)


BACKENDS = ["direct", "watchdog"] if _observer._DIRECT else ["watchdog"]


@pytest.fixture(autouse=True, params=BACKENDS)
def _isolate(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test runs on each inotify backend: watchdog's inotify reader with our callbacks, and its Observer."""
    monkeypatch.delenv("LIVESETTINGS_POLL", raising=False)
    _watch._reset_for_tests()
    monkeypatch.setattr(_observer, "_DIRECT", request.param == "direct")
    yield
    _watch._reset_for_tests()


class Recorder:
    """An ``on_change`` callback that records each batch, the time, and the content of one file."""

    def __init__(self, read: Path | None = None) -> None:
        self.read = read
        self.batches: list[frozenset[Path]] = []
        self.contents: list[str | None] = []
        self.times: list[float] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def __call__(self, paths: frozenset[Path]) -> None:
        content: str | None = None
        if self.read is not None:
            try:
                content = self.read.read_text()
            except FileNotFoundError:
                content = None
        with self._cond:
            self.batches.append(paths)
            self.contents.append(content)
            self.times.append(time.monotonic())
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[Recorder], bool], timeout: float = TIMEOUT) -> bool:
        """Wait until `predicate(self)` holds; return whether it did before the timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    def wait_content(self, text: str) -> bool:
        """Wait for a batch during which the watched file read `text`."""
        return self.wait_for(lambda r: text in r.contents)

    def wait_path(self, path: Path) -> bool:
        """Wait for a batch that contains `path`."""
        return self.wait_for(lambda r: any(path in b for b in r.batches))


Watch = tuple[FileWatcher, Recorder]


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    """Poll `predicate` until it holds or `timeout` passes (for state with no callback to wait on)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        threading.Event().wait(0.01)
    return True


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("a: 1\nname: aaa\n")
    return path


@pytest.fixture
def sentinel(tmp_path: Path) -> Path:
    path = tmp_path / "sentinel.yaml"
    path.write_text("s: 0\n")
    return path


@pytest.fixture
def watch(cfg: Path, sentinel: Path) -> Iterator[Watch]:
    rec = Recorder(read=cfg)
    with FileWatcher([cfg, sentinel], rec, FAST, name="t") as watcher:
        yield watcher, rec


def settle_with_sentinel(rec: Recorder, sentinel: Path) -> None:
    """Write the sentinel and wait for its batch: every event before it has been handled by then."""
    sentinel.write_text(f"s: {time.monotonic()}\n")
    assert rec.wait_path(sentinel)


class TestSaveStrategies:
    """Each way editors and tools save a file fires exactly one batch with the complete content."""

    def test_atomic_rename(self, watch: Watch, cfg: Path, sentinel: Path) -> None:
        """A temp file renamed over the target with os.replace fires once with the new content."""
        _, rec = watch
        atomic_write(cfg, "a: 2\n")
        assert rec.wait_content("a: 2\n")
        settle_with_sentinel(rec, sentinel)
        assert rec.batches == [frozenset({cfg}), frozenset({sentinel})]

    def test_in_place_chunked_write(self, watch: Watch, cfg: Path, sentinel: Path) -> None:
        """An in-place write in chunks with flushes fires once, after the close, with the whole file."""
        _, rec = watch
        chunks = [f"key{i}: {'x' * 200}\n" for i in range(5)]
        with open(cfg, "w") as f:
            for chunk in chunks:
                f.write(chunk)
                f.flush()
                threading.Event().wait(0.03)  # pacing: longer than the 20 ms quiet window
        closed_at = time.monotonic()
        assert rec.wait_content("".join(chunks))
        settle_with_sentinel(rec, sentinel)
        assert rec.batches == [frozenset({cfg}), frozenset({sentinel})]
        assert rec.times[0] >= closed_at

    def test_vim_sequence(self, watch: Watch, cfg: Path, sentinel: Path) -> None:
        """vim's swap files and 4913 probe are ignored and its in-place write fires once."""
        _, rec = watch
        swp, swx = cfg.with_name(".config.yaml.swp"), cfg.with_name(".config.yaml.swx")
        probe = cfg.with_name("4913")
        swp.write_bytes(b"\0" * 4096)
        swx.write_bytes(b"")
        swx.unlink()
        probe.write_bytes(b"")
        probe.unlink()
        with open(cfg, "w") as f:
            f.write("a: 2\n")
        swp.unlink()
        assert rec.wait_content("a: 2\n")
        settle_with_sentinel(rec, sentinel)
        assert rec.batches == [frozenset({cfg}), frozenset({sentinel})]

    @pytest.mark.skipif(shutil.which("vim") is None, reason="vim is not installed")
    def test_real_vim(self, watch: Watch, cfg: Path, sentinel: Path) -> None:
        """A real vim substitute-and-write fires once with the edited content."""
        _, rec = watch
        subprocess.run(
            ["vim", "-Es", "-u", "NONE", "-c", "%s/a/b/", "-c", "wq", str(cfg)],
            check=True, cwd=cfg.parent, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert rec.wait_content(cfg.read_text())
        assert cfg.read_text().startswith("b: 1")
        settle_with_sentinel(rec, sentinel)
        assert rec.batches == [frozenset({cfg}), frozenset({sentinel})]

    @pytest.mark.skipif(shutil.which("sed") is None, reason="sed is not installed")
    def test_real_sed_in_place(self, watch: Watch, cfg: Path, sentinel: Path) -> None:
        """sed -i (a temp file renamed over the target) fires once with the edited content."""
        _, rec = watch
        subprocess.run(["sed", "-i", "s/a: 1/a: 2/", str(cfg)], check=True, timeout=TIMEOUT)
        assert rec.wait_content("a: 2\nname: aaa\n")
        settle_with_sentinel(rec, sentinel)
        assert rec.batches == [frozenset({cfg}), frozenset({sentinel})]

    def test_emacs(self, watch: Watch, cfg: Path, sentinel: Path) -> None:
        """emacs' dangling lock symlink and rename-to-backup are handled and the new file fires once."""
        _, rec = watch
        lock = cfg.with_name(".#config.yaml")
        os.symlink("user@host.4242:1700000000", lock)  # dangling, like emacs' lock
        os.rename(cfg, cfg.with_name("config.yaml~"))
        with open(cfg, "w") as f:
            f.write("a: 2\n")
        lock.unlink()
        assert rec.wait_content("a: 2\n")
        settle_with_sentinel(rec, sentinel)
        assert rec.batches == [frozenset({cfg}), frozenset({sentinel})]

    def test_jetbrains_safe_write(self, watch: Watch, cfg: Path, sentinel: Path) -> None:
        """JetBrains' ___jb_tmp___/___jb_old___ double rename fires once with the new content."""
        _, rec = watch
        tmp, old = cfg.with_name("config.yaml___jb_tmp___"), cfg.with_name("config.yaml___jb_old___")
        tmp.write_text("a: 2\n")
        os.rename(cfg, old)
        os.rename(tmp, cfg)
        old.unlink()
        assert rec.wait_content("a: 2\n")
        settle_with_sentinel(rec, sentinel)
        assert rec.batches == [frozenset({cfg}), frozenset({sentinel})]

    def test_vscode_truncate_and_write(
        self, watch: Watch, cfg: Path, sentinel: Path
    ) -> None:
        """VS Code's default save (truncate, then write) fires once with the whole file."""
        _, rec = watch
        fd = os.open(cfg, os.O_WRONLY | os.O_TRUNC)
        os.write(fd, b"a: 2\n")
        os.write(fd, b"name: vscode\n")
        os.close(fd)
        assert rec.wait_content("a: 2\nname: vscode\n")
        settle_with_sentinel(rec, sentinel)
        assert rec.batches == [frozenset({cfg}), frozenset({sentinel})]

    def test_vscode_vsctmp(self, watch: Watch, cfg: Path, sentinel: Path) -> None:
        """VS Code's atomic save through <file>.vsctmp fires once with the new content."""
        _, rec = watch
        tmp = cfg.with_name("config.yaml.vsctmp")
        tmp.write_text("a: 3\n")
        os.replace(tmp, cfg)
        assert rec.wait_content("a: 3\n")
        settle_with_sentinel(rec, sentinel)
        assert rec.batches == [frozenset({cfg}), frozenset({sentinel})]

    def test_cp_over_the_file(
        self, watch: Watch, cfg: Path, sentinel: Path, tmp_path: Path
    ) -> None:
        """Copying another file over the target with cp fires once with the copied content."""
        _, rec = watch
        source = tmp_path / "elsewhere" / "new.yaml"
        source.parent.mkdir()
        source.write_text("a: copied\n")
        if shutil.which("cp"):
            subprocess.run(["cp", str(source), str(cfg)], check=True, timeout=TIMEOUT)
        else:
            shutil.copyfile(source, cfg)
        assert rec.wait_content("a: copied\n")
        settle_with_sentinel(rec, sentinel)
        assert rec.batches == [frozenset({cfg}), frozenset({sentinel})]

    def test_touch_fires_once(self, watch: Watch, cfg: Path, sentinel: Path) -> None:
        """touch fires (content dedupe is the engine's job) but only once."""
        _, rec = watch
        if shutil.which("touch"):
            subprocess.run(["touch", str(cfg)], check=True, timeout=TIMEOUT)
        else:
            os.utime(cfg)
        assert rec.wait_path(cfg)
        settle_with_sentinel(rec, sentinel)
        assert rec.batches == [frozenset({cfg}), frozenset({sentinel})]

    def test_kubelet_atomic_writer(self, tmp_path: Path) -> None:
        """The kubelet ..data symlink swap fires for a file reached through ..data."""
        mount = tmp_path / "mount"
        kubelet_mount(mount, {"config.yaml": "v: 1\n"})
        target = mount / "config.yaml"
        rec = Recorder(read=target)
        with FileWatcher([target], rec, FAST):
            kubelet_swap(mount, {"config.yaml": "v: 2\n"})
            assert rec.wait_content("v: 2\n")
            assert all(b == frozenset({target}) for b in rec.batches)


class TestFiltering:
    """Events that must never trigger a reload."""

    def test_editor_artefacts_alone_never_fire(
        self, watch: Watch, cfg: Path, sentinel: Path
    ) -> None:
        """Creating, writing and deleting only editor artefacts fires nothing."""
        _, rec = watch
        names = [
            "4913", ".config.yaml.swp", ".config.yaml.swx", ".config.yaml.swo", "config.yaml~",
            "#config.yaml#", "config.yaml___jb_tmp___", "config.yaml___jb_old___", "config.yaml.vsctmp",
            "config.yaml.tmp", ".config.yaml.tmp",
        ]  # fmt: skip
        for name in names:
            path = cfg.with_name(name)
            path.write_text("junk\n")
            path.unlink()
        os.symlink("user@host.1:1", cfg.with_name(".#config.yaml"))
        cfg.with_name(".#config.yaml").unlink()
        settle_with_sentinel(rec, sentinel)
        assert rec.batches == [frozenset({sentinel})]

    def test_own_reads_never_fire(self, watch: Watch, cfg: Path, sentinel: Path) -> None:
        """Reading the watched file 100 times fires nothing."""
        _, rec = watch
        for _ in range(100):
            cfg.read_bytes()
        settle_with_sentinel(rec, sentinel)
        assert rec.batches == [frozenset({sentinel})]


class TestMissing:
    """Deleted files, replaced directories and directories that appear later."""

    def test_delete_then_recreate(self, watch: Watch, cfg: Path) -> None:
        """A deleted target fires, and recreating it fires with the recreated content."""
        _, rec = watch
        cfg.unlink()
        assert rec.wait_path(cfg)
        cfg.write_text("a: recreated\n")
        assert rec.wait_content("a: recreated\n")

    def test_directory_replaced(self, tmp_path: Path) -> None:
        """rm -rf of the watched directory, mkdir and a write are picked up, and so are later writes."""
        conf = tmp_path / "conf"
        conf.mkdir()
        target = conf / "config.yaml"
        target.write_text("v: 1\n")
        rec = Recorder(read=target)
        with FileWatcher([target], rec, FAST):
            shutil.rmtree(conf)
            conf.mkdir()
            target.write_text("v: 2\n")
            assert rec.wait_content("v: 2\n")
            target.write_text("v: 3\n")
            assert rec.wait_content("v: 3\n")

    def test_missing_directory_created_later(self, tmp_path: Path) -> None:
        """A target whose directory does not exist at start is picked up once the directory appears."""
        target = tmp_path / "later" / "config.yaml"
        rec = Recorder(read=target)
        with FileWatcher([target], rec, FAST) as watcher:
            assert target.parent in watcher.status.missing
            target.parent.mkdir()
            atomic_write(target, "v: 1\n")
            assert rec.wait_content("v: 1\n")
            target.write_text("v: 2\n")
            assert rec.wait_content("v: 2\n")
            assert watcher.status.missing == ()
            assert watcher.status.watched_dirs == (target.parent,)


class TestDebounce:
    """Bursts coalesce; priority targets skip the quiet window."""

    def test_burst_of_1000_writes(self, watch: Watch, cfg: Path) -> None:
        """1,000 quick writes give a few batches, the last one after the last write."""
        _, rec = watch
        for i in range(1000):
            if i == 999:
                # Taken before the last write: on a slow machine the burst outlasts max_wait_ms, and a
                # max-wait batch may fire (and read "i: 999") between that write and a later clock read.
                last_write = time.monotonic()
            cfg.write_text(f"i: {i}\n")
        assert rec.wait_content("i: 999\n")
        assert len(rec.batches) <= 10
        assert rec.times[-1] >= last_write
        assert rec.contents[-1] == "i: 999\n"

    def test_priority_skips_debounce(self, tmp_path: Path, cfg: Path) -> None:
        """A priority target fires at once while a normal change still waits out a 5 s quiet window."""
        prio = tmp_path / "kill-switch"
        prio.write_text("off\n")
        rec = Recorder()
        options = WatchOptions(debounce_ms=5000, max_wait_ms=10_000)
        with FileWatcher([cfg, prio], rec, options, priority=[prio]):
            atomic_write(cfg, "a: 2\n")
            atomic_write(prio, "on\n")
            assert rec.wait_path(prio)
            assert rec.batches == [frozenset({prio})]


class TestPolling:
    """Polling mode, its env switch and the automatic fallback."""

    def test_same_size_and_restored_mtime_detected(self, tmp_path: Path, cfg: Path) -> None:
        """Polling sees a same-size rewrite whose mtime was put back with os.utime (via ctime)."""
        rec = Recorder(read=cfg)
        with FileWatcher([cfg], rec, WatchOptions(debounce_ms=20, poll_interval_ms=200)) as watcher:
            assert watcher.status.mode == "poll"
            before = os.stat(cfg)
            fd = os.open(cfg, os.O_WRONLY)
            os.write(fd, b"a: 9")  # same length as "a: 1", no truncation
            os.close(fd)
            os.utime(cfg, ns=(before.st_atime_ns, before.st_mtime_ns))
            after = os.stat(cfg)
            assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
                before.st_size, before.st_mtime_ns, before.st_ino,
            )  # fmt: skip
            assert rec.wait_content("a: 9\nname: aaa\n")

    def test_env_forces_polling(self, monkeypatch: pytest.MonkeyPatch, cfg: Path) -> None:
        """LIVESETTINGS_POLL=<ms> switches a watcher to polling and it still sees changes."""
        monkeypatch.setenv("LIVESETTINGS_POLL", "20")
        rec = Recorder(read=cfg)
        with FileWatcher([cfg], rec, FAST) as watcher:
            assert watcher.status.mode == "poll"
            assert _watch._shared_observer() is None
            atomic_write(cfg, "a: 2\n")
            assert rec.wait_content("a: 2\n")

    def test_fallback_when_schedule_raises(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, cfg: Path
    ) -> None:
        """An OSError(ENOSPC) from adding the watch switches the watcher to polling with a warning."""

        def no_space(*args: object, **kwargs: object) -> None:
            raise OSError(errno.ENOSPC, "inotify watch limit reached")

        monkeypatch.setattr(Observer, "schedule", no_space)
        monkeypatch.setattr(_observer._DirectObserver, "schedule", no_space)
        rec = Recorder(read=cfg)
        with caplog.at_level(logging.WARNING, logger="livesettings.watch.watcher"):
            with FileWatcher([cfg], rec, FAST) as watcher:
                status = watcher.status
                assert status.mode == "poll"
                assert status.fallback_reason is not None and "ENOSPC" in status.fallback_reason
                assert _watch._shared_observer() is None
                atomic_write(cfg, "a: 2\n")
                assert rec.wait_content("a: 2\n")
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "ENOSPC" in r.getMessage()]
        assert len(warnings) == 1


class TestSharedObserver:
    """One observer per process, one watch per directory."""

    def test_one_observer_one_watch_per_directory(self, tmp_path: Path) -> None:
        """Three watchers over two directories share one observer holding exactly two watches."""
        a, b = tmp_path / "a", tmp_path / "b"
        a.mkdir()
        b.mkdir()
        recs = [Recorder(), Recorder(), Recorder()]
        w1 = FileWatcher([a / "x.yaml", b / "y.yaml"], recs[0], FAST)
        w2 = FileWatcher([a / "z.yaml"], recs[1], FAST)
        w3 = FileWatcher([a / "x.yaml"], recs[2], FAST)
        for w in (w1, w2, w3):
            w.start()
        observer = _watch._shared_observer()
        assert observer is not None
        assert observer.paths == [str(a), str(b)]
        (a / "x.yaml").write_text("x: 1\n")
        assert recs[0].wait_path(a / "x.yaml")
        assert recs[2].wait_path(a / "x.yaml")
        w1.close()
        assert observer.paths == [str(a)]
        w2.close()
        w3.close()
        assert _watch._shared_observer() is None
        assert not observer.is_alive()

    def test_overflow_warning_rescans_everything(self, tmp_path: Path, cfg: Path, sentinel: Path) -> None:
        """watchdog's "Inotify queue overflowed" warning reports every target of every watcher."""
        rec = Recorder()
        with FileWatcher([cfg, sentinel], rec, FAST):
            logging.getLogger("watchdog.observers.inotify_c").warning(
                "Inotify queue overflowed; filesystem events were lost"
            )
            assert rec.wait_for(lambda r: frozenset({cfg, sentinel}) in r.batches)


class TestLifecycle:
    """close(), leaks and a misbehaving callback."""

    def test_close_is_idempotent_and_joins(self, cfg: Path) -> None:
        """close() twice is fine, joins the worker and leaves the state closed."""
        watcher = FileWatcher([cfg], Recorder(), FAST)
        watcher.start()
        worker = watcher._thread
        assert worker is not None and worker.is_alive()
        watcher.close()
        watcher.close()
        assert not worker.is_alive()
        assert watcher.status.state == "closed"
        assert _watch._shared_observer() is None

    def test_no_thread_or_fd_leak_over_1000_cycles(self, cfg: Path) -> None:
        """1,000 start/close cycles leave the thread count and open fds where they were."""

        def cycle() -> None:
            watcher = FileWatcher([cfg], Recorder(), FAST)
            watcher.start()
            watcher.close()

        cycle()
        threads, fds = threading.active_count(), len(os.listdir("/proc/self/fd"))
        for _ in range(1000):
            cycle()
        assert wait_until(lambda: threading.active_count() <= threads)
        assert len(os.listdir("/proc/self/fd")) <= fds + 2

    def test_raising_callback_does_not_kill_worker(
        self, caplog: pytest.LogCaptureFixture, cfg: Path
    ) -> None:
        """A callback that raises is logged with its traceback and the next change is still reported."""
        calls: list[frozenset[Path]] = []
        done = threading.Event()

        def flaky(paths: frozenset[Path]) -> None:
            calls.append(paths)
            if len(calls) == 1:
                raise RuntimeError("boom")
            done.set()

        with caplog.at_level(logging.WARNING, logger="livesettings.watch.watcher"):
            with FileWatcher([cfg], flaky, FAST):
                atomic_write(cfg, "a: 2\n")
                assert wait_until(lambda: len(calls) == 1)
                atomic_write(cfg, "a: 3\n")
                assert done.wait(TIMEOUT)
        failures = [r for r in caplog.records if r.exc_info and "on_change raised" in r.getMessage()]
        assert len(failures) == 1 and failures[0].levelno == logging.WARNING


class TestHandOff:
    """``handoff.hand_off()`` inside ``on_change``: the next change is reported meanwhile, on the relief thread."""

    def test_next_change_overlaps_a_handed_off_call_and_close_joins_both(
        self, cfg: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A call that handed off and then blocks does not hold up the next change; close() joins the
        relief thread and warns about the worker still blocked; the worker exits once released."""
        calls: list[str] = []
        inside, release = threading.Event(), threading.Event()

        def on_change(paths: frozenset[Path]) -> None:
            calls.append(threading.current_thread().name)
            assert handoff.hand_off()
            assert not handoff.hand_off()  # once: this thread holds nothing any more
            if len(calls) == 1:
                inside.set()
                release.wait(TIMEOUT)

        watcher = FileWatcher([cfg], on_change, WatchOptions(debounce_ms=0))
        watcher.start()
        try:
            atomic_write(cfg, "a: 2\n")
            assert inside.wait(TIMEOUT)
            atomic_write(cfg, "a: 3\n")
            assert wait_until(lambda: len(calls) == 2)
            worker, relief = watcher._thread, watcher._relief
            assert worker is not None and relief is not None
            assert calls == [worker.name, relief.name]
            with caplog.at_level(logging.WARNING, logger="livesettings.watch.watcher"):
                watcher.close(timeout=0.2)
            assert not relief.is_alive() and worker.is_alive()
            assert any(worker.name in r.getMessage() for r in caplog.records)
        finally:
            release.set()
        worker.join(TIMEOUT)
        assert not worker.is_alive()
        assert len(calls) == 2

    def test_debounced_batch_fires_on_time_while_a_handed_off_call_blocks(self, tmp_path: Path) -> None:
        """A normal target still in its quiet window when a priority batch hands off and blocks is
        reported by the spare thread when its window ends (a timer, no event), not after the call."""
        normal, urgent = tmp_path / "a.yaml", tmp_path / "b.yaml"
        normal.write_text("a: 1\n")
        urgent.write_text("b: 1\n")
        batches: list[frozenset[Path]] = []
        release = threading.Event()

        def on_change(paths: frozenset[Path]) -> None:
            batches.append(paths)
            if urgent in paths:
                handoff.hand_off()
                release.wait(3 * TIMEOUT)  # longer than the wait below: the normal batch cannot wait for it

        watcher = FileWatcher([normal, urgent], on_change, WatchOptions(debounce_ms=300), priority=[urgent])
        watcher.start()
        try:
            atomic_write(normal, "a: 2\n")
            atomic_write(urgent, "b: 2\n")
            assert wait_until(lambda: len(batches) == 2)
            assert batches == [frozenset({urgent}), frozenset({normal})]
            assert not release.is_set()
        finally:
            release.set()
            watcher.close()

    def test_no_op_outside_a_watcher(self) -> None:
        """On a thread that runs no watcher's step (a manual reload, a timer), hand_off does nothing."""
        assert handoff.hand_off() is False


class TestHalfWrittenFiles:
    """A file that is open for writing is not reported until it is closed (or has settled)."""

    def test_paused_writer_is_held_until_close(self, watch: Watch, cfg: Path) -> None:
        """A writer that writes part of the file and pauses with it open is reported only after close()."""
        watcher, rec = watch
        with open(cfg, "w") as f:
            f.write("port: 16\n")
            f.flush()
            assert wait_until(lambda: watcher.status.events_seen >= 1)
            assert not rec.wait_for(lambda r: bool(r.batches), timeout=1.0)  # the writer's pause
            f.write("name: complete\n")
        assert rec.wait_content("port: 16\nname: complete\n")
        assert rec.contents == ["port: 16\nname: complete\n"]

    def test_hold_covers_other_targets(self, watch: Watch, cfg: Path, sentinel: Path) -> None:
        """While one target is open for writing, a change of another target waits too (a reload reads both)."""
        _, rec = watch
        with open(cfg, "w") as f:
            f.write("port: 16\n")
            f.flush()
            atomic_write(sentinel, "s: 1\n")
            assert not rec.wait_for(lambda r: bool(r.batches), timeout=0.5)
            f.write("name: complete\n")
        assert rec.wait_for(lambda r: any(sentinel in b for b in r.batches))
        assert rec.contents == ["port: 16\nname: complete\n"]

    def test_writer_that_never_closes_is_capped(self, cfg: Path, caplog: pytest.LogCaptureFixture) -> None:
        """A write left open past open_write_s is reported once its content has settled, with a WARNING."""
        rec = Recorder(read=cfg)
        options = WatchOptions(debounce_ms=20, open_write_s=0.3, settle_ms=100)
        with caplog.at_level(logging.WARNING, logger="livesettings.watch.watcher"):
            with FileWatcher([cfg], rec, options), open(cfg, "w") as f:
                f.write("port: 16\n")
                f.flush()
                assert rec.wait_content("port: 16\n")
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "still open for writing" in warnings[0] and str(cfg) in warnings[0]

    def test_polling_waits_for_settled_content(self, cfg: Path) -> None:
        """In polling mode a paused writer is not reported until size, mtime and content stay put for settle_ms."""
        rec = Recorder(read=cfg)
        options = WatchOptions(debounce_ms=20, poll_interval_ms=30, settle_ms=1500)
        with FileWatcher([cfg], rec, options) as watcher:
            assert watcher.status.mode == "poll"
            with open(cfg, "w") as f:
                f.write("port: 16\n")
                f.flush()
                assert not rec.wait_for(lambda r: bool(r.batches), timeout=0.6)
                f.write("name: complete\n")
            assert rec.wait_content("port: 16\nname: complete\n")
            assert rec.contents == ["port: 16\nname: complete\n"]


class TestSpecialFiles:
    """FIFOs and device files at a watched path never block or get read."""

    def test_fifo_target_does_not_hang_the_worker(self, tmp_path: Path, sentinel: Path) -> None:
        """A FIFO target survives repeated safety re-checks; later saves are reported and close() joins."""
        fifo = tmp_path / "config.yaml"
        os.mkfifo(fifo)
        rec = Recorder()
        watcher = FileWatcher([fifo, sentinel], rec, WatchOptions(debounce_ms=20, safety_interval_s=0.02))
        watcher.start()
        try:
            assert wait_until(lambda: watcher.status.rechecks >= 3)
            atomic_write(sentinel, "s: 1\n")
            assert rec.wait_path(sentinel)
        finally:
            watcher.close(timeout=TIMEOUT)
        assert watcher._thread is not None and not watcher._thread.is_alive()

    def test_fifo_in_a_directory_target(self, tmp_path: Path) -> None:
        """A FIFO inside a directory target (a secrets dir) is skipped by the re-check; files still count."""
        secrets = tmp_path / "secrets"
        secrets.mkdir()
        os.mkfifo(secrets / "pipe")
        (secrets / "token").write_text("a")
        rec = Recorder()
        with FileWatcher([], rec, WatchOptions(debounce_ms=20, safety_interval_s=0.02), dirs=[secrets]) as w:
            assert wait_until(lambda: w.status.rechecks >= 3)
            atomic_write(secrets / "token", "b")
            assert rec.wait_path(secrets)

    @pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
    def test_symlink_to_device(self, tmp_path: Path, sentinel: Path, device: str) -> None:
        """A config path that is a symlink to a character device is never read and does not stop watching."""
        target = tmp_path / "config.yaml"
        os.symlink(device, target)
        rec = Recorder()
        with FileWatcher([target, sentinel], rec, WatchOptions(debounce_ms=20, safety_interval_s=0.02)) as w:
            assert wait_until(lambda: w.status.rechecks >= 3)
            atomic_write(sentinel, "s: 1\n")
            assert rec.wait_path(sentinel)
