"""Tests of livesettings.watch.scan: signatures, non-blocking hashing and the polling comparison (real files)."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from livesettings.watch.routes import DEFAULT_IGNORE, Routes
from livesettings.watch.scan import Scanner, hash_file, target_hash

TIMEOUT = 10.0


def digest_of(path: Path) -> bytes:
    """hash_file in a helper thread, so a blocking open fails the test instead of hanging it."""
    box: dict[str, bytes] = {}

    def work() -> None:
        h = hashlib.blake2b(digest_size=16)
        hash_file(str(path), h)
        box["d"] = h.digest()

    t = threading.Thread(target=work, daemon=True)
    t.start()
    t.join(TIMEOUT)
    assert not t.is_alive(), f"hash_file blocked on {path}"
    return box["d"]


class TestHashFile:
    """hash_file never blocks and never reads a special file."""

    def test_regular_file_content(self, tmp_path: Path) -> None:
        """A regular file's digest follows its content."""
        f = tmp_path / "a.yaml"
        f.write_text("a: 1\n")
        first = digest_of(f)
        f.write_text("a: 2\n")
        assert digest_of(f) != first

    def test_fifo_does_not_block(self, tmp_path: Path) -> None:
        """A FIFO with no writer is not opened for reading (that open would block forever)."""
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        assert digest_of(fifo) == digest_of(fifo)

    def test_symlink_to_fifo(self, tmp_path: Path) -> None:
        """A symlink to a FIFO is followed for the type check and still not opened."""
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        link = tmp_path / "config.yaml"
        os.symlink(fifo, link)
        digest_of(link)

    @pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
    def test_device_is_not_read(self, device: str) -> None:
        """A character device gives a type marker, not its (endless) content."""
        digest_of(Path(device))

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file gives the unreadable marker instead of raising."""
        digest_of(tmp_path / "absent")


class TestScannerPoll:
    """The polling comparison with explicit clock values."""

    def test_change_settles_before_close(self, tmp_path: Path) -> None:
        """A change is a "write" first and a "close" only once it stayed put for settle_s."""
        f = tmp_path / "a.yaml"
        f.write_text("a: 1\n")
        routes = Routes.build([f], [])
        scanner = Scanner(DEFAULT_IGNORE)
        scanner.seed(routes.targets, routes)
        f.write_text("a: 22\n")
        assert scanner.poll(routes, 0.0, with_hash=False, settle_s=1.0) == [(f, "write")]
        assert scanner.poll(routes, 0.5, with_hash=False, settle_s=1.0) == []
        assert scanner.poll(routes, 1.0, with_hash=False, settle_s=1.0) == [(f, "close")]
        assert scanner.poll(routes, 2.0, with_hash=False, settle_s=1.0) == []

    def test_change_during_settling_restarts_it(self, tmp_path: Path) -> None:
        """A writer that resumes before settle_s is over restarts the window."""
        f = tmp_path / "a.yaml"
        f.write_text("a: 1\n")
        routes = Routes.build([f], [])
        scanner = Scanner(DEFAULT_IGNORE)
        scanner.seed(routes.targets, routes)
        with open(f, "a") as fh:
            fh.write("b: 2\n")
            fh.flush()
            assert scanner.poll(routes, 0.0, with_hash=False, settle_s=1.0) == [(f, "write")]
            fh.write("c: 3\n")
        assert scanner.poll(routes, 0.9, with_hash=False, settle_s=1.0) == [(f, "write")]
        assert scanner.poll(routes, 1.5, with_hash=False, settle_s=1.0) == []
        assert scanner.poll(routes, 2.0, with_hash=False, settle_s=1.0) == [(f, "close")]

    def test_no_settle_reports_done(self, tmp_path: Path) -> None:
        """Without a settle window (the event-mode safety check) a change is "done" at once."""
        f = tmp_path / "a.yaml"
        f.write_text("a: 1\n")
        routes = Routes.build([f], [])
        scanner = Scanner(DEFAULT_IGNORE)
        scanner.seed(routes.targets, routes)
        f.unlink()
        assert scanner.poll(routes, 0.0, with_hash=True, settle_s=0.0) == [(f, "done")]

    def test_directory_target_skips_fifo(self, tmp_path: Path) -> None:
        """A FIFO inside a directory target is left out of its signature and hash."""
        d = tmp_path / "secrets"
        d.mkdir()
        (d / "token").write_text("a")
        routes = Routes.build([], [d])
        scanner = Scanner(DEFAULT_IGNORE)
        before = scanner.sig(d, routes)
        os.mkfifo(d / "pipe")
        after = scanner.sig(d, routes)
        assert before == after
        assert target_hash(d, after, routes) is not None
