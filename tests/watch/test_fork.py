"""Fork safety: real ``os.fork()`` and ``multiprocessing`` (fork start method) in a child interpreter.

Each test runs a small script in a fresh Python process (so forking never copies pytest's own
threads), and the script forks. Waits are predicates with deadlines well below the safety
re-check interval, which the scripts set to an hour: a change seen in time was seen by inotify.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify and fork: Linux only")

PRELUDE = '''
import gc, json, multiprocessing, os, signal, sys, threading, time
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import SettingsConfigDict

from livesettings import ReloadableSettings, ReloadConfig

HERE = Path(sys.argv[1])
CFG = HERE / "conf" / "app.yaml"
RESULT = HERE / "result.json"
FAST = ReloadConfig(debounce_ms=20, max_wait_ms=200, safety_interval_s=3600)
PARENT = os.getpid()


def make(path=CFG):
    class Settings(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(path))
        reload_config = FAST
        port: int = 0

    return Settings()


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def save(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def report(**values):
    print(json.dumps(values), flush=True)


def child_result(**values):
    (HERE / f"child-{os.getpid()}.json").write_text(json.dumps(values))


def read_child(pid):
    path = HERE / f"child-{pid}.json"
    return json.loads(path.read_text()) if path.exists() else None


def wait_child(pid, timeout=20.0):
    """waitpid with a deadline: a hung child is killed and reported as 'hung'."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return "hung"


def live_threads():
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("livesettings") and t.is_alive())


