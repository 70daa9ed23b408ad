"""``livesettings watch``: a live tail of versions and rejections, with no handler called."""

from __future__ import annotations

import json
import os
import threading

from conftest import wait_for

from cliutil import CONFIG, PLANTED, ROTATED, cli, project  # noqa: F401 - fixtures
from livesettings.cli import main


def save(path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class Tail:
    """``main(["watch", ...])`` on a thread, with its output read as it comes."""

    def __init__(self, capsys, *argv: str) -> None:
        self.capsys = capsys
        self.text = ""
        self.codes: list[int] = []
        self.thread = threading.Thread(target=lambda: self.codes.append(main(["watch", *argv])), name="test-tail")
        capsys.readouterr()
        self.thread.start()

    def read(self) -> str:
        self.text += self.capsys.readouterr().out
        return self.text

    def wait_for(self, needle: str) -> None:
        wait_for(lambda: needle in self.read() or not self.thread.is_alive())
        assert needle in self.text, self.text

    def join(self) -> int:
        self.thread.join(30)
        assert not self.thread.is_alive(), "watch did not stop"
        self.read()
        return self.codes[0]


class TestTail:
    def test_initial_then_a_change(self, project, capsys) -> None:
        """The initial version is printed, then the edit with its changes; --count 1 stops after it."""
        tail = Tail(capsys, project.target, "--count", "1")
        tail.wait_for(" initial")
        save(project.config, CONFIG.replace("pool_size: 5", "pool_size: 12"))
        assert tail.join() == 0
        lines = tail.text.splitlines()
        assert lines[0].startswith("#1 ") and lines[0].endswith(" initial")
        assert lines[1].startswith("#2 ") and lines[1].endswith(" file")
        assert "  ~ database.pool_size: 5 -> 12" in lines

    def test_rejection_and_warnings(self, project, capsys) -> None:
        """A bad edit is printed as rejected with its location; a restart-only edit as a warning."""
        tail = Tail(capsys, project.target, "--count", "1")
        tail.wait_for(" initial")
        save(project.config, CONFIG.replace("pool_size: 5", "pool_size: many"))
        tail.wait_for("rejected")
        save(project.config, CONFIG.replace("db-primary", "db-two"))
        tail.wait_for("needs a restart")
        save(project.config, CONFIG.replace("db-primary", "db-two").replace("INFO", "ERROR"))
        assert tail.join() == 0
        assert "config/app.yaml:6:14: database.pool_size: Input should be a valid integer" in tail.text
        assert "  ~ logging.level: 'INFO' -> 'ERROR'" in tail.text

    def test_json_lines(self, project, capsys) -> None:
        """--json prints one JSON document per line: version events with masked changes."""
        tail = Tail(capsys, project.target, "--count", "1", "--json")
        tail.wait_for('"source":"initial"')
        save(project.config, CONFIG.replace(PLANTED, ROTATED))
        assert tail.join() == 0
        events = [json.loads(line) for line in tail.text.splitlines()]
        assert [e["event"] for e in events] == ["version", "version"]
        assert events[1]["changes"][0]["path"] == "database.password"
        assert events[1]["changes"][0]["value"].startswith("<secret fp=")
        assert PLANTED not in tail.text and ROTATED not in tail.text

    def test_no_handler_no_history(self, project, capsys) -> None:
        """The tail calls none of the class's handlers and writes no history file."""
        tail = Tail(capsys, project.target, "--count", "1")
        tail.wait_for(" initial")
        save(project.config, CONFIG.replace("INFO", "DEBUG"))
        assert tail.join() == 0
        assert project.calls() == []
        assert not (project.root / "history.jsonl").exists()


class TestErrors:
    def test_count_must_be_positive(self, project, cli) -> None:
        """--count 0 is a usage error."""
        assert cli("watch", project.target, "--count", "0").code == 2

    def test_production_without_opt_in(self, project, cli) -> None:
        """In production a class without the opt-in does not hot reload: exit 1, saying why."""
        result = cli("watch", project.spec("WatchedSettings"), "--env", "production", "--count", "1")
        assert result.code == 1 and "allow_in_production" in result.err

    def test_invalid_at_start(self, project, cli) -> None:
        """A config that does not load at start exits 1 with its errors."""
        project.config.write_text("logging: [\n")
        result = cli("watch", project.target, "--count", "1")
        assert result.code == 1 and "config/app.yaml:2:1" in result.err
