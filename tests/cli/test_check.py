"""``livesettings check``: validation with no side effects, the reload's error details, ``--strict``."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from livesettings import ReloadError

from cliutil import PLANTED, cli, project  # noqa: F401 - fixtures


class TestValid:
    def test_valid_config_exits_zero(self, project, cli) -> None:
        """A valid project exits 0 and says so, naming the files it read."""
        result = cli("check", project.target)
        assert result.code == 0, result.out + result.err
        assert "the configuration is valid" in result.out
        assert "config/app.yaml" in result.out and ".env (not present)" in result.out

    def test_json_shape(self, project, cli) -> None:
        """--json prints the documented keys, with valid true and no errors."""
        data = json.loads(cli("check", project.target, "--json").out)
        assert data["valid"] is True and data["errors"] == [] and data["stage"] is None
        assert data["target"] == project.target and data["settings"] == "AppSettings"
        assert data["environment"] == "development"
        assert {"path": "config/app.yaml", "present": True} in data["files"]
        assert set(data) >= {"unknown_keys", "shadowed", "strict", "summary"}

    def test_secret_never_printed(self, project, cli) -> None:
        """The planted password appears in neither form of the output."""
        for argv in (("check", project.target), ("check", project.target, "--json")):
            result = cli(*argv)
            assert PLANTED not in result.out + result.err


class TestInvalid:
    def test_invalid_value_exits_one_with_location(self, project, cli) -> None:
        """A bad value exits 1 with file:line:column, the field and the reload's message."""
        project.config.write_text(project.config.read_text().replace("pool_size: 5", "pool_size: twenty"))
        result = cli("check", project.target)
        assert result.code == 1
        assert "config/app.yaml:6:14: database.pool_size: Input should be a valid integer" in result.out
        assert "(got 'twenty')" in result.out

    def test_same_details_as_a_reload(self, project, cli) -> None:
        """The JSON errors are the details a reload of the same files raises."""
        cls = project.settings_class()
        settings = cls()
        settings.hot_reload.disable()
        try:
            project.config.write_text(project.config.read_text().replace("pool_size: 5", "pool_size: -x"))
            with pytest.raises(ReloadError) as caught:
                settings.reload()
        finally:
            settings.close()
        data = json.loads(cli("check", project.target, "--json").out)
        assert data["valid"] is False and data["stage"] == caught.value.stage
        assert data["summary"] == caught.value.summary
        expected = [
            {"field": d.field, "message": d.message, "source": "config/app.yaml", "line": d.line, "column": d.column}
            for d in caught.value.details
        ]
        assert data["errors"] == expected

    def test_syntax_error(self, project, cli) -> None:
        """A YAML syntax error exits 1 with its line and column."""
        project.config.write_text("logging: [\n")
        result = cli("check", project.target)
        assert result.code == 1
        assert "config/app.yaml:2:1:" in result.out

    def test_missing_required_field(self, project, cli) -> None:
        """A required section no source sets is an error naming the field."""
        project.config.write_text("region: eu\n")
        data = json.loads(cli("check", project.target, "--json").out)
        assert data["valid"] is False
        assert data["errors"][0]["field"] == "database"

    def test_unknown_keys_rejected_when_the_class_says_error(self, project, cli) -> None:
        """A class with unknown_keys="error" fails the check on a typo, as its reload would."""
        project.config.write_text(project.config.read_text().replace("  pool_size: 5", "  pool_sise: 5"))
        result = cli("check", project.spec("StrictSettings"))
        assert result.code == 1
        assert "config/app.yaml:6:3: database.pool_sise: unknown key (did you mean pool_size?)" in result.out

    def test_production_without_opt_in_is_refused(self, project, cli) -> None:
        """A class asking for hot reload is refused in production, as its constructor would be."""
        result = cli("check", project.spec("WatchedSettings"), "--env", "production")
        assert result.code == 1
        assert "allow_in_production" in result.out


class TestStrict:
    def test_unknown_key_warns_but_passes_without_strict(self, project, cli) -> None:
        """Without --strict an unknown key is a warning and the exit status stays 0."""
        project.config.write_text(project.config.read_text().replace("  pool_size: 5", "  pool_sise: 5"))
        result = cli("check", project.target)
        assert result.code == 0
        assert "warning: config/app.yaml:6:3: database.pool_sise: unknown key (did you mean pool_size?)" in result.out

    def test_strict_fails_on_unknown_key(self, project, cli) -> None:
        """--strict exits 1 on an unknown key, with its location and suggestion."""
        project.config.write_text(project.config.read_text().replace("  pool_size: 5", "  pool_sise: 5"))
        result = cli("check", project.target, "--strict")
        assert result.code == 1
        assert "--strict found 1 problem" in result.out
        assert "config/app.yaml:6:3: database.pool_sise: unknown key (did you mean pool_size?)" in result.out

    def test_strict_fails_on_shadowed_value(self, project, cli, monkeypatch) -> None:
        """--strict exits 1 when an environment variable hides a .env value, naming both."""
        project.write(".env", "APP_DATABASE__POOL_SIZE=7\n")
        monkeypatch.setenv("APP_DATABASE__POOL_SIZE", "9")
        assert cli("check", project.target).code == 0
        result = cli("check", project.target, "--strict", "--json")
        assert result.code == 1
        data = json.loads(result.out)
        assert data["stage"] == "strict"
        assert data["errors"][0]["field"] == "database.pool_size"
        assert "env APP_DATABASE__POOL_SIZE" in data["errors"][0]["message"]
        assert ".env:1 = 7" in data["errors"][0]["message"]
        assert [s["location"] for s in data["shadowed"][0]["shadowed"]] == [".env:1", "config/app.yaml:6:14"]

    def test_strict_passes_a_clean_config(self, project, cli) -> None:
        """--strict exits 0 when nothing is unknown or shadowed."""
        assert cli("check", project.target, "--strict").code == 0


class TestNoSideEffects:
    def test_no_thread_no_handler_no_audit_no_history(self, project, cli, caplog) -> None:
        """check starts no thread, calls no handler, logs nothing and writes no history file."""
        caplog.set_level(logging.DEBUG, logger="livesettings")
        before = set(threading.enumerate())
        started: list[threading.Thread] = []
        real_start = threading.Thread.start

        def spy(self: threading.Thread) -> None:
            started.append(self)
            real_start(self)

        try:
            threading.Thread.start = spy  # type: ignore[method-assign]
            result = cli("check", project.target)
        finally:
            threading.Thread.start = real_start  # type: ignore[method-assign]
        assert result.code == 0
        assert started == [] and set(threading.enumerate()) <= before
        assert project.calls() == []
        assert [r for r in caplog.records if r.name.startswith("livesettings")] == []
        assert not (project.root / "history.jsonl").exists()

    def test_files_untouched(self, project, cli) -> None:
        """check only reads: the config file's bytes and mtime are unchanged."""
        before = (project.config.read_bytes(), project.config.stat().st_mtime_ns)
        cli("check", project.target)
        assert (project.config.read_bytes(), project.config.stat().st_mtime_ns) == before
