"""The watchdog-observer backend (used off Linux, and on Linux when asked): its own leaks are ours.

Real watchdog observers, real threads, real directories.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from watchdog.events import FileSystemEventHandler

from livesettings.watch import observer as _observer

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/fd")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_stopping_before_the_inotify_reader_first_reads_leaks_no_descriptor(tmp_path: Path) -> None:
    """watchdog 7.1 leaks its inotify fd and wake pipe when stopped before its reader's first read.

    That race needs the new reader thread to wait for a CPU: here this thread (and so the threads
    it starts) shares one CPU with a busy subprocess, which makes it the rule (87 of 100 cycles
    leaked without the fix). Every cycle must leave the process's descriptor count where it was.
    """
    cpu = min(os.sched_getaffinity(0))
    saved = os.sched_getaffinity(0)
    burner = subprocess.Popen(
        [sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{cpu}}})\nwhile True: pass"]
    )
    os.sched_setaffinity(0, {cpu})
    try:
        before = open_fds()
        leaking = 0
        for _ in range(100):
            start = open_fds()
            observer = _observer._WatchdogObserver()
            observer.start()
            observer.unschedule(observer.schedule(FileSystemEventHandler(), str(tmp_path)))
            observer.stop()
            observer.join()
            leaking += open_fds() > start
    finally:
        os.sched_setaffinity(0, saved)
        burner.kill()
        burner.wait()
    assert (leaking, open_fds()) == (0, before)
