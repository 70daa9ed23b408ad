"""The persisted history file: one masked JSON line per version, rotation, several writers."""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr
from pydantic_settings import SettingsConfigDict

from livesettings import ReloadableSettings, ReloadConfig
from livesettings._historyfile import BACKUPS, HistoryFile, masked_json, read_history

SECRET = "planted-Secret-4411"
TOKEN = "planted-token-5522"
URL_PW = "planted-urlpw-6633"


class Auth(BaseModel):
    user: str = "admin"


def make_settings(tmp_path: Path, **config: object) -> type[ReloadableSettings]:
    class Settings(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(tmp_path / "app.yaml"))
        reload_config = ReloadConfig(**{"enabled": False, "history_file": str(tmp_path / "history.jsonl"), **config})  # type: ignore[arg-type]
        password: SecretStr = SecretStr("")
        api_token: str = ""
        dsn: str = ""
        port: int = 1
        auth: Auth = Auth()

    return Settings


def write(tmp_path: Path, port: int, password: str = SECRET, token: str = TOKEN, user: str = "admin") -> None:
    (tmp_path / "app.yaml").write_text(
        f"password: {password}\napi_token: {token}\ndsn: postgresql://app:{URL_PW}{port}@db/app\nport: {port}\n"
        f"auth:\n  user: {user}\n"
    )


