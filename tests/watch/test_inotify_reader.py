"""The direct inotify backend's own reader: descriptors, kernel events and the fork.

Real inotify instances, real threads, real directories; waits are predicates with a timeout.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import wait_for
from livesettings.watch import observer as _observer
from livesettings.watch import watcher as _watch
from livesettings.watch.watcher import FileWatcher
from livesettings.watch.options import WatchOptions

pytestmark = pytest.mark.skipif(not _observer._DIRECT, reason="the direct inotify backend needs Linux")

FAST = WatchOptions(debounce_ms=0, safety_interval_s=3600)


@pytest.fixture(autouse=True)
def direct(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("LIVESETTINGS_POLL", raising=False)
    _watch._reset_for_tests()
    monkeypatch.setattr(_observer, "_DIRECT", True)
    yield
    _watch._reset_for_tests()


def inotify_fds() -> list[str]:
    """This process's open inotify instances (by /proc/self/fd link target)."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == "anon_inode:inotify":
                found.append(name)
        except OSError:  # closed since listdir
            pass
    return found


class Recorder:
    """A watcher callback that records each batch of changed targets."""

    def __init__(self) -> None:
        self.batches: list[frozenset[Path]] = []

    def __call__(self, changed: frozenset[Path]) -> None:
        self.batches.append(changed)


class TestDescriptors:
    def test_stop_at_once_closes_every_descriptor(self) -> None:
        """Started and stopped at once (before its first read), or never started: nothing stays open."""
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(300):
            observer = _observer._DirectObserver()
            observer.start()
            observer.stop()
            observer.join(5)
            assert not observer.is_alive()
            assert observer.fds == []
        unstarted = _observer._DirectObserver()
        unstarted.stop()
        assert unstarted.fds == []
        assert len(os.listdir("/proc/self/fd")) <= before
        assert inotify_fds() == []

    def test_a_watch_that_cannot_be_added_raises_oserror_naming_the_directory(self, tmp_path: Path) -> None:
        """inotify_add_watch's errno becomes the OSError (here ENOTDIR: a file is not a directory)."""
        observer = _observer._DirectObserver()
        observer.start()
        try:
            plain = tmp_path / "file"
            plain.write_text("")
            with pytest.raises(NotADirectoryError) as info:
                observer.schedule(_observer._DirHandler(str(plain)), str(plain))
            assert info.value.filename == str(plain)
            assert observer.paths == []
        finally:
            observer.stop()
            observer.join(5)


