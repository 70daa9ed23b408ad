"""``livesettings plan``: the validated diff of a proposed file, classified as a reload would, without touching the real file."""

from __future__ import annotations

import io
import json
import sys

from cliutil import CONFIG, PLANTED, ROTATED, cli, project  # noqa: F401 - fixtures

PROPOSAL = (CONFIG.replace("level: INFO", "level: DEBUG").replace("pool_size: 5", "pool_size: 20")
            .replace("db-primary", "db-replica").replace(PLANTED, ROTATED))


def effects(data: dict) -> dict[str, str]:
    return {c["path"]: c["effect"] for c in data["changes"]}


class TestClassification:
    def test_live_restart_and_handlers(self, project, cli) -> None:
        """Each change is live or restart, and the handlers that would run are named."""
        project.write("proposal.yaml", PROPOSAL)
        result = cli("plan", project.target, "--against", "proposal.yaml", "--json")
        assert result.code == 0, result.out
        data = json.loads(result.out)
        assert data["valid"] is True and data["errors"] == []
        assert data["source"] == "config/app.yaml" and data["against"] == "proposal.yaml"
        assert effects(data) == {
            "logging.level": "live", "database.url": "restart", "database.pool_size": "live", "database.password": "live",
        }
        url = next(c for c in data["changes"] if c["path"] == "database.url")
        assert url["type"] == "modify" and url["reason"] == "database.url is a Restart field"
        assert (url["old_value"], url["new_value"], url["value"]) == (
            "postgresql://db-primary/app", "postgresql://db-replica/app", "postgresql://db-replica/app")
        assert [h["name"] for h in data["handlers"]] == ["_apply_level", "_database_changed"]
        assert data["counts"] == {"live": 3, "restart": 1, "refused": 0, "shadowed": 0}

    def test_plain_output(self, project, cli) -> None:
        """Plain output has one line per change with its effect and a summary."""
        project.write("proposal.yaml", PROPOSAL)
        out = cli("plan", project.target, "--against", "proposal.yaml").out
        assert "replacing config/app.yaml with proposal.yaml" in out
        assert "  ~ database.pool_size: 5 -> 20 [live]" in out.splitlines()
        assert ("  ~ database.url: 'postgresql://db-primary/app' -> 'postgresql://db-replica/app' "
                "[restart: database.url is a Restart field]") in out.splitlines()
        assert "handlers that would run: _apply_level (logging.level), _database_changed (database)" in out
        assert "4 changes: 3 live, 1 restart, 0 refused, 0 shadowed" in out

    def test_only_matching_handlers(self, project, cli) -> None:
        """A change under logging only lists the logging handler; a restart-only change lists none."""
        project.write("level.yaml", CONFIG.replace("INFO", "ERROR"))
        data = json.loads(cli("plan", project.target, "--against", "level.yaml", "--json").out)
        assert [h["name"] for h in data["handlers"]] == ["_apply_level"]
        project.write("url.yaml", CONFIG.replace("db-primary", "db-other"))
        data = json.loads(cli("plan", project.target, "--against", "url.yaml", "--json").out)
        assert data["handlers"] == [] and effects(data) == {"database.url": "restart"}

    def test_refused_exits_one(self, project, cli) -> None:
        """Changing a Frozen field is refused: exit 1, effect refused, the reason in errors."""
        project.write("moved.yaml", CONFIG.replace("region: eu", "region: us"))
        result = cli("plan", project.target, "--against", "moved.yaml", "--json")
        assert result.code == 1
        data = json.loads(result.out)
        assert data["valid"] is False and effects(data) == {"region": "refused"}
        assert data["stage"] == "change rules"
        assert "region is Frozen" in data["errors"][0]["message"]

    def test_shadowed_edit(self, project, cli, monkeypatch) -> None:
        """An edit to .env that an environment variable hides is classified shadowed."""
        project.write(".env", "APP_DATABASE__POOL_SIZE=7\n")
        project.write("new.env", "APP_DATABASE__POOL_SIZE=8\n")
        monkeypatch.setenv("APP_DATABASE__POOL_SIZE", "9")
        result = cli("plan", project.target, "--against", "new.env", "--source", ".env", "--json")
        assert result.code == 0
        data = json.loads(result.out)
        assert data["source"] == ".env"
        assert effects(data) == {"database.pool_size": "shadowed"}
        assert "but env APP_DATABASE__POOL_SIZE wins" in data["changes"][0]["reason"]

    def test_no_changes(self, project, cli) -> None:
        """A proposal equal to the current file plans nothing and exits 0."""
        project.write("same.yaml", CONFIG)
        result = cli("plan", project.target, "--against", "same.yaml")
        assert result.code == 0 and "  no changes" in result.out.splitlines()

    def test_secrets_masked(self, project, cli) -> None:
        """Neither the old nor the proposed password is printed, in either form."""
        project.write("proposal.yaml", PROPOSAL)
        for extra in ((), ("--json",)):
            result = cli("plan", project.target, "--against", "proposal.yaml", *extra)
            assert PLANTED not in result.out and ROTATED not in result.out
            assert "<secret fp=" in result.out


