"""``livesettings history``: the versions in the history file, across restarts."""

from __future__ import annotations

import json

from cliutil import CONFIG, PLANTED, ROTATED, cli, project  # noqa: F401 - fixtures


def run_app(project, *edits: str) -> None:
    """Start the app's settings object, apply each edit with reload(), stop it (one process run)."""
    cls = project.settings_class()
    with cls() as settings:
        settings.hot_reload.disable()
        for text in edits:
            project.config.write_text(text)
            settings.reload()


class TestHistory:
    def test_versions_listed(self, project, cli) -> None:
        """Every version the app recorded is listed with its changes, secrets masked."""
        run_app(project, CONFIG.replace("pool_size: 5", "pool_size: 6").replace(PLANTED, ROTATED))
        result = cli("history", project.target)
        assert result.code == 0
        lines = result.out.splitlines()
        assert lines[0].startswith("#1 ") and " initial pid " in lines[0]
        assert lines[1].startswith("#2 ") and " reload pid " in lines[1]
        assert "  ~ database.pool_size: 5 -> 6" in lines
        assert any(line.startswith('  ~ database.password: "<secret fp=') for line in lines)
        assert PLANTED not in result.out and ROTATED not in result.out

    def test_across_a_restart(self, project, cli) -> None:
        """A second run appends to the same file: numbers start again, the order is kept."""
        run_app(project, CONFIG.replace("INFO", "DEBUG"))
        run_app(project, CONFIG.replace("INFO", "ERROR"))
        data = json.loads(cli("history", project.target, "--json").out)
        versions = data["versions"]
        assert [(v["number"], v["source"]) for v in versions] == [(1, "initial"), (2, "reload"), (1, "initial"), (2, "reload")]
        assert [v["id"] for v in versions] == sorted(v["id"] for v in versions)
        assert versions[3]["changes"] == [
            {"path": "logging.level", "type": "modify", "old_value": "DEBUG", "new_value": "ERROR"},
        ]

    def test_json_shape(self, project, cli) -> None:
        """--json gives the file and each record's documented keys."""
        run_app(project)
        data = json.loads(cli("history", project.target, "--json").out)
        assert data["file"] == "history.jsonl"
        assert set(data["versions"][0]) == {
            "id", "time", "settings", "number", "source", "restores", "reason", "changes", "inputs", "pid",
        }

    def test_last(self, project, cli) -> None:
        """--last N keeps the newest N."""
        run_app(project, CONFIG.replace("INFO", "DEBUG"), CONFIG.replace("INFO", "ERROR"))
        data = json.loads(cli("history", project.target, "--json", "--last", "1").out)
        assert [v["number"] for v in data["versions"]] == [3]

    def test_file_option(self, project, cli) -> None:
        """--file reads a history file without TARGET."""
        run_app(project)
        result = cli("history", "--file", "history.jsonl")
        assert result.code == 0 and " initial " in result.out

    def test_no_file_yet(self, project, cli) -> None:
        """Before the app ran, history says there is nothing (exit 0)."""
        result = cli("history", project.target)
        assert result.code == 0 and "no such file yet" in result.out

    def test_class_without_history_file(self, project, cli) -> None:
        """A class with no history_file (and no --file) is a usage error."""
        result = cli("history", project.spec("TokenSettings"))
        assert result.code == 2 and "history_file" in result.err

    def test_needs_target_or_file(self, project, cli) -> None:
        """history with neither TARGET nor --file is a usage error."""
        assert cli("history").code == 2

    def test_unreadable_lines_skipped(self, project, cli) -> None:
        """A line cut short (a crash mid-write) is skipped with a warning."""
        run_app(project)
        with open("history.jsonl", "a") as fh:
            fh.write('{"id": "20260101T0000')
        result = cli("history", project.target)
        assert result.code == 0 and " initial " in result.out
        assert "1 line of history.jsonl could not be read" in result.err