class TestKernelEvents:
    def test_events_are_delivered_on_the_reader_thread(self, tmp_path: Path) -> None:
        cfg = tmp_path / "app.yaml"
        cfg.write_text("a: 1\n")
        rec = Recorder()
        with FileWatcher([cfg], rec, FAST):
            cfg.write_text("a: 2\n")
            wait_for(lambda: any(cfg in b for b in rec.batches))
            hub = _observer.shared_observer()
            assert isinstance(hub, _observer._DirectObserver)
            assert hub.reader.name == "livesettings-inotify"
            assert len(inotify_fds()) == 1

    def test_a_deleted_directory_drops_its_watch_and_is_watched_again_when_it_returns(self, tmp_path: Path) -> None:
        """IN_DELETE_SELF then IN_IGNORED: the watch is forgotten (no stale descriptor), the
        directory's return is seen and a save in it is delivered."""
        d = tmp_path / "conf"
        d.mkdir()
        cfg = d / "app.yaml"
        cfg.write_text("a: 1\n")
        rec = Recorder()
        with FileWatcher([cfg], rec, FAST):
            hub = _observer.shared_observer()
            assert isinstance(hub, _observer._DirectObserver)
            (wd,) = {w.wd for w in hub._watches.values() if w.path == str(d)}
            shutil.rmtree(d)
            wait_for(lambda: wd not in hub._by_wd)
            d.mkdir()
            wait_for(lambda: str(d) in hub.paths)
            n = len(rec.batches)
            cfg.write_text("a: 3\n")
            wait_for(lambda: any(cfg in b for b in rec.batches[n:]))

    def test_queue_overflow_makes_every_watcher_rescan(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """The kernel's IN_Q_OVERFLOW record (wd -1), parsed from the same bytes the kernel writes,
        reports every target of every watcher, with a warning."""
        a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
        recs = [Recorder(), Recorder()]
        with FileWatcher([a], recs[0], FAST), FileWatcher([b], recs[1], FAST):
            hub = _observer.shared_observer()
            assert isinstance(hub, _observer._DirectObserver)
            with caplog.at_level(logging.WARNING, logger="livesettings.watch.observer"):
                hub._deliver(_observer._EVENT.pack(-1, _observer._IN_Q_OVERFLOW, 0, 0))
            wait_for(lambda: frozenset({a}) in recs[0].batches and frozenset({b}) in recs[1].batches)
        assert any("overflowed" in r.getMessage() for r in caplog.records)


def test_a_forked_child_closes_the_inherited_instance_and_opens_its_own(tmp_path: Path) -> None:
    """In the child the inherited watcher restarts on an inotify instance of the child's own and the
    parent's is closed (one instance open, not two); a second watcher there shares it and sees a
    save; the parent, meanwhile, still sees saves."""
    script = tmp_path / "fork.py"
    script.write_text(textwrap.dedent(f"""
        import json, os, sys, time
        from pathlib import Path
        sys.path[:0] = [{str(Path(__file__).parent)!r}, {str(Path(__file__).parent.parent)!r}]
        from test_inotify_reader import inotify_fds, Recorder, FAST
        from livesettings.watch.watcher import FileWatcher

        def wait(pred):
            deadline = time.monotonic() + 10
            while not pred():
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.005)
            return True

        cfg = Path({str(tmp_path)!r}) / "app.yaml"
        cfg.write_text("a: 1\\n")
        rec = Recorder()
        with FileWatcher([cfg], rec, FAST):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                after_fork = len(inotify_fds())
                own = Recorder()
                other = cfg.with_name("child.yaml")
                with FileWatcher([other], own, FAST):
                    opened = len(inotify_fds())
                    other.write_text("b: 1\\n")
                    seen = wait(lambda: any(other in b for b in own.batches))
                os.write(w, json.dumps(dict(after_fork=after_fork, opened=opened, seen=seen)).encode())
                os._exit(0)
            os.close(w)
            child = json.loads(os.read(r, 4096))
            os.waitpid(pid, 0)
            n = len(rec.batches)
            cfg.write_text("a: 2\\n")
            parent = wait(lambda: any(cfg in b for b in rec.batches[n:]))
        print(json.dumps(dict(child=child, parent=parent)))
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == (
        '{"child": {"after_fork": 1, "opened": 1, "seen": true}, "parent": true}'
    )


class TestReaderFailure:
    """The reader thread serves every watcher in the process: if it stops on an error, a new one
    takes over and every watcher re-watches its directories and checks its targets."""

    @staticmethod
    def _save_and_wait(cfg: Path, rec: Recorder, text: str) -> None:
        n = len(rec.batches)
        cfg.write_text(text)
        wait_for(lambda: any(cfg in b for b in rec.batches[n:]))

    @staticmethod
    @contextlib.contextmanager
    def _watching(tmp_path: Path) -> Iterator[tuple[Path, Recorder, FileWatcher, _observer._DirectObserver]]:
        """A watcher on ``app.yaml`` in ``tmp_path``: the file, its recorder, the watcher and the reader."""
        cfg = tmp_path / "app.yaml"
        cfg.write_text("a: 0\n")
        rec = Recorder()
        with FileWatcher([cfg], rec, FAST) as watcher:
            reader = _observer.shared_observer()
            assert isinstance(reader, _observer._DirectObserver)
            yield cfg, rec, watcher, reader

    def test_a_reader_that_raises_is_replaced_and_the_change_is_still_reported(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        real = _observer._DirectObserver._deliver
        calls = []

        def deliver_once_broken(self: _observer._DirectObserver, data: bytes) -> None:
            calls.append(self)
            if len(calls) == 1:
                raise RuntimeError("a bug in the reader")
            real(self, data)

        with caplog.at_level(logging.WARNING, logger="livesettings.watch.observer"):
            with self._watching(tmp_path) as (cfg, rec, watcher, old):
                monkeypatch.setattr(_observer._DirectObserver, "_deliver", deliver_once_broken)
                self._save_and_wait(cfg, rec, "a: 2\n")  # the event died with the reader; the re-watch reports it
                wait_for(lambda: not old.is_alive())
                new = _observer.shared_observer()
                assert isinstance(new, _observer._DirectObserver) and new is not old
                assert new.reader.is_alive() and new.reader.name == "livesettings-inotify"
                assert old.fds == []
                wait_for(lambda: str(tmp_path) in new.paths)
                self._save_and_wait(cfg, rec, "a: 3\n")  # delivered by the new reader
                assert watcher.status.mode == "inotify"
                assert len(inotify_fds()) == 1
        assert any("inotify reader stopped" in r.getMessage() for r in caplog.records)
        assert inotify_fds() == []
        assert not any(t.name == "livesettings-inotify" for t in threading.enumerate())

    def test_a_descriptor_closed_behind_its_back_makes_the_reader_die_and_be_replaced(self, tmp_path: Path) -> None:
        """Someone closes the inotify fd (a closerange): the reader's next read raises EBADF, a new
        reader takes over and the change is still reported."""
        with self._watching(tmp_path) as (cfg, rec, _, old):
            os.close(old._fd)  # the blocked poll keeps the instance; its next event's read raises EBADF
            self._save_and_wait(cfg, rec, "a: 2\n")
            wait_for(lambda: not old.is_alive())
            new = _observer.shared_observer()
            assert isinstance(new, _observer._DirectObserver) and new is not old
            wait_for(lambda: str(tmp_path) in new.paths)
            self._save_and_wait(cfg, rec, "a: 3\n")
        _close_quietly(old._wake_r, old._wake_w)  # left open by the dying reader (see the next test)

    def test_on_ebadf_the_dying_reader_closes_none_of_its_numbers(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """After an EBADF its numbers may already be another file's: here they are all still open
        (as a file someone else opened under a reused number would be) and must stay open."""
        def ebadf(self: object, data: bytes) -> None:
            raise OSError(errno.EBADF, "Bad file descriptor")

        with self._watching(tmp_path) as (cfg, rec, _, old):
            numbers = (old._fd, old._wake_r, old._wake_w)
            files = [(os.fstat(fd).st_dev, os.fstat(fd).st_ino) for fd in numbers]
            monkeypatch.setattr(_observer._DirectObserver, "_deliver", ebadf)
            cfg.write_text("a: 2\n")
            wait_for(lambda: not old.is_alive())
            monkeypatch.undo()
            new = _observer.shared_observer()
            assert isinstance(new, _observer._DirectObserver)
            # Had it closed them, the new instance would have taken the same (lowest free) numbers.
            assert not set(new.fds) & set(numbers)
            assert [(os.fstat(fd).st_dev, os.fstat(fd).st_ino) for fd in numbers] == files
            self._save_and_wait(cfg, rec, "a: 3\n")
        _close_quietly(*numbers)

    def test_with_no_new_instance_to_be_had_the_watchers_poll(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        with self._watching(tmp_path) as (cfg, rec, watcher, old):
            real_init = _observer._DirectObserver.__init__

            def no_instance(self: _observer._DirectObserver) -> None:
                raise OSError(24, "inotify_init1: Too many open files")

            monkeypatch.setattr(_observer._DirectObserver, "__init__", no_instance)
            monkeypatch.setattr(_observer._DirectObserver, "_deliver", _raise)
            cfg.write_text("a: 2\n")
            wait_for(lambda: watcher.status.mode == "poll")
            assert watcher.status.fallback_reason == "EMFILE: no new inotify reader: inotify_init1: Too many open files"
            monkeypatch.setattr(_observer._DirectObserver, "__init__", real_init)
            self._save_and_wait(cfg, rec, "a: 3\n")
        assert _observer.shared_observer() is None
        assert not old.is_alive()

    def test_a_reader_that_keeps_failing_is_not_replaced_forever(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Every event kills the reader: three replacements, then the watchers poll, and a change still arrives."""
        with caplog.at_level(logging.WARNING):
            with self._watching(tmp_path) as (cfg, rec, watcher, _):
                monkeypatch.setattr(_observer._DirectObserver, "_deliver", _raise)
                for n in range(1, 5):
                    self._save_and_wait(cfg, rec, f"a: {n}\n")  # each death reports the change anyway
                    if watcher.status.mode == "poll":
                        break
                    wait_for(lambda: str(tmp_path) in getattr(_observer.shared_observer(), "paths", []) or
                             watcher.status.mode == "poll")
                wait_for(lambda: watcher.status.mode == "poll")
                assert len(_observer.HUB.deaths) == 4
                assert watcher.status.fallback_reason == "EIO: the inotify reader failed 4 times in 60 s"
                self._save_and_wait(cfg, rec, "a: 9\n")
        assert any("failed 4 times in 60 s" in r.getMessage() for r in caplog.records)
        assert inotify_fds() == []


def _raise(self: object, data: bytes) -> None:
    raise RuntimeError("a bug in the reader")


def _close_quietly(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
