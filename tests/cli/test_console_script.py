"""The installed ``livesettings`` console script (and ``python -m livesettings``), run as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from cliutil import CONFIG, PLANTED, ROTATED, console_env, project  # noqa: F401 - fixtures

SCRIPT = Path(sys.executable).with_name("livesettings")
TIMEOUT_S = 60


def run(project, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *argv], cwd=project.root, env=console_env(), input=stdin, capture_output=True, text=True,
        timeout=TIMEOUT_S, check=False,
    )


class TestConsoleScript:
    def test_installed(self) -> None:
        """The console script is installed next to the interpreter."""
        assert SCRIPT.exists()

    def test_python_dash_m(self, project) -> None:
        """python -m livesettings runs the same command line."""
        result = subprocess.run([sys.executable, "-m", "livesettings", "--version"], capture_output=True,
                                text=True, timeout=TIMEOUT_S, check=False)
        assert result.returncode == 0 and result.stdout.startswith("livesettings ")

    def test_usage_error(self, project) -> None:
        """A usage error exits 2."""
        assert run(project, "check").returncode == 2

    def test_check(self, project) -> None:
        """check exits 0 on the project, 1 once the file is broken, with the location."""
        assert run(project, "check", project.target).returncode == 0
        project.config.write_text(CONFIG.replace("pool_size: 5", "pool_size: x"))
        result = run(project, "check", project.target, "--json")
        assert result.returncode == 1
        assert json.loads(result.stdout)["errors"][0]["line"] == 6

    def test_show(self, project) -> None:
        """show prints every leaf, secrets masked."""
        result = run(project, "show", project.target)
        assert result.returncode == 0 and "database.pool_size = 5  config/app.yaml:6:14" in result.stdout
        assert PLANTED not in result.stdout

    def test_plan(self, project) -> None:
        """plan classifies a proposal read from standard input, and exits 1 on a refused change."""
        proposal = CONFIG.replace("pool_size: 5", "pool_size: 6").replace(PLANTED, ROTATED)
        result = run(project, "plan", project.target, "--against", "-", "--json", stdin=proposal)
        assert result.returncode == 0, result.stderr
        assert {c["path"] for c in json.loads(result.stdout)["changes"]} == {"database.pool_size", "database.password"}
        assert PLANTED not in result.stdout and ROTATED not in result.stdout
        refused = run(project, "plan", project.target, "--against", "-", stdin=CONFIG.replace("region: eu", "region: us"))
        assert refused.returncode == 1 and "[refused:" in refused.stdout

    def test_schema(self, project) -> None:
        """schema writes the JSON Schema to a file."""
        assert run(project, "schema", project.target, "--output", "schema.json").returncode == 0
        assert json.loads((project.root / "schema.json").read_text())["title"] == "AppSettings"

    def test_diff(self, project) -> None:
        """diff compares two files."""
        project.write("b.yaml", CONFIG.replace("INFO", "DEBUG"))
        result = run(project, "diff", "config/app.yaml", "b.yaml")
        assert result.returncode == 0 and result.stdout == "~ logging.level: 'INFO' -> 'DEBUG'\n"

    def test_watch(self, project) -> None:
        """watch prints the initial version, then an edit's diff, and stops after --count."""
        proc = subprocess.Popen(
            [str(SCRIPT), "watch", project.target, "--count", "1", "--json"], cwd=project.root, env=console_env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), name="test-watch-reader")  # type: ignore[arg-type]
        reader.start()
        try:
            deadline = time.monotonic() + TIMEOUT_S
            while not lines and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert lines and json.loads(lines[0])["source"] == "initial", proc.stderr.read()  # type: ignore[union-attr]
            tmp = project.config.with_name("app.yaml.tmp")
            tmp.write_text(CONFIG.replace("pool_size: 5", "pool_size: 31"))
            os.replace(tmp, project.config)
            assert proc.wait(TIMEOUT_S) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(10)
            proc.stdout.close()  # type: ignore[union-attr]
            proc.stderr.close()  # type: ignore[union-attr]
        change = json.loads(lines[1])["changes"][0]
        assert (change["path"], change["old_value"], change["new_value"]) == ("database.pool_size", 5, 31)

    def test_history_after_a_restart(self, project) -> None:
        """Two runs of an app write one history file that the history command reads back."""
        app = f"from {project.module} import AppSettings\nAppSettings().close()\n"
        for level in ("DEBUG", "ERROR"):
            project.write("config/app.yaml", CONFIG.replace("INFO", level))
            subprocess.run([sys.executable, "-c", app], cwd=project.root, env=console_env(), check=True,
                           timeout=TIMEOUT_S, capture_output=True)
        result = run(project, "history", project.target, "--json")
        assert result.returncode == 0
        versions = json.loads(result.stdout)["versions"]
        assert [v["number"] for v in versions] == [1, 1]
        assert len({v["pid"] for v in versions}) == 2
        assert PLANTED not in (project.root / "history.jsonl").read_text()

    def test_demo(self, tmp_path) -> None:
        """demo runs to the end, exits 0 and leaves nothing in the working directory."""
        result = subprocess.run([str(SCRIPT), "demo"], cwd=tmp_path, env=console_env(), capture_output=True,
                                text=True, timeout=TIMEOUT_S, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Done; the temporary directory is removed." in result.stdout
        assert not list(tmp_path.iterdir())