(HERE / "conf").mkdir(exist_ok=True)
CFG.write_text("port: 1\\n")
'''


def run(tmp_path: Path, body: str) -> dict[str, Any]:
    """Run PRELUDE + `body` in a fresh interpreter; return the JSON it printed last."""
    script = tmp_path / "script.py"
    script.write_text(PRELUDE + textwrap.dedent(body))
    proc = subprocess.run(
        [sys.executable, "-W", "error", str(script), str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no result; stderr:\n{proc.stderr}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


class TestChildExit:
    """A child that exits must not take the parent's inotify watch with it."""

    def test_os_fork_child_normal_exit(self, tmp_path: Path) -> None:
        """After a forked child exits through sys.exit (finalizers run), the parent sees the next save."""
        result = run(tmp_path, """
            s = make()
            pid = os.fork()
            if pid == 0:
                sys.exit(0)
            code = wait_child(pid)
            save(CFG, "port: 2\\n")
            report(code=code, seen=wait_until(lambda: s.port == 2), port=s.port)
            s.close()
        """)
        assert result == {"code": 0, "seen": True, "port": 2}

    def test_multiprocessing_child_closes_and_exits(self, tmp_path: Path) -> None:
        """A multiprocessing (fork) child that closes its inherited settings leaves the parent watching."""
        result = run(tmp_path, """
            s = make()

            def work():
                s.close()

            p = multiprocessing.get_context("fork").Process(target=work)
            p.start()
            p.join(20)
            save(CFG, "port: 2\\n")
            report(code=p.exitcode, seen=wait_until(lambda: s.port == 2), port=s.port)
            s.close()
        """)
        assert result == {"code": 0, "seen": True, "port": 2}

    def test_recycled_workers(self, tmp_path: Path) -> None:
        """Three generations of forked workers exiting one after another leave the parent watching."""
        result = run(tmp_path, """
            s = make()
            codes = []
            for n in range(3):
                pid = os.fork()
                if pid == 0:
                    sys.exit(0)
                codes.append(wait_child(pid))
            save(CFG, "port: 2\\n")
            report(codes=codes, seen=wait_until(lambda: s.port == 2))
            s.close()
        """)
        assert result == {"codes": [0, 0, 0], "seen": True}


class TestChildWatches:
    """In the child, an inherited settings object and a new one both hot-reload."""

    @pytest.mark.parametrize("how", ["os.fork", "multiprocessing"])
    def test_inherited_object_sees_edit_after_fork(self, tmp_path: Path, how: str) -> None:
        """An edit made after the fork reaches the child's copy, whose status says it is running."""
        result = run(tmp_path, f"""
            s = make()
            go = HERE / "go"

            def work():
                status = s.hot_reload.status
                ready = (HERE / f"ready-{{os.getpid()}}")
                ready.write_text("")
                seen = wait_until(lambda: s.port == 2)
                child_result(seen=seen, state=status.state, mode=status.mode,
                             dirs=[d.name for d in status.watched_dirs], threads=bool(live_threads()))

            if {how!r} == "os.fork":
                pid = os.fork()
                if pid == 0:
                    work()
                    sys.exit(0)
            else:
                p = multiprocessing.get_context("fork").Process(target=work)
                p.start()
                pid = p.pid
            wait_until(lambda: (HERE / f"ready-{{pid}}").exists())
            save(CFG, "port: 2\\n")
            if {how!r} == "os.fork":
                code = wait_child(pid)
            else:
                p.join(20)
                code = p.exitcode
            report(code=code, child=read_child(pid), parent=wait_until(lambda: s.port == 2))
            s.close()
        """)
        assert result == {
            "code": 0,
            "child": {"seen": True, "state": "running", "mode": "inotify", "dirs": ["conf"], "threads": True},
            "parent": True,
        }

    def test_object_created_in_child_hot_reloads(self, tmp_path: Path) -> None:
        """A settings object created in a forked child (the parent already watching) hot-reloads."""
        result = run(tmp_path, """
            s = make()
            other = HERE / "conf" / "other.yaml"
            other.write_text("port: 10\\n")
            pid = os.fork()
            if pid == 0:
                t = make(other)
                save(other, "port: 11\\n")
                child_result(seen=wait_until(lambda: t.port == 11), port=t.port)
                t.close()
                sys.exit(0)
            code = wait_child(pid)
            save(CFG, "port: 2\\n")
            report(code=code, child=read_child(pid), parent=wait_until(lambda: s.port == 2))
            s.close()
        """)
        assert result == {"code": 0, "child": {"seen": True, "port": 11}, "parent": True}


class TestForkDuringReload:
    """A fork while the parent holds locks mid-reload gives the child fresh ones."""

    @pytest.mark.parametrize("how", ["os.fork", "multiprocessing"])
    def test_child_reload_does_not_hang(self, tmp_path: Path, how: str) -> None:
        """The parent's watcher is blocked inside validation (engine lock held); the child's reload() returns."""
        result = run(tmp_path, f"""
            entered, release = threading.Event(), threading.Event()

            class Slow(ReloadableSettings):
                model_config = SettingsConfigDict(yaml_file=str(CFG))
                reload_config = FAST
                port: int = 0

                @field_validator("port")
                @classmethod
                def _slow(cls, v):
                    if v == 99 and os.getpid() == PARENT:
                        entered.set()
                        release.wait(30)
                    return v

            s = Slow()
            save(CFG, "port: 99\\n")
            assert entered.wait(10)

            def work():
                s.reload()
                child_result(port=s.port, gc=gc.isenabled(), threads=bool(live_threads()))

            if {how!r} == "os.fork":
                pid = os.fork()
                if pid == 0:
                    work()
                    sys.exit(0)
                code = wait_child(pid)
            else:
                p = multiprocessing.get_context("fork").Process(target=work)
                p.start()
                pid = p.pid
                p.join(20)
                code = p.exitcode
                if code is None:
                    p.kill()
                    p.join()
                    code = "hung"
            release.set()
            report(code=code, child=read_child(pid), parent=wait_until(lambda: s.port == 99))
            s.close()
        """)
        assert result == {"code": 0, "child": {"port": 99, "gc": True, "threads": True}, "parent": True}

    def test_fork_while_parent_runs_a_handler(self, tmp_path: Path) -> None:
        """The parent's worker is inside a handler (delivery in progress); the child's handlers still run."""
        result = run(tmp_path, """
            entered, release = threading.Event(), threading.Event()
            calls = []

            class Held(ReloadableSettings):
                model_config = SettingsConfigDict(yaml_file=str(CFG))
                reload_config = FAST
                port: int = 0

            s = Held()

            def handler(diff):
                calls.append(diff.new_value)
                if os.getpid() == PARENT:
                    entered.set()
                    release.wait(30)

            s.watch("port", handler)
            save(CFG, "port: 2\\n")
            assert entered.wait(10)
            pid = os.fork()
            if pid == 0:
                del calls[:]
                save(CFG, "port: 3\\n")
                s.reload()
                child_result(calls=calls, port=s.port)
                sys.exit(0)
            code = wait_child(pid)
            release.set()
            report(code=code, child=read_child(pid), parent=wait_until(lambda: s.port == 3 and calls == [2, 3]))
            s.close()
        """)
        assert result == {"code": 0, "child": {"calls": [3], "port": 3}, "parent": True}


class TestForkWithRelief:
    """The relief thread that takes new events while a handler blocks is the process's own."""

    def test_child_gets_its_own_worker_and_relief(self, tmp_path: Path) -> None:
        """Forked while the parent's handler blocks (its relief thread running): the child starts a
        worker of its own, and a relief of its own once its handler blocks; both processes keep
        applying edits while their handler blocks, and close() leaves no livesettings thread."""
        result = run(tmp_path, """
            entered, release = threading.Event(), threading.Event()
            child_entered, child_release = threading.Event(), threading.Event()
            calls = []

            class Held(ReloadableSettings):
                model_config = SettingsConfigDict(yaml_file=str(CFG))
                reload_config = ReloadConfig(debounce_ms=0, safety_interval_s=3600)
                port: int = 0

            s = Held()

            def handler(diff):
                calls.append(diff.new_value)
                if os.getpid() == PARENT and diff.new_value == 2:
                    entered.set()
                    release.wait(30)
                if os.getpid() != PARENT and diff.new_value == 4:
                    child_entered.set()
                    child_release.wait(30)

            def reliefs():
                return sum(name.endswith("-relief") for name in live_threads())

            s.watch("port", handler)
            save(CFG, "port: 2\\n")
            assert entered.wait(10)
            parent_threads = (len(live_threads()), reliefs())
            pid = os.fork()
            if pid == 0:
                del calls[:]
                inherited = (len(live_threads()), reliefs())
                save(CFG, "port: 4\\n")
                held = child_entered.wait(10)
                save(CFG, "port: 5\\n")
                applied = wait_until(lambda: s.port == 5)
                during = (len(live_threads()), reliefs())
                child_release.set()
                delivered = wait_until(lambda: calls[-1:] == [5])
                s.close()
                child_result(inherited=inherited, held=held, applied=applied, during=during,
                             delivered=delivered, first=calls[0], after=live_threads())
                sys.exit(0)
            code = wait_child(pid)
            applied = wait_until(lambda: s.port == 5)  # the child's edits, applied while 2's handler still blocks
            release.set()
            delivered = wait_until(lambda: calls[-1:] == [5])
            s.close()
            report(code=code, child=read_child(pid), parent_threads=parent_threads, applied=applied,
                   delivered=delivered, first=calls[0], after=live_threads())
        """)
        # (livesettings threads, of which relief): the inotify reader, the worker, the relief
        assert result == {
            "code": 0,
            "child": {
                "inherited": [2, 0], "held": True, "applied": True, "during": [3, 1],
                "delivered": True, "first": 4, "after": [],
            },
            "parent_threads": [3, 1],
            "applied": True,
            "delivered": True,
            "first": 2,
            "after": [],
        }