class TestInvalidProposal:
    def test_invalid_file_named_with_location(self, project, cli) -> None:
        """A bad value in FILE exits 1 and names FILE (not the source it stands in for) with line and column."""
        project.write("bad.yaml", CONFIG.replace("pool_size: 5", "pool_size: lots"))
        result = cli("plan", project.target, "--against", "bad.yaml")
        assert result.code == 1
        assert "bad.yaml:6:14: database.pool_size: Input should be a valid integer" in result.out

    def test_invalid_json_shape(self, project, cli) -> None:
        """--json of an invalid proposal has valid false, the errors and no changes."""
        project.write("bad.yaml", "logging: [\n")
        data = json.loads(cli("plan", project.target, "--against", "bad.yaml", "--json").out)
        assert data["valid"] is False and data["changes"] == [] and data["stage"] == "syntax"
        assert data["errors"][0]["source"] == "bad.yaml"

    def test_empty_file_rejected_like_a_reload(self, project, cli) -> None:
        """An empty proposal is rejected as a half-written save, as a reload would."""
        project.write("empty.yaml", "")
        result = cli("plan", project.target, "--against", "empty.yaml")
        assert result.code == 1 and "is empty" in result.out


class TestRealFile:
    def test_source_file_untouched(self, project, cli) -> None:
        """Planning never writes the real source file."""
        project.write("proposal.yaml", PROPOSAL)
        before = (project.config.read_bytes(), project.config.stat().st_mtime_ns)
        cli("plan", project.target, "--against", "proposal.yaml")
        assert (project.config.read_bytes(), project.config.stat().st_mtime_ns) == before

    def test_plan_agrees_with_a_reload(self, project, cli) -> None:
        """What plan says is what a reload of the same file does: live changes applied, restart ones pending."""
        project.write("proposal.yaml", PROPOSAL)
        data = json.loads(cli("plan", project.target, "--against", "proposal.yaml", "--json").out)
        cls = project.settings_class()
        with cls() as settings:
            settings.hot_reload.disable()
            project.calls().clear()
            project.config.write_text(PROPOSAL)
            version = settings.reload()
            assert version is not None
            applied = sorted(c.path for c in version.changes)
            pending = sorted(settings.pending_restart)
            called = [name for name, _ in project.calls()]
        assert applied == sorted(p for p, e in effects(data).items() if e == "live")
        assert pending == sorted(p for p, e in effects(data).items() if e == "restart")
        assert called == [h["name"] for h in data["handlers"]]

    def test_from_standard_input(self, project, cli, monkeypatch) -> None:
        """--against - reads the proposal from standard input."""
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PROPOSAL.encode())))
        data = json.loads(cli("plan", project.target, "--against", "-", "--json").out)
        assert data["against"] == "-" and effects(data)["database.pool_size"] == "live"


class TestUsage:
    def test_missing_against_file(self, project, cli) -> None:
        """A FILE that does not exist is a usage error (2)."""
        result = cli("plan", project.target, "--against", "nope.yaml")
        assert result.code == 2 and "no such file" in result.err

    def test_source_not_read(self, project, cli) -> None:
        """--source naming a file TARGET does not read is a usage error listing what it reads."""
        project.write("proposal.yaml", PROPOSAL)
        result = cli("plan", project.target, "--against", "proposal.yaml", "--source", "other.yaml")
        assert result.code == 2 and "config/app.yaml" in result.err

    def test_ambiguous_source(self, project, cli) -> None:
        """With several files read and FILE's format matching none, --source is asked for."""
        project.write(".env", "APP_REGION=eu\n")
        project.write("proposal.txt", PROPOSAL)
        result = cli("plan", project.target, "--against", "proposal.txt")
        assert result.code == 2 and "--source" in result.err

    def test_format_picks_the_source(self, project, cli) -> None:
        """With a .env and a YAML file read, a .yaml proposal replaces the YAML file."""
        project.write(".env", "APP_REGION=eu\n")
        project.write("proposal.yaml", PROPOSAL)
        data = json.loads(cli("plan", project.target, "--against", "proposal.yaml", "--json").out)
        assert data["source"] == "config/app.yaml"

    def test_against_is_required(self, project, cli) -> None:
        """plan without --against is a usage error."""
        assert cli("plan", project.target).code == 2

    def test_current_config_invalid(self, project, cli) -> None:
        """When the current files do not load there is nothing to plan against: exit 1."""
        project.write("proposal.yaml", PROPOSAL)
        project.config.write_text("logging: [\n")
        result = cli("plan", project.target, "--against", "proposal.yaml")
        assert result.code == 1 and "nothing to plan against" in result.err
