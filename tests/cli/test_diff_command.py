"""``livesettings diff A B``: leaf changes between two config files, secrets masked."""

from __future__ import annotations

import json

from cliutil import CONFIG, PLANTED, ROTATED, cli, project  # noqa: F401 - fixtures

NEW = CONFIG.replace("pool_size: 5", "pool_size: 9").replace(PLANTED, ROTATED).replace("region: eu\n", "") + "debug: true\n"


class TestDiff:
    def test_plain(self, project, cli) -> None:
        """Each changed leaf is one line, marked +, ~ or -."""
        project.write("a.yaml", CONFIG)
        project.write("b.yaml", NEW)
        result = cli("diff", "a.yaml", "b.yaml")
        assert result.code == 0
        lines = result.out.splitlines()
        assert "- region: removed (was 'eu')" in lines
        assert "~ database.pool_size: 5 -> 9" in lines
        assert "+ debug: added True" in lines
        assert any(line.startswith("~ database.password: <secret fp=") for line in lines)
        assert PLANTED not in result.out and ROTATED not in result.out

    def test_json(self, project, cli) -> None:
        """--json lists changes with path, type and masked values."""
        project.write("a.yaml", CONFIG)
        project.write("b.yaml", NEW)
        result = cli("diff", "a.yaml", "b.yaml", "--json")
        data = json.loads(result.out)
        changes = {c["path"]: c for c in data["changes"]}
        assert data["valid"] is True
        assert changes["database.pool_size"] == {
            "path": "database.pool_size", "type": "modify", "value": 9, "old_value": 5, "new_value": 9,
        }
        assert changes["region"]["type"] == "delete" and changes["debug"]["type"] == "add"
        assert PLANTED not in result.out and ROTATED not in result.out

    def test_identical(self, project, cli) -> None:
        """Two equal files: no changes, exit 0."""
        project.write("a.yaml", CONFIG)
        project.write("b.yaml", CONFIG)
        result = cli("diff", "a.yaml", "b.yaml")
        assert result.code == 0 and "no differences" in result.out

    def test_across_formats(self, project, cli) -> None:
        """A YAML file and a JSON file compare by content."""
        project.write("a.yaml", "port: 1\nname: x\n")
        project.write("b.json", '{"port": 2, "name": "x"}')
        assert cli("diff", "a.yaml", "b.json").out.splitlines() == ["~ port: 1 -> 2"]

    def test_dotenv_and_toml(self, project, cli) -> None:
        """.env files and TOML files are read too; credential-named keys are masked."""
        project.write(".env", "APP_PORT=1\nAPP_TOKEN=abc-planted-tok\n")
        project.write("prod.env", "APP_PORT=2\nAPP_TOKEN=def-planted-tok\n")
        out = cli("diff", ".env", "prod.env").out
        assert "~ APP_PORT: '1' -> '2'" in out and "planted-tok" not in out
        project.write("a.toml", "[server]\nport = 1\n")
        project.write("b.toml", "[server]\nport = 3\n")
        assert cli("diff", "a.toml", "b.toml").out.splitlines() == ["~ server.port: 1 -> 3"]

    def test_parse_error_exits_one(self, project, cli) -> None:
        """A file that does not parse exits 1 with its line and column."""
        project.write("a.yaml", CONFIG)
        project.write("b.yaml", "a: 1\na: 2\n")
        result = cli("diff", "a.yaml", "b.yaml")
        assert result.code == 1 and "b.yaml:2:1:" in result.out

    def test_missing_file_is_usage(self, project, cli) -> None:
        """A file that does not exist is a usage error (2)."""
        project.write("a.yaml", CONFIG)
        result = cli("diff", "a.yaml", "nope.yaml")
        assert result.code == 2 and "no such file" in result.err

    def test_unknown_format(self, project, cli) -> None:
        """A name that says no format is a usage error, unless --format says it."""
        project.write("a.conf", "x: 1\n")
        project.write("b.conf", "x: 2\n")
        assert cli("diff", "a.conf", "b.conf").code == 2
        assert cli("diff", "a.conf", "b.conf", "--format", "yaml").out.splitlines() == ["~ x: 1 -> 2"]
