"""Shared fixtures: a clean environment for every test, and helpers to wait for events."""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

_ENV_VARS = ("LIVESETTINGS_ENV", "APP_ENV", "ENVIRONMENT", "LIVESETTINGS_POLL")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts in 'development' with no livesettings env overrides; env is restored after."""
    saved = dict(os.environ)
    for name in _ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("APP_"):
            monkeypatch.delenv(name, raising=False)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Tests may change logger levels; put them back."""
    names = ("", "livesettings", "livesettings.audit", "livesettings.notify")
    levels = {n: logging.getLogger(n).level for n in names}
    yield
    for n, level in levels.items():
        logging.getLogger(n).setLevel(level)


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    """Every livesettings thread a test starts must be joined by the end of the test."""
    before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + 5
    while True:
        leaked = [
            t for t in threading.enumerate()
            if t.ident not in before and t.is_alive() and t.name.startswith("livesettings")
        ]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.005) -> None:
    """Poll ``predicate`` until it is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


_KUBELET_VERSIONS = itertools.count(1)


def _kubelet_version(mount: Path, files: Mapping[str, str]) -> str:
    name = f"..2026_01_01_00_00_00.{next(_KUBELET_VERSIONS):09d}"
    (mount / name).mkdir()
    for file, text in files.items():
        (mount / name / file).write_text(text)
    return name


def kubelet_mount(mount: Path, files: Mapping[str, str]) -> None:
    """A ConfigMap/Secret volume as the kubelet lays it out: ``file -> ..data/file``,
    ``..data -> ..<timestamp>`` holding the files."""
    mount.mkdir(exist_ok=True)
    (mount / "..data").symlink_to(_kubelet_version(mount, files))
    for file in files:
        (mount / file).symlink_to(f"..data/{file}")


def kubelet_swap(mount: Path, files: Mapping[str, str]) -> None:
    """Publish new contents as the kubelet's AtomicWriter does: a new timestamped directory,
    ``..data`` switched to it by renaming a temporary symlink over it, the old directory removed.
    No event names the files themselves."""
    old = os.readlink(mount / "..data")
    (mount / "..data_tmp").symlink_to(_kubelet_version(mount, files))
    os.rename(mount / "..data_tmp", mount / "..data")
    shutil.rmtree(mount / old)