class TestRecords:
    def test_one_line_per_version(self, tmp_path: Path) -> None:
        """Each accepted version is one JSON line with id, time, source, changes and inputs."""
        write(tmp_path, 1)
        with make_settings(tmp_path)() as settings:
            write(tmp_path, 2)
            settings.reload()
            settings.rollback()
            versions = settings.history
        records = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
        assert [r["id"] for r in records] == [v.id for v in versions]
        assert [r["source"] for r in records] == ["initial", "reload", "rollback"]
        assert records[2]["restores"] == versions[0].id
        assert records[1]["inputs"] == versions[1].inputs and records[1]["pid"] == os.getpid()
        assert datetime.datetime.fromisoformat(records[1]["time"]) == versions[1].timestamp
        assert {"path": "port", "type": "modify", "old_value": 1, "new_value": 2} in records[1]["changes"]

    def test_planted_secrets_never_written(self, tmp_path: Path) -> None:
        """A SecretStr, a credential-named str, a URL password and a value under auth never reach the file."""
        write(tmp_path, 1)
        with make_settings(tmp_path)() as settings:
            write(tmp_path, 2, "other-" + SECRET, "other-" + TOKEN, user="planted-user-7744")
            settings.reload()
        text = (tmp_path / "history.jsonl").read_text()
        for planted in (SECRET, TOKEN, URL_PW, "planted-user-7744"):
            assert planted not in text
        changes = {c["path"]: c for c in json.loads(text.splitlines()[1])["changes"]}
        assert set(changes) == {"password", "api_token", "dsn", "port", "auth.user"}
        assert changes["password"]["new_value"].startswith("<secret fp=")
        assert changes["dsn"]["new_value"].startswith("postgresql://app:<secret fp=")

    def test_nothing_written_without_the_option(self, tmp_path: Path) -> None:
        """Without history_file the engine has no recorder and writes nothing."""
        write(tmp_path, 1)
        settings = make_settings(tmp_path, history_file=None)()  # type: ignore[arg-type]
        settings.close()
        assert settings._ls_engine.recorders == [] and not (tmp_path / "history.jsonl").exists()

    def test_relative_path_from_the_working_directory(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A relative history_file is taken from the working directory at start-up."""
        monkeypatch.chdir(tmp_path)
        write(tmp_path, 1)
        with make_settings(tmp_path, history_file="logs/h.jsonl")():  # type: ignore[arg-type]
            pass
        assert len(read_history(tmp_path / "logs" / "h.jsonl")[0]) == 1

    def test_failing_write_does_not_break_the_reload(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """A history file that cannot be written logs a WARNING; the reload still applies."""
        (tmp_path / "history.jsonl").mkdir()  # a directory where the file should be
        write(tmp_path, 1)
        with caplog.at_level(logging.WARNING, logger="livesettings"), make_settings(tmp_path)() as settings:
            write(tmp_path, 2)
            settings.reload()
            assert settings.port == 2
        assert any("recording version" in r.getMessage() for r in caplog.records)

    def test_config_validates_the_size(self) -> None:
        """history_max_bytes below 1024 is refused."""
        with pytest.raises(ValueError, match="history_max_bytes"):
            ReloadConfig(history_max_bytes=10)


class TestRotation:
    def test_rotates_by_size_and_keeps_backups(self, tmp_path: Path) -> None:
        """Past max_bytes the file rotates; at most BACKUPS old files remain, each within the size."""
        path = tmp_path / "h.jsonl"
        history = HistoryFile(path, 1024, name="S")
        for i in range(200):
            history.append(json.dumps({"id": f"{i:06d}", "pad": "x" * 40}))
        files = sorted(tmp_path.iterdir())
        assert [f.name for f in files] == ["h.jsonl", *(f"h.jsonl.{i}" for i in range(1, BACKUPS + 1))]
        assert all(f.stat().st_size <= 1024 for f in files)
        records, bad = read_history(path)
        ids = [r["id"] for r in records]
        assert bad == 0 and ids == sorted(ids) and ids[-1] == "000199"
        assert len(ids) < 200  # the oldest were dropped

    def test_readable_after_a_restart(self, tmp_path: Path) -> None:
        """A new writer (a restarted process) appends after what is there."""
        path = tmp_path / "h.jsonl"
        HistoryFile(path, 4096, name="S").append('{"id": "1"}')
        HistoryFile(path, 4096, name="S").append('{"id": "2"}')
        assert [r["id"] for r in read_history(path)[0]] == ["1", "2"]

    def test_several_processes_append_whole_lines(self, tmp_path: Path) -> None:
        """Two processes appending (and rotating) at once leave only whole lines."""
        path = tmp_path / "h.jsonl"
        code = (
            "import json, sys\n"
            "from livesettings._historyfile import HistoryFile\n"
            "h = HistoryFile(sys.argv[1], 8192, name='S')\n"
            "for i in range(300):\n"
            "    h.append(json.dumps({'id': sys.argv[2] + str(i), 'pad': 'y' * 60}))\n"
        )
        procs = [subprocess.Popen([sys.executable, "-c", code, str(path), tag]) for tag in ("a", "b")]
        assert [p.wait(60) for p in procs] == [0, 0]
        records, bad = read_history(path)
        assert bad == 0 and records
        for tag in ("a", "b"):  # each writer's lines are in its own order
            mine = [int(r["id"][1:]) for r in records if r["id"].startswith(tag)]
            assert mine == sorted(mine) and mine[-1] == 299


class TestMaskedJson:
    def test_rules(self) -> None:
        """Secret types, credential names, URL passwords and whole sections under auth are masked."""
        assert masked_json(SecretStr("x")).startswith("<secret fp=")
        assert masked_json("abc", "db.password").startswith("<secret fp=")
        assert masked_json({"auth": {"user": "u", "on": True}}) == {"auth": {"user": masked_json("u", "auth"), "on": True}}
        assert masked_json("u", "auth").startswith("<secret fp=")
        assert "pw1" not in masked_json("https://a:pw1@h/")
        assert masked_json([1, "a"], "tokens")[0].startswith("<secret fp=")
        assert masked_json(None, "password") is None

    def test_plain_values(self) -> None:
        """Other values become plain JSON: numbers stay numbers, dates and paths become text."""
        assert masked_json(5) == 5 and masked_json(1.5) == 1.5 and masked_json(True) is True
        assert masked_json(math.inf) == "inf"
        assert masked_json(datetime.date(2026, 1, 2)) == "2026-01-02"
        assert masked_json(Path("/etc/x")) == "/etc/x"
        assert masked_json(Auth(user="bob")) == {"user": "bob"}
