"""``livesettings show``: every leaf, its masked value, the winning source and what it shadowed."""

from __future__ import annotations

import json
import sys

from cliutil import PLANTED, cli, project  # noqa: F401 - fixtures


class TestPlain:
    def test_every_leaf_with_its_location(self, project, cli) -> None:
        """Each leaf is one line: path = value, then where it came from."""
        result = cli("show", project.target)
        assert result.code == 0
        lines = result.out.splitlines()
        assert "region = 'eu'  config/app.yaml:1:9" in lines
        assert "logging.level = 'INFO'  config/app.yaml:3:10" in lines
        assert "database.pool_size = 5  config/app.yaml:6:14" in lines
        assert len(lines) == 5

    def test_secret_masked(self, project, cli) -> None:
        """The password shows as a fingerprint, never its text."""
        result = cli("show", project.target)
        assert PLANTED not in result.out
        assert any(line.startswith("database.password = <secret fp=") for line in result.out.splitlines())

    def test_env_var_hiding_dotenv(self, project, cli, monkeypatch) -> None:
        """The classic trap: an environment variable wins over .env, and both hidden values are named."""
        project.write(".env", "APP_DATABASE__POOL_SIZE=7\n")
        monkeypatch.setenv("APP_DATABASE__POOL_SIZE", "9")
        result = cli("show", project.target)
        assert ("database.pool_size = 9  env APP_DATABASE__POOL_SIZE  "
                "(shadows .env:1 = 7, config/app.yaml:6:14 = 5)") in result.out.splitlines()

    def test_default_is_named(self, project, cli) -> None:
        """A leaf no source sets says it is the default."""
        project.config.write_text(project.config.read_text().replace("region: eu\n", ""))
        assert "region = 'eu'  default" in cli("show", project.target).out.splitlines()

    def test_invalid_exits_one(self, project, cli) -> None:
        """An invalid config exits 1 with the error instead of a listing."""
        project.config.write_text(project.config.read_text().replace("pool_size: 5", "pool_size: x"))
        result = cli("show", project.target)
        assert result.code == 1
        assert "config/app.yaml:6:14: database.pool_size:" in result.out


class TestJson:
    def test_shape(self, project, cli, monkeypatch) -> None:
        """--json lists leaves with path, native masked value, source kind, location and shadowed sources."""
        project.write(".env", "APP_DATABASE__POOL_SIZE=7\n")
        monkeypatch.setenv("APP_DATABASE__POOL_SIZE", "9")
        result = cli("show", project.target, "--json")
        assert result.code == 0
        data = json.loads(result.out)
        assert data["valid"] is True and data["target"] == project.target
        leaves = {leaf["path"]: leaf for leaf in data["leaves"]}
        pool = leaves["database.pool_size"]
        assert pool["value"] == 9 and pool["source"] == "env" and pool["location"] == "env APP_DATABASE__POOL_SIZE"
        assert pool["variable"] == "APP_DATABASE__POOL_SIZE"
        assert [(s["value"], s["location"], s["source"]) for s in pool["shadowed"]] == [
            ("7", ".env:1", "dotenv"), ("5", "config/app.yaml:6:14", "yaml"),
        ]
        level = leaves["logging.level"]
        assert (level["value"], level["file"], level["line"], level["column"]) == ("INFO", "config/app.yaml", 3, 10)
        assert leaves["database.password"]["value"].startswith("<secret fp=")
        assert PLANTED not in result.out


class TestTerminal:
    def test_table_and_colour_on_a_tty(self, project, cli, monkeypatch) -> None:
        """On a terminal the leaves are an aligned table with a header and colour."""
        monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
        monkeypatch.delenv("NO_COLOR", raising=False)
        monkeypatch.setenv("TERM", "xterm")
        out = cli("show", project.target).out
        assert "SETTING" in out and "SHADOWS" in out and "\033[" in out
        rows = [line for line in out.splitlines() if "config/app.yaml" in line]
        starts = {line.index("\033[36mconfig") for line in rows}
        assert len(starts) == 1  # the source column is aligned

    def test_no_color(self, project, cli, monkeypatch) -> None:
        """NO_COLOR turns the table and colour off, even on a terminal."""
        monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
        monkeypatch.setenv("NO_COLOR", "1")
        out = cli("show", project.target).out
        assert "\033[" not in out and "SETTING" not in out


class TestAppended:
    def test_an_appended_list_names_each_files_part(self, project, cli) -> None:
        """A list concatenated from several files (``merge="append"``) lists each file's part in
        ``appended``, in the text and in JSON."""
        module = project.root / f"{project.module}.py"
        module.write_text(module.read_text() + (
            "\n\nclass MergedSettings(ReloadableSettings):\n"
            "    model_config = SettingsConfigDict(yaml_file=['config/base.yaml', 'config/extra.yaml'])\n"
            "    reload_config = ReloadConfig(merge='append')\n"
            "    hosts: list[str] = []\n"
        ))
        project.write("config/base.yaml", "hosts: [a, b]\n")
        project.write("config/extra.yaml", "hosts: [c]\n")
        text = cli("show", project.spec("MergedSettings"))
        assert text.code == 0, text.out
        assert "(appended: config/base.yaml:1:8 = " in text.out
        result = cli("show", project.spec("MergedSettings"), "--json")
        hosts = {leaf["path"]: leaf for leaf in json.loads(result.out)["leaves"]}["hosts"]
        assert hosts["value"] == ["a", "b", "c"]
        assert [(part["file"], part["line"]) for part in hosts["appended"]] == [
            ("config/base.yaml", 1), ("config/extra.yaml", 1),
        ]
