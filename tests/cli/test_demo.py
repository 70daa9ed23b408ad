"""``livesettings demo``: the tour runs in seconds, in a temp dir it removes, and leaves the process as it was."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from cliutil import cli, console_env  # noqa: F401 - fixtures

SCRIPT = Path(sys.executable).with_name("livesettings")


class TestDemo:
    def test_runs_and_cleans_up(self, cli, tmp_path, monkeypatch) -> None:
        """The tour exits 0, shows every step, masks the passwords and removes its directory."""
        monkeypatch.chdir(tmp_path)
        env_before, path_before, cwd = dict(os.environ), list(sys.path), os.getcwd()
        result = cli("demo")
        assert result.code == 0, result.out
        for step in range(1, 11):
            assert f"\n{step}. " in result.out
        assert "hunter2" not in result.out and "correct-horse" not in result.out
        assert "2 live, 1 restart, 0 refused, 0 shadowed" in result.out
        assert "(shadows .env:1 = 30, config/app.yaml:5:14 = 5)" in result.out
        workdir = re.search(r"livesettings demo in (\S+)", result.out)
        assert workdir and not Path(workdir[1]).exists()
        assert dict(os.environ) == env_before and sys.path == path_before and os.getcwd() == cwd
        assert "demo_settings" not in sys.modules
        assert not list(tmp_path.iterdir())

    def test_interactive_follows_your_edits(self, tmp_path) -> None:
        """--interactive ends with a tail of the file; an edit shows up, Ctrl-C stops and cleans up."""
        proc = subprocess.Popen(
            [str(SCRIPT), "demo", "--interactive"], cwd=tmp_path, env=console_env(),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), name="test-demo-reader")  # type: ignore[arg-type]
        reader.start()
        try:
            deadline = time.monotonic() + 60
            while not any("Your turn: edit" in line for line in lines) and time.monotonic() < deadline:
                assert proc.poll() is None, "".join(lines)
                time.sleep(0.02)
            index = next(i for i, line in enumerate(lines) if "Your turn: edit" in line)
            config = Path(re.search(r"edit (\S+app\.yaml)", lines[index])[1])  # type: ignore[index]
            while not any(line.endswith(" initial\n") for line in lines[index:]) and time.monotonic() < deadline:
                time.sleep(0.02)  # the tail is following the file once it printed the initial version
            seen = len(lines)
            tmp = config.with_name("app.yaml.tmp")
            tmp.write_text(config.read_text().replace("pool_size: 5", "pool_size: 77"))
            os.replace(tmp, config)
            while not any("pool_size: 5 -> 77" in line for line in lines[seen:]) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert any("pool_size: 5 -> 77" in line for line in lines[seen:]), "".join(lines)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(10)
            proc.stdout.close()  # type: ignore[union-attr]
        assert not config.parent.parent.exists()
