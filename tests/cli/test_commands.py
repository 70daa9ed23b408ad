"""The operator's commands (``check``, ``show``, ``plan``, ``schema``, ``diff``): in-process through
``livesettings.cli.main`` and once each as a real subprocess of the installed console script."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml

from livesettings.cli import main

APP = '''
from typing import Annotated
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict
from livesettings import Frozen, ReloadableSettings, ReloadConfig, Restart, on_change

class Database(BaseModel):
    url: Annotated[str, Restart] = "postgresql://localhost/app"
    pool_size: int = Field(5, ge=1)
    password: SecretStr = SecretStr("")

class AppSettings(ReloadableSettings):
    model_config = SettingsConfigDict(yaml_file="config.yaml", env_file=".env", env_prefix="APP_",
                                      env_nested_delimiter="__")
    reload_config = ReloadConfig(enabled=True)
    level: str = "INFO"
    shard: Annotated[int, Frozen] = 1
    database: Database = Database()

    @on_change("database.pool_size")
    def _resize(self, diff): ...

    @on_change("level")
    def _level(self, diff): ...
'''

PLANTED = "PLANTED-hunter2"
GOOD = f"level: INFO\ndatabase:\n  pool_size: 5\n  password: {PLANTED}\n"


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project directory with app.py, config.yaml and .env; the cwd during the test."""
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "config.yaml").write_text(GOOD)
    (tmp_path / ".env").write_text("APP_LEVEL=DEBUG\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("app", None)
    yield tmp_path
    sys.modules.pop("app", None)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert PLANTED not in out + err, "a secret reached the output"
    return code, out, err


class TestCheck:
    """``check``: load and validate with no side effects."""

    def test_valid_config(self, app: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
        """A valid config exits 0; no thread is started and nothing is written to the audit log."""
        threads = threading.active_count()
        with caplog.at_level(logging.DEBUG, logger="livesettings.audit"):
            code, out, _ = run(capsys, "check", "app:AppSettings")
        assert code == 0 and "configuration ok" in out
        assert threading.active_count() == threads  # reload_config says enabled=True: still no watcher
        assert not [r for r in caplog.records if r.name == "livesettings.audit"]

    def test_invalid_config_names_file_line_column_and_field(self, app: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An invalid value exits 1 with the reload's file:line:column message; --json gives the errors."""
        (app / "config.yaml").write_text("database:\n  pool_size: 0\n")
        code, out, _ = run(capsys, "check", "app:AppSettings")
        assert code == 1 and "database.pool_size" in out and "line 2, column 14" in out
        code, out, _ = run(capsys, "check", "app:AppSettings", "--json")
        body = json.loads(out)
        assert code == 1 and body["valid"] is False
        [error] = body["errors"]
        assert (error["path"], error["line"], error["column"]) == ("database.pool_size", 2, 14)
        assert error["source"].endswith("config.yaml")

    def test_strict_fails_on_unknown_keys_and_shadowed_values(self, app: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Without --strict an unknown key is a warning; with it, unknown keys and hidden values exit 1."""
        (app / "config.yaml").write_text(GOOD + "  pool_sise: 3\n")
        code, out, _ = run(capsys, "check", "app:AppSettings")
        assert code == 0 and "did you mean pool_size" in out
        code, out, _ = run(capsys, "check", "app:AppSettings", "--strict", "--json")
        body = json.loads(out)
        assert code == 1 and body["valid"] is False
        assert [k["path"] for k in body["unknown_keys"]] == ["database.pool_sise"]
        assert [s["path"] for s in body["shadowed"]] == ["level"]  # .env's DEBUG hides the file's INFO

    def test_usage_errors_exit_2(self, app: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A malformed or missing TARGET is a usage error (exit 2)."""
        assert run(capsys, "check", "app")[0] == 2
        assert run(capsys, "check", "nosuchmodule:X")[0] == 2
        assert run(capsys, "check", "app:Nope")[0] == 2


class TestShow:
    """``show``: every leaf, the source that won, and what it shadowed."""

    def test_env_over_dotenv_over_file(self, app: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        """The classic trap is visible: the environment variable wins over .env, which hides the file."""
        monkeypatch.setenv("APP_LEVEL", "WARNING")
        code, out, _ = run(capsys, "show", "app:AppSettings", "--json")
        leaves = {leaf["path"]: leaf for leaf in json.loads(out)["leaves"]}
        assert code == 0
        level = leaves["level"]
        assert (level["value"], level["source"]) == ("'WARNING'", "env APP_LEVEL")
        assert [(s["source"], s["value"]) for s in level["shadowed"]] == [(".env:1", "DEBUG"), ("config.yaml:1:8", "'INFO'")]
        assert leaves["database.url"]["source"] == "default"
        assert leaves["database.password"]["value"].startswith("<secret")
        code, out, _ = run(capsys, "show", "app:AppSettings")
        assert code == 0 and "env APP_LEVEL" in out and ".env:1 = DEBUG" in out


class TestPlan:
    """``plan``: what replacing a source file would do, from the engine's own plan."""

    def test_classifies_changes_and_names_handlers(self, app: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Live and restart changes, the handlers that would run; the real file is not touched."""
        proposed = app / "proposed.yaml"
        proposed.write_text(GOOD.replace("pool_size: 5", "pool_size: 20") + "  url: postgresql://db2/app\n")
        before = (app / "config.yaml").read_bytes()
        code, out, _ = run(capsys, "plan", "app:AppSettings", "--against", str(proposed), "--json")
        body = json.loads(out)
        assert code == 0 and body["valid"] is True
        effects = {c["path"]: c["effect"] for c in body["changes"]}
        assert effects == {"database.pool_size": "live", "database.url": "restart"}
        assert body["handlers"] == ["AppSettings._resize"]
        assert (app / "config.yaml").read_bytes() == before
        code, out, _ = run(capsys, "plan", "app:AppSettings", "--against", str(proposed))
        assert code == 0 and "database.url is a Restart field" in out and "[live]" in out

    def test_invalid_or_refused_exits_1(self, app: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An invalid proposal and a Frozen change both exit 1, saying which."""
        bad = app / "bad.yaml"
        bad.write_text("database:\n  pool_size: 0\n")
        code, out, _ = run(capsys, "plan", "app:AppSettings", "--against", str(bad))
        assert code == 1 and out.startswith("invalid") and "line 2, column 14" in out
        bad.write_text(GOOD + "shard: 2\n")
        code, out, _ = run(capsys, "plan", "app:AppSettings", "--against", str(bad), "--json")
        body = json.loads(out)
        assert code == 1 and body["valid"] is False and body["errors"][0]["path"] == "shard"

    def test_shadowed_edit_is_planned_as_shadowed(self, app: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Replacing .env where the environment wins is planned as shadowed, with both locations."""
        os.environ["APP_DATABASE__POOL_SIZE"] = "9"
        try:
            proposed = app / "proposed.env"
            proposed.write_text("APP_LEVEL=DEBUG\nAPP_DATABASE__POOL_SIZE=7\n")
            (app / ".env").write_text("APP_LEVEL=DEBUG\nAPP_DATABASE__POOL_SIZE=6\n")
            code, out, _ = run(capsys, "plan", "app:AppSettings", "--against", str(proposed), "--source", ".env", "--json")
        finally:
            del os.environ["APP_DATABASE__POOL_SIZE"]
        changes = json.loads(out)["changes"]
        assert code == 0 and [(c["path"], c["effect"]) for c in changes] == [("database.pool_size", "shadowed")]
        assert "APP_DATABASE__POOL_SIZE wins" in changes[0]["reason"]

    def test_unknown_source_is_a_usage_error(self, app: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A --source that TARGET does not read is a usage error."""
        (app / "p.yaml").write_text(GOOD)
        assert run(capsys, "plan", "app:AppSettings", "--against", "p.yaml", "--source", "other.yaml")[0] == 2


class TestSchema:
    """``schema``: a JSON Schema editors can validate config files with."""

    def test_good_and_bad_yaml_against_the_schema(self, app: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """The emitted schema accepts the good file and rejects a wrong type (checked with jsonschema)."""
        code, _, _ = run(capsys, "schema", "app:AppSettings", "--output", "schema.json")
        schema = json.loads((app / "schema.json").read_text())
        assert code == 0 and schema["title"] == "AppSettings"
        jsonschema.validate(yaml.safe_load(GOOD), schema)
        with pytest.raises(jsonschema.ValidationError, match="pool_size|'many'"):
            jsonschema.validate({"database": {"pool_size": "many"}}, schema)


class TestDiff:
    """``diff A B``: the leaf changes between two config files, masked."""

    def test_leaf_diff_is_masked(self, app: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Each changed leaf once; a changed password is shown by fingerprint only."""
        (app / "b.yaml").write_text(GOOD.replace("pool_size: 5", "pool_size: 6").replace(PLANTED, PLANTED + "x"))
        code, out, _ = run(capsys, "diff", "config.yaml", "b.yaml", "--json")
        changes = {c["path"]: c for c in json.loads(out)["changes"]}
        assert code == 0 and set(changes) == {"database.pool_size", "database.password"}
        assert changes["database.pool_size"]["value"] == "6" and changes["database.password"]["value"].startswith("<secret")
        code, out, _ = run(capsys, "diff", "config.yaml", "config.yaml")
        assert code == 0 and out.strip() == "no changes"


class TestConsoleScript:
    """Every command once through the installed ``livesettings`` console script."""

    @pytest.mark.parametrize(
        ("argv", "code"),
        [
            (["check", "app:AppSettings"], 0),
            (["show", "app:AppSettings", "--json"], 0),
            (["plan", "app:AppSettings", "--against", "config.yaml"], 0),
            (["schema", "app:AppSettings"], 0),
            (["diff", "config.yaml", "config.yaml"], 0),
            (["check", "nope"], 2),
        ],
    )
    def test_subprocess(self, app: Path, argv: list[str], code: int) -> None:
        """The console script runs each command with the documented exit code and no secret in its output."""
        script = Path(sys.executable).parent / "livesettings"
        result = subprocess.run([str(script), *argv], capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == code, result.stderr
        assert PLANTED not in result.stdout + result.stderr
