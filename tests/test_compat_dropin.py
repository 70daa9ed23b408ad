"""ReloadableSettings as a drop-in for pydantic-settings' BaseSettings (issue 8), one class per cause.

Each test uses real files in a temporary directory and the real process environment; the
measure over pydantic-settings' own suite is ``make compat`` (``compat/run.py``).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import os
import pickle
import threading
import weakref
import zipfile
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    CliApp,
    CliPositionalArg,
    CliSettingsSource,
    CliSubCommand,
    EnvSettingsSource,
    JsonConfigSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
    get_subcommand,
)

from conftest import wait_for
from livesettings import ReloadableSettings, ReloadConfig, ReloadError
from livesettings.exceptions import ConfigValidationError, SettingsSourceError, SourceError, UntrustedSourceError

OFF = ReloadConfig(enabled=False)


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


class LaterReferrer(ReloadableSettings):
    """A field whose class is defined further down the module (resolved on first use)."""

    reload_config = OFF
    later: DefinedLater = None  # type: ignore[assignment]


class DefinedLater(BaseModel):
    value: int = 7


class TestInstanceApi:
    """An instance answers pydantic's instance API from its current snapshot."""

    def test_model_dump_and_json_follow_a_reload(self, cwd: Path) -> None:
        """model_dump() and model_dump_json() give the current values, before and after a reload."""
        (cwd / "c.json").write_text('{"port": 1, "name": "a"}')

        class S(ReloadableSettings):
            model_config = SettingsConfigDict(json_file="c.json")
            reload_config = OFF
            port: int = 0
            name: str = ""

        with S() as s:
            assert s.model_dump() == {"port": 1, "name": "a"}
            (cwd / "c.json").write_text('{"port": 2, "name": "a"}')
            s.reload()
            assert s.model_dump(include={"port"}) == {"port": 2}
            assert json.loads(s.model_dump_json()) == {"port": 2, "name": "a"}
            assert s.model_fields_set == {"port", "name"}

    def test_model_copy_is_a_frozen_snapshot_of_the_class(self, cwd: Path) -> None:
        """model_copy(update=...) gives a snapshot that is an instance of the class, not a live object."""

        class S(ReloadableSettings):
            reload_config = OFF
            port: int = 1

        with S() as s:
            copy = s.model_copy(update={"port": 5})
            assert copy.port == 5 and s.port == 1
            assert isinstance(copy, S) and not isinstance(copy, ReloadableSettings)

    def test_str_eq_and_iter_are_pydantics(self, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """str() is pydantic's 'a=1' form (secrets masked), == compares values, iter gives pairs."""
        monkeypatch.setenv("TOKEN", "hunter2")

        class S(ReloadableSettings):
            reload_config = OFF
            port: int = 1
            token: SecretStr = SecretStr("")

        with S() as a, S() as b:
            assert str(a).startswith("port=1 token=") and "hunter2" not in str(a)
            assert a == b and a == b.snapshot()
            assert dict(a) == {"port": 1, "token": a.token}
            monkeypatch.setenv("PORT", "2")
            b.reload()
            assert a != b


class TestClassIsAModel:
    """The class answers pydantic's class API, and pydantic-settings' sources accept it."""

    def test_class_api(self, cwd: Path) -> None:
        """model_config, model_fields, model_json_schema and model_validate work on the class."""

        class S(ReloadableSettings):
            model_config = SettingsConfigDict(env_prefix="X_")
            reload_config = OFF
            port: int = 1

        assert S.model_config["env_prefix"] == "X_"
        assert list(S.model_fields) == ["port"]
        assert S.model_json_schema()["title"] == "S"
        validated = S.model_validate({"port": 3})
        assert validated.port == 3 and isinstance(validated, S)
        with S() as s:
            assert s.model_config["env_prefix"] == "X_" and list(s.model_fields) == ["port"]

    def test_stock_source_built_with_the_class(self, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """EnvSettingsSource(Settings) reads the environment for the class's fields."""
        monkeypatch.setenv("APP_PORT", "9")

        class S(ReloadableSettings, env_prefix="APP_"):
            port: int = 1

        assert EnvSettingsSource(S)() == {"port": "9"}

    def test_bare_base_instantiates(self, cwd: Path) -> None:
        """ReloadableSettings() works like BaseSettings(): no fields."""
        with ReloadableSettings() as s:
            assert s.model_dump() == {}

    def test_pydantic_model_among_the_bases(self, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A pydantic model mixed in as a base contributes its fields and validators."""
        monkeypatch.setenv("SHARED", "from-env")

        class Common(BaseModel):
            shared: str = "default"

        class S(ReloadableSettings, Common):
            reload_config = OFF
            own: int = 1

        with S() as s:
            assert (s.shared, s.own) == ("from-env", 1)
            assert isinstance(s.snapshot(), Common)


class TestClassKeywords:
    """Config given as class keyword arguments, as pydantic accepts it."""

    def test_env_prefix_keyword(self, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """class S(ReloadableSettings, env_prefix="APP_") reads APP_PORT."""
        monkeypatch.setenv("APP_PORT", "8")

        class S(ReloadableSettings, env_prefix="APP_"):
            reload_config = OFF
            port: int = 1

        with S() as s:
            assert s.port == 8


class TestExceptions:
    """Invalid config is catchable as what pydantic-settings raises, with livesettings' message."""

    def test_validation_error(self, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A bad value raises a ReloadError that is pydantic's ValidationError, secrets masked in errors()."""
        (cwd / ".env").write_text("PORT=abc\nPASSWORD=hunter2\n")

        class S(ReloadableSettings):
            model_config = SettingsConfigDict(env_file=".env")
            reload_config = OFF
            port: int
            password: SecretStr
            missing: int

        with pytest.raises(ValidationError) as info:
            S()
        error = info.value
        assert isinstance(error, ReloadError) and isinstance(error, ConfigValidationError)
        assert ".env, line 1" in str(error) and "hunter2" not in str(error) and "hunter2" not in repr(error)
        assert {tuple(e["loc"]) for e in error.errors()} == {("port",), ("missing",)}
        assert "hunter2" not in json.dumps(error.errors(include_context=False), default=str)
        assert error.title == "S" and error.error_count() == 2
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is ConfigValidationError and back.errors() == error.errors() and str(back) == str(error)

    def test_settings_error(self, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """An env value that is not JSON for a complex field is pydantic-settings' SettingsError."""
        monkeypatch.setenv("ITEMS", "[1, 2,")

        class S(ReloadableSettings):
            reload_config = OFF
            items: list[int] = []

        with pytest.raises(SettingsError, match='error parsing value for field "items" from source "EnvSettingsSource"') as info:
            S()
        assert isinstance(info.value, SettingsSourceError) and isinstance(info.value, ReloadError)

    def test_reload_keeps_raising_reload_error(self, cwd: Path) -> None:
        """A rejected reload is still a ReloadError (and a ValidationError), the old config kept."""
        (cwd / "c.json").write_text('{"port": 1}')

        class S(ReloadableSettings):
            model_config = SettingsConfigDict(json_file="c.json")
            reload_config = OFF
            port: int

        with S() as s:
            (cwd / "c.json").write_text('{"port": "x"}')
            with pytest.raises(ValidationError):
                s.reload()
            assert s.port == 1 and isinstance(s.last_error, ReloadError)


class TestCustomiseSources:
    """settings_customise_sources is called as pydantic-settings calls it."""

    def test_keyword_signature(self, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A (cls, settings_cls, **kwargs) signature gets the sources by name."""
        monkeypatch.setenv("PORT", "5")
        seen: list[str] = []

        class S(ReloadableSettings):
            reload_config = OFF
            port: int = 1

            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], **kwargs: PydanticBaseSettingsSource
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                seen.extend(kwargs)
                return (kwargs["env_settings"],)

        with S() as s:
            assert s.port == 5
        assert seen == ["init_settings", "env_settings", "dotenv_settings", "file_secret_settings"]


class NestedDb(ReloadableSettings):
    host: str = "localhost"
    port: int = 5432


class TestNestedSettings:
    """A settings class used as a field type is read like a nested model."""

    def test_nested_from_env_and_reload(self, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """DB__HOST fills the nested settings field; a reload picks up a new value."""
        monkeypatch.setenv("DB__HOST", "db1")

        class S(ReloadableSettings, env_nested_delimiter="__"):
            reload_config = OFF
            db: NestedDb = NestedDb.model_construct()

        with S() as s:
            assert (s.db.host, s.db.port) == ("db1", 5432)
            assert isinstance(s.db, NestedDb)
            monkeypatch.setenv("DB__PORT", "6000")
            s.reload()
            assert (s.db.host, s.db.port) == ("db1", 6000)


class TestForwardRefs:
    """Annotations naming a class defined later are resolved when first needed, as pydantic does."""

    def test_defined_later(self, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The class defined after the settings class is used once it exists."""
        monkeypatch.setenv("LATER", '{"value": 3}')
        with LaterReferrer() as s:
            assert s.later.value == 3


class TestStockSourceOptions:
    """Options given to pydantic-settings' own file sources are kept when livesettings reads the files."""

    def test_toml_table_header(self, cwd: Path) -> None:
        """TomlConfigSettingsSource(..., toml_table_header=...) reads that table."""
        (cwd / "p.toml").write_text('[tool.app]\nport = 3\n')

        class S(ReloadableSettings):
            reload_config = OFF
            port: int = 1

            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], **kwargs: PydanticBaseSettingsSource
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (TomlConfigSettingsSource(settings_cls, "p.toml", toml_table_header=("tool", "app")),)

        with S() as s:
            assert s.port == 3

    @pytest.mark.parametrize("deep", [True, False])
    def test_deep_merge(self, cwd: Path, deep: bool) -> None:
        """YamlConfigSettingsSource(..., deep_merge=) merges several files the same way, on reload too."""
        (cwd / "a.yaml").write_text("db:\n  host: a\n  port: 1\n")
        (cwd / "b.yaml").write_text("db:\n  port: 2\n")

        class Db(BaseModel):
            host: str = "none"
            port: int = 0

        class S(ReloadableSettings):
            reload_config = OFF
            db: Db = Db()

            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], **kwargs: PydanticBaseSettingsSource
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (YamlConfigSettingsSource(settings_cls, ["a.yaml", "b.yaml"], deep_merge=deep),)

        with S() as s:
            assert (s.db.host, s.db.port) == (("a", 2) if deep else ("none", 2))
            (cwd / "b.yaml").write_text("db:\n  port: 3\n")
            s.reload()
            assert (s.db.host, s.db.port) == (("a", 3) if deep else ("none", 3))


class TestEncodings:
    """The *_file_encoding options are honoured."""

    def test_latin1_env_file(self, cwd: Path) -> None:
        """A latin-1 .env reads with env_file_encoding='latin-1'."""
        (cwd / ".env").write_bytes("NAME=caf\xe9\n".encode("latin-1"))

        class S(ReloadableSettings):
            model_config = SettingsConfigDict(env_file=".env", env_file_encoding="latin-1")
            reload_config = OFF
            name: str = ""

        with S() as s:
            assert s.name == "café"

    def test_json_and_yaml_file_encoding(self, cwd: Path) -> None:
        """json_file_encoding and yaml_file_encoding decode the files (cp1252 here)."""
        (cwd / "c.json").write_bytes('{"a": "\u20ac1"}'.encode("cp1252"))
        (cwd / "c.yaml").write_bytes("b: \u20ac2\n".encode("cp1252"))

        class S(ReloadableSettings):
            model_config = SettingsConfigDict(
                json_file="c.json", json_file_encoding="cp1252", yaml_file="c.yaml", yaml_file_encoding="cp1252"
            )
            reload_config = OFF
            a: str = ""
            b: str = ""

        with S() as s:
            assert (s.a, s.b) == ("€1", "€2")


class TestEnvFileDepth:
    """env_file_depth looks for the .env in parent directories of the working directory."""

    def test_parent_env_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """With depth 2 the .env two levels up is read (a directory named .env is no file); depth 1 stops short."""
        (tmp_path / ".env").write_text("NAME=top\n")
        work = tmp_path / "a" / "b"
        (work / ".env").mkdir(parents=True)
        monkeypatch.chdir(work)

        class S(ReloadableSettings):
            model_config = SettingsConfigDict(env_file=".env", env_file_depth=2)
            reload_config = OFF
            name: str = "unset"

        with S() as s:
            assert s.name == "top"
        with S(_env_file_depth=0) as s:  # only the working directory: its .env is a directory, skipped
            assert s.name == "unset"


class TestTraversable:
    """A file given as a Traversable (zipfile.Path) is read, as pydantic-settings reads it."""

    def test_zipfile_path(self, cwd: Path) -> None:
        """toml_file=zipfile.Path(...) works."""
        with zipfile.ZipFile(cwd / "conf.zip", "w") as zf:
            zf.writestr("app.toml", "port = 4\n")
        archive = zipfile.ZipFile(cwd / "conf.zip")

        class S(ReloadableSettings):
            reload_config = OFF
            port: int = 1

            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], **kwargs: PydanticBaseSettingsSource
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (TomlConfigSettingsSource(settings_cls, zipfile.Path(archive, "app.toml")),)

        try:
            with S() as s:
                assert s.port == 4
        finally:
            archive.close()


class TestSourceNames:
    """pydantic-settings' source names appear where it shows them."""

    def test_settings_sources_data_names(self, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A source sees the earlier ones under pydantic-settings' class names."""
        monkeypatch.setenv("PORT", "2")
        (cwd / "c.json").write_text('{"port": 1}')
        seen: dict[str, Any] = {}

        class Spy(PydanticBaseSettingsSource):
            def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
                return None, field_name, False

            def __call__(self) -> dict[str, Any]:
                seen.update(self.settings_sources_data)
                return {}

        class S(ReloadableSettings):
            reload_config = OFF
            port: int = 0

            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], **kwargs: PydanticBaseSettingsSource
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (kwargs["env_settings"], JsonConfigSettingsSource(settings_cls, "c.json"), Spy(settings_cls))

        with S() as s:
            assert s.port == 2
        assert list(seen) == ["EnvSettingsSource", "JsonConfigSettingsSource"]


class TestSettingsCached:
    """settings_cached() shares one live object per class."""

    def test_one_object_per_class_across_threads(self, cwd: Path) -> None:
        """Eight threads asking at once get the same object; a subclass has its own."""

        class S(ReloadableSettings):
            reload_config = OFF
            port: int = 1

        class Sub(S):
            pass

        barrier = threading.Barrier(8)
        got: list[Any] = []

        def ask() -> None:
            barrier.wait()
            got.append(S.settings_cached())

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            assert all(obj is got[0] for obj in got) and len(got) == 8
            assert Sub.settings_cached() is not got[0] and isinstance(Sub.settings_cached(), Sub)
            S.settings_clear_cache()
            assert S.settings_cached() is not got[0]
        finally:
            for obj in {id(o): o for o in [*got, S.settings_cached(), Sub.settings_cached()]}.values():
                obj.close()
            S.settings_clear_cache()
            Sub.settings_clear_cache()


class CliServer(ReloadableSettings):
    """A service configured by a YAML file, the environment and its command line."""

    model_config = SettingsConfigDict(yaml_file="server.yaml", cli_prog_name="server")
    reload_config = OFF
    host: str = "localhost"
    port: int = 8000
    workers: int = 1


class TestCliAppRun:
    """``CliApp.run(Settings)``, with no rebinding: a live object, CLI values pinned as init values."""

    def test_cli_values_win_and_stay_across_reloads(self, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """--port beats the file and the environment; a reload picks up the file's other changes and keeps --port."""
        (cwd / "server.yaml").write_text("host: a\nport: 1\nworkers: 2\n")
        monkeypatch.setenv("PORT", "2")
        settings = CliApp.run(CliServer, cli_args=["--port", "9000"])
        with settings:
            assert isinstance(settings, CliServer) and isinstance(settings, ReloadableSettings)
            assert (settings.host, settings.port, settings.workers) == ("a", 9000, 2)
            (cwd / "server.yaml").write_text("host: b\nport: 3\nworkers: 4\n")
            monkeypatch.setenv("PORT", "5")
            assert settings.reload() is not None
            assert (settings.host, settings.port, settings.workers) == ("b", 9000, 4)

    def test_a_watched_file_change_keeps_the_cli_value(self, cwd: Path) -> None:
        """With hot reload on, the watcher applies a file edit; the CLI value is not replaced by the file's."""
        (cwd / "server.yaml").write_text("host: a\nport: 1\n")

        class Watched(CliServer):
            reload_config = ReloadConfig(debounce_ms=10)

        with CliApp.run(Watched, cli_args=["--port", "9000"]) as settings:
            assert (settings.host, settings.port) == ("a", 9000)
            (cwd / "server.yaml").write_text("host: b\nport: 2\n")
            wait_for(lambda: settings.host == "b")
            assert settings.port == 9000

    def test_cli_cmd_runs_on_the_live_object(self, cwd: Path) -> None:
        """cli_cmd is called with the object CliApp.run returns, whose class config is its own."""
        seen: list[Any] = []

        class Tool(ReloadableSettings, cli_kebab_case=False):
            reload_config = OFF
            max_items: int = 1

            def cli_cmd(self) -> None:
                seen.append(self)

        with CliApp.run(Tool, cli_args=["--max_items", "3"]) as tool:
            assert seen == [tool] and seen[0] is tool and tool.max_items == 3

    def test_init_values_and_a_bad_argument(self, cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Keyword init data is an init value under the CLI; an invalid argument exits as argparse does."""
        with CliApp.run(CliServer, cli_args=["--port", "9000"], workers=7) as settings:
            assert (settings.port, settings.workers) == (9000, 7)
            assert settings.reload() is None  # nothing changed: init and CLI values are re-applied
        with pytest.raises(SystemExit):
            CliApp.run(CliServer, cli_args=["--nope", "1"])
        assert "unrecognized arguments: --nope" in capsys.readouterr().err


class TestCliSettingsSource:
    """``CliSettingsSource(Settings, ...)`` takes a settings class, as an init value or for CliApp.run."""

    def test_source_as_init_value(self, cwd: Path) -> None:
        """Settings(_cli_settings_source=source(args=...)) reads the CLI first, on every reload."""
        (cwd / "server.yaml").write_text("host: a\nworkers: 2\n")
        source = CliSettingsSource(CliServer, root_parser=None)
        with CliServer(_cli_settings_source=source(args=["--host", "cli"])) as settings:
            assert (settings.host, settings.workers) == ("cli", 2)
            (cwd / "server.yaml").write_text("host: b\nworkers: 3\n")
            settings.reload()
            assert (settings.host, settings.workers) == ("cli", 3)

    def test_source_given_to_cli_app(self, cwd: Path) -> None:
        """CliApp.run(Settings, cli_settings_source=...) parses with that source."""
        source = CliSettingsSource(CliServer, cli_prefix="app")
        with CliApp.run(CliServer, cli_args=["--app.workers", "5"], cli_settings_source=source) as settings:
            assert settings.workers == 5


class TestCliHelpAndSerialize:
    """format_help, serialize and run_subcommand take a settings class or a live object."""

    def test_help_uses_the_class_config(self, cwd: Path) -> None:
        """The help is the settings class's (its prog name; no kebab-case, which CliApp gives plain models)."""

        class Opts(CliServer):
            max_items: int = 1

        text = CliApp.format_help(Opts, strip_ansi_color=True)
        assert text.startswith("usage: server ") and "--max_items int" in text

    def test_serialize_a_live_object_follows_a_reload(self, cwd: Path) -> None:
        """serialize(settings) gives the current values that differ from the defaults, nested models too."""

        class Limits(BaseModel):
            burst: int = 1

        class Svc(CliServer):
            limits: Limits = Limits()

        (cwd / "server.yaml").write_text("workers: 2\n")
        with Svc() as settings:
            assert CliApp.serialize(settings) == ["--workers", "2"]
            (cwd / "server.yaml").write_text("workers: 3\nlimits: {burst: 4}\n")
            settings.reload()
            assert CliApp.serialize(settings) == ["--workers", "3", "--limits.burst", "4"]

    def test_subcommands(self, cwd: Path) -> None:
        """A subcommand of a settings class runs through run_subcommand; get_subcommand takes the live object."""
        ran: list[str] = []

        class Clone(BaseModel):
            repository: CliPositionalArg[str]

            def cli_cmd(self) -> None:
                ran.append(self.repository)

        class Git(ReloadableSettings):
            reload_config = OFF
            verbose: bool = False
            clone: CliSubCommand[Clone]

            def cli_cmd(self) -> None:
                CliApp.run_subcommand(self)

        with CliApp.run(Git, cli_args=["--verbose", "true", "clone", "repo.git"]) as git:
            assert ran == ["repo.git"] and git.verbose is True
            assert get_subcommand(git).repository == "repo.git"

    def test_a_settings_class_as_a_subcommand(self, cwd: Path) -> None:
        """CliSubCommand[Sub] with Sub a settings class validates as Sub's snapshot (isinstance Sub)."""

        class Sub(ReloadableSettings):
            level: int = 0

        class Root(ReloadableSettings):
            reload_config = OFF
            sub: CliSubCommand[Sub]

        with CliApp.run(Root, cli_args=["sub", "--level", "3"]) as root:
            assert isinstance(root.sub, Sub) and root.sub.level == 3


class TestUpstreamParity:
    """Behaviour pydantic-settings' own tests check, beyond the causes above (``make compat`` green)."""

    def test_debug_report_names_the_files_read(
        self, cwd: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """PYDANTIC_SETTINGS_DEBUG: pydantic-settings' logger says which .env and secret files were read."""
        (cwd / ".env").write_text("name=from_dotenv\n")
        secrets = cwd / "secrets"
        secrets.mkdir()
        (secrets / "token").write_text("s3cr3t-value")

        class S(ReloadableSettings):
            model_config = SettingsConfigDict(env_file=[cwd / ".env.missing", cwd / ".env"], secrets_dir=secrets)
            reload_config = OFF
            name: str = "default"
            token: SecretStr = SecretStr("")
            absent: str = "default"

        monkeypatch.setenv("PYDANTIC_SETTINGS_DEBUG", "1")
        with caplog.at_level(logging.DEBUG, logger="pydantic_settings"), S() as s:
            assert s.name == "from_dotenv" and s.token.get_secret_value() == "s3cr3t-value"
        messages = [r.getMessage() for r in caplog.records]
        assert f"Loading env file: {(cwd / '.env').resolve()}" in messages
        assert f"Env file not found, skipping: {(cwd / '.env.missing').resolve()}" in messages
        assert f"Loading secret file: {(secrets / 'token').resolve()}" in messages
        assert f"Secret file not found, skipping: {(secrets / 'absent').resolve()}" in messages
        assert not any("s3cr3t-value" in m for m in messages)

    def test_no_debug_report_by_default(
        self, cwd: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Without PYDANTIC_SETTINGS_DEBUG nothing is logged about files."""
        (cwd / ".env").write_text("name=x\n")
        monkeypatch.delenv("PYDANTIC_SETTINGS_DEBUG", raising=False)

        class S(ReloadableSettings):
            model_config = SettingsConfigDict(env_file=".env")
            reload_config = OFF
            name: str = ""

        with caplog.at_level(logging.DEBUG, logger="pydantic_settings"), S():
            pass
        assert not any("env file" in r.getMessage().lower() for r in caplog.records)

    def test_pydantic_extra_follows_a_reload(self, cwd: Path) -> None:
        """__pydantic_extra__ and __pydantic_fields_set__ answer from the current snapshot."""
        (cwd / "c.json").write_text('{"port": 1, "more": "a"}')

        class S(ReloadableSettings):
            model_config = SettingsConfigDict(json_file="c.json", extra="allow")
            reload_config = OFF
            port: int = 0

        with S() as s:
            assert s.__pydantic_extra__ == {"more": "a"} and s.__pydantic_fields_set__ == {"port", "more"}
            (cwd / "c.json").write_text('{"port": 2, "more": "b"}')
            s.reload()
            assert s.__pydantic_extra__ == {"more": "b"} == s.model_extra

    def test_a_cleared_cached_class_is_collectable(self, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """After settings_clear_cache() (and the object closed) nothing livesettings keeps holds the class."""
        monkeypatch.setenv("APPLE", "fuji")

        def build() -> tuple[weakref.ref[Any], str]:
            class Local(ReloadableSettings):
                reload_config = OFF
                apple: str = "honeycrisp"

            obj = Local.settings_cached()
            value = obj.apple
            Local.settings_clear_cache()
            obj.close()
            return weakref.ref(Local), value

        ref, value = build()
        gc.collect()
        assert value == "fuji"
        assert ref() is None


    def test_a_field_named_like_a_base_member_names_base_settings(self) -> None:
        """The protected-namespace error names BaseSettings' member, as pydantic-settings' does."""
        with pytest.raises(ValueError, match=r"conflicts with member <bound method BaseSettings\.settings_customise_sources"):

            class S(ReloadableSettings):
                settings_customise_sources: str  # type: ignore[assignment]

    def test_a_stdlib_dataclass_base_gives_fields(self, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A vanilla dataclass among the bases contributes its fields, also as a nested settings type."""

        @dataclasses.dataclass
        class Common:
            value: str

        class Nested(ReloadableSettings, Common):
            pass

        class S(ReloadableSettings):
            model_config = SettingsConfigDict(env_nested_delimiter="__")
            reload_config = OFF
            sub: Nested

        monkeypatch.setenv("SUB__VALUE", "something")
        with S() as s:
            assert s.sub.value == "something" and isinstance(s.sub, Common)

    @pytest.mark.parametrize("strict", [False, True])
    def test_a_secret_over_max_file_bytes(self, cwd: Path, strict: bool) -> None:
        """A secret file bigger than max_file_bytes is read up to secrets_dir_max_size, unless strict."""
        secrets = cwd / "secrets"
        secrets.mkdir()
        (secrets / "cert").write_text("x" * 2048)

        class S(ReloadableSettings):
            model_config = SettingsConfigDict(secrets_dir=secrets)
            reload_config = ReloadConfig(enabled=False, max_file_bytes=1024, strict_sources=strict)
            cert: str = ""

        if strict:
            with pytest.raises(UntrustedSourceError, match="over the limit of 1024 bytes"):
                S()
            return
        with S() as s:
            assert s.cert == "x" * 2048
            (secrets / "cert").write_text("y" * 4096)
            s.reload()
            assert s.cert == "y" * 4096


    @pytest.mark.parametrize("kind", ["env_file", "json_file", "yaml_file", "secret"])
    def test_undecodable_file_is_a_unicode_decode_error(self, cwd: Path, kind: str) -> None:
        """A file that is not valid UTF-8 raises what pydantic-settings raises (UnicodeDecodeError),
        still a SourceError naming the file; a secret's bytes are not in it."""
        secrets = cwd / "secrets"
        secrets.mkdir()
        name = {"env_file": ".env", "json_file": "c.json", "yaml_file": "c.yaml", "secret": "secrets/pika"}[kind]
        body = {"env_file": "pika=p!±@", "json_file": '{"pika": "p!±@"}', "yaml_file": "pika: p!±@"}.get(kind, "p!±@")
        (cwd / name).write_bytes(body.encode("latin-1"))
        config = SettingsConfigDict(secrets_dir=secrets) if kind == "secret" else SettingsConfigDict(**{kind: name})  # type: ignore[misc]

        class S(ReloadableSettings):
            model_config = config
            reload_config = OFF
            pika: str = ""

        with pytest.raises(UnicodeDecodeError) as caught:
            S()
        assert isinstance(caught.value, SourceError) and caught.value.source == str(cwd / name)
        assert len(caught.value.object) == (0 if kind == "secret" else 1)
        if kind == "env_file":
            with S(_env_file_encoding="latin-1") as s:  # type: ignore[call-arg]
                assert s.pika == "p!±@"


def _compat_run() -> Any:
    """compat/run.py as a module (the script behind ``make compat``)."""
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.spec_from_file_location("compat_run", Path(__file__).parent.parent / "compat" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestCompatRun:
    """``make compat`` cannot pass by measuring nothing, and fails on an unlisted difference."""

    def test_verdicts(self, capsys: pytest.CaptureFixture[str]) -> None:
        run = _compat_run()
        ok, bad = {"outcome": "passed", "message": ""}, {"outcome": "failed", "message": "boom"}
        listed = {"tests/a.py::listed": "a reason"}
        full = {f"tests/a.py::t{i}": ok for i in range(run.BASELINE_PASSED)}
        assert run.compare(full, dict(full), {}, tests=[]) == 0
        assert run.compare({}, {}, {}, tests=[]) == 1  # nothing ran
        assert run.compare({"tests/a.py::t": bad}, {}, {}, tests=[]) == 1  # nothing passed on the baseline
        assert run.compare({"tests/a.py::t": ok}, {"tests/a.py::t": ok}, {}, tests=[]) == 1  # a short baseline
        one = {"tests/a.py::t": ok, "tests/a.py::listed": ok}
        assert run.compare(one, {"tests/a.py::t": ok, "tests/a.py::listed": bad}, listed, tests=["tests/a.py"]) == 0
        assert run.compare(one, {"tests/a.py::t": bad, "tests/a.py::listed": bad}, listed, tests=["tests/a.py"]) == 1
        assert run.compare(one, {}, listed, tests=["tests/a.py"]) == 1  # missing from the rebound run
        assert run.compare(one, {}, {}, tests=["tests/other.py"]) == 1  # the subset selects nothing
        assert "FAIL" in capsys.readouterr().out

    def test_selection_and_expected_list(self) -> None:
        run = _compat_run()
        assert run._selected("tests/a.py::t[x]", ["tests/a.py::t"]) and run._selected("tests/a.py::t", ["./tests/"])
        assert not run._selected("tests/ab.py::t", ["tests/a"])
        expected = run.load_expected()
        assert expected and all(reason for reason in expected.values())


def test_environment_is_restored() -> None:
    """The fixtures above leave no variables behind (guards the tests' isolation)."""
    assert "DB__HOST" not in os.environ and "APP_PORT" not in os.environ
