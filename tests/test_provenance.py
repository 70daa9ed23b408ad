"""Provenance: which source supplied each leaf, what it shadowed, and edits that a higher source hides."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from livesettings import ReloadableSettings, ReloadConfig
from livesettings._provenance import Origin, Provenance, build_provenance, shadowed_edits
from livesettings._sources import SourceRecord, current_context

OFF = ReloadConfig(enabled=False)
PLANTED = "hunter2-planted-Secret"  # must never appear in any output


class Database(BaseModel):
    host: str = "localhost"
    port: int = 5432
    password: SecretStr = SecretStr("")


class Loads:
    """Loads a settings class again and again, as the engine would, handing out provenance."""

    def __init__(self, cls: type[ReloadableSettings], **init: Any) -> None:
        self.settings = cls(**init)
        self.loader = self.settings._ls_engine.loader
        self.first = True

    def __call__(self) -> Provenance:
        candidate = self.loader.load(reloading=not self.first)
        self.first = False
        return build_provenance(self.loader.snapshot_cls, candidate.ctx, candidate.snapshot)


@pytest.fixture
def loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Loads]]:
    """Run in ``tmp_path``; ``loads(cls, **init)`` gives a ``Loads`` closed after the test."""
    monkeypatch.chdir(tmp_path)
    made: list[Loads] = []

    def make(cls: type[ReloadableSettings], **init: Any) -> Loads:
        made.append(Loads(cls, **init))
        return made[-1]

    yield make
    for item in made:
        item.settings.close()


class Layered(ReloadableSettings):
    model_config = SettingsConfigDict(
        yaml_file="config.yaml", env_file=".env", env_prefix="APP_", env_nested_delimiter="__"
    )
    reload_config = OFF
    database: Database = Database()
    name: str = "app"
    tags: list[str] = []


YAML = "name: from-yaml\ndatabase:\n  host: yamlhost\n  port: 5431\ntags: [a, b]\n"


class TestWinners:
    def test_default_when_no_source_sets_it(self, loads: Callable[..., Loads]) -> None:
        """A leaf no source supplied is reported as the default, shadowing nothing."""
        origin = loads(Layered)().explain("database.port")
        assert (origin.source, origin.location, origin.value) == ("default", "default", "5432")
        assert origin.shadowed == ()
        assert str(origin) == "database.port = 5432 from default"

    def test_yaml_wins_with_line_and_column(self, loads: Callable[..., Loads], tmp_path: Path) -> None:
        """A YAML value is located at its line and column in the file."""
        (tmp_path / "config.yaml").write_text(YAML)
        origin = loads(Layered)().explain("database.port")
        assert (origin.source, origin.location) == ("yaml", "config.yaml:4:9")
        assert (origin.line, origin.column) == (4, 9)
        assert origin.file == str(tmp_path / "config.yaml")
        assert origin.value == "5431"

    @pytest.mark.parametrize(
        ("key", "text", "location"),
        [
            ("toml_file", '[database]\nport = 6000\n', "c.toml:2:1"),
            ("json_file", '{"database": {\n  "port": 6000}}', "c.json:2:11"),
        ],
    )
    def test_toml_and_json_win(self, loads: Callable[..., Loads], tmp_path: Path, key: str, text: str,
                               location: str) -> None:
        """TOML and JSON values are located in their files too."""
        name = location.split(":")[0]
        (tmp_path / name).write_text(text)

        class FileApp(ReloadableSettings):
            model_config = SettingsConfigDict(**{key: name})  # type: ignore[misc]
            reload_config = OFF
            database: Database = Database()

        origin = loads(FileApp)().explain("database.port")
        assert (origin.source, origin.location, origin.value) == (key.split("_")[0], location, "6000")

    def test_dotenv_wins_with_its_line(self, loads: Callable[..., Loads], tmp_path: Path) -> None:
        """A .env value names the file and the line of its variable."""
        (tmp_path / "config.yaml").write_text(YAML)
        (tmp_path / ".env").write_text("# comment\n\nAPP_DATABASE__PORT=5432\n")
        origin = loads(Layered)().explain("database.port")
        assert (origin.source, origin.location, origin.line, origin.variable) == (
            "dotenv", ".env:3", 3, "APP_DATABASE__PORT"
        )
        assert origin.value == "5432"

    def test_shadowing_chain(
        self, loads: Callable[..., Loads], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """env beats .env beats YAML; the shadowed ones are listed highest first with their values."""
        (tmp_path / "config.yaml").write_text("database:\n  port: 5431\n")
        (tmp_path / ".env").write_text("APP_NAME=x\nAPP_DATABASE__PORT=5432\n")
        monkeypatch.setenv("APP_DATABASE__PORT", "5433")
        origin = loads(Layered)().explain("database.port")
        assert [o.source for o in (origin, *origin.shadowed)] == ["env", "dotenv", "yaml"]
        assert str(origin) == (
            "database.port = 5433 from env APP_DATABASE__PORT (shadows .env:2 = 5432, config.yaml:2:9 = 5431)"
        )

    def test_init_wins_over_env(self, loads: Callable[..., Loads], monkeypatch: pytest.MonkeyPatch) -> None:
        """An init value is the highest-priority source."""
        monkeypatch.setenv("APP_NAME", "from-env")
        origin = loads(Layered, name="from-init")().explain("name")
        assert (origin.source, origin.location, origin.value) == ("init", "init", "'from-init'")
        assert [o.location for o in origin.shadowed] == ["env APP_NAME"]

    def test_init_model_instance_owns_the_section(self, loads: Callable[..., Loads], tmp_path: Path) -> None:
        """A section given as a model instance replaces the files' section entirely."""
        (tmp_path / "config.yaml").write_text(YAML)
        prov = loads(Layered, database=Database(host="init-host"))()
        port = prov.explain("database.port")
        assert (port.source, port.value) == ("init", "5432")
        assert [o.location for o in port.shadowed] == ["config.yaml:4:9"]

    def test_secrets_file_wins(self, loads: Callable[..., Loads], tmp_path: Path) -> None:
        """A secrets_dir file is named by its path, and its value is masked."""
        (tmp_path / "secrets").mkdir()
        (tmp_path / "secrets" / "APP_TOKEN").write_text(PLANTED)

        class Secretive(ReloadableSettings):
            model_config = SettingsConfigDict(secrets_dir="secrets", env_prefix="APP_")
            reload_config = OFF
            token: SecretStr = SecretStr("")

        origin = loads(Secretive)().explain("token")
        assert (origin.source, origin.location) == ("secrets", "secrets/APP_TOKEN")
        assert origin.value.startswith("<secret fp=")
        assert PLANTED not in repr(origin) + str(origin)

    def test_custom_source_named_by_class(self, loads: Callable[..., Loads], tmp_path: Path) -> None:
        """A user-defined source is recorded under its class name, in the priority the user chose."""
        (tmp_path / "config.yaml").write_text("name: from-yaml\n")

        class Overrides(PydanticBaseSettingsSource):
            def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
                return None, field_name, False

            def __call__(self) -> dict[str, Any]:
                return {"name": "from-custom"}

        class Custom(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file="config.yaml")
            reload_config = OFF
            name: str = "app"

            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                file_secret_settings: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (init_settings, Overrides(settings_cls), env_settings)

        loader = loads(Custom)
        origin = loader().explain("name")
        assert (origin.source, origin.location, origin.value) == ("Overrides", "Overrides", "'from-custom'")
        assert [o.location for o in origin.shadowed] == ["config.yaml:1:7"]
        assert loader.settings.name == "from-custom"


class TestRecording:
    def test_every_source_recorded_once_in_priority_order(
        self, loads: Callable[..., Loads], tmp_path: Path
    ) -> None:
        """init, env, .env, secrets and the files each leave one record, highest priority first."""
        (tmp_path / "config.yaml").write_text(YAML)
        (tmp_path / ".env").write_text("APP_NAME=x\n")
        prov = loads(Layered, name="i")()
        assert [r.label for r in prov.records] == ["init", "env", "dotenv", "secrets", "yaml"]

    def test_self_recording_source_not_recorded_twice(self, loads: Callable[..., Loads]) -> None:
        """A custom source that appends its own record keeps it, and is not recorded again."""

        class Own(PydanticBaseSettingsSource):
            def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
                return None, field_name, False

            def __call__(self) -> dict[str, Any]:
                ctx = current_context()
                if ctx is not None:
                    ctx.records.append(SourceRecord("etcd", {"name": "e"}))
                return {"name": "e"}

        class WithOwn(ReloadableSettings):
            reload_config = OFF
            name: str = "app"

            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (Own(settings_cls),)

        prov = loads(WithOwn)()
        assert [r.label for r in prov.records] == ["etcd"]
        assert prov.explain("name").location == "etcd"

    def test_later_source_still_sees_earlier_ones_by_class_name(self, loads: Callable[..., Loads]) -> None:
        """pydantic-settings hands each source the earlier ones' data by class name; recording keeps that."""

        class Echo(PydanticBaseSettingsSource):
            def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
                return None, field_name, False

            def __call__(self) -> dict[str, Any]:
                return {"tags": [self.settings_sources_data["InitSettingsSource"]["name"]]}

        class WithEcho(ReloadableSettings):
            reload_config = OFF
            name: str = "app"
            tags: list[str] = []

            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                *sources: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (init_settings, Echo(settings_cls))

        load = loads(WithEcho, name="seen")
        assert load.settings.tags == ["seen"]
        assert load().explain("tags").location == "Echo"

    def test_adopted_source_keeps_its_class_name(self, loads: Callable[..., Loads]) -> None:
        """Recording keeps the source's name and type, so pydantic-settings keys its data the same."""
        prov = loads(Layered, name="i")()
        source = prov.records[0].source
        assert type(source).__name__ == "InitSettingsSource"
        from pydantic_settings import InitSettingsSource

        assert isinstance(source, InitSettingsSource)


class TestEnvNames:
    def test_json_variable_and_nested_variable(
        self, loads: Callable[..., Loads], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A nested variable beats the JSON one it refines; other leaves come from the JSON one."""
        monkeypatch.setenv("APP_DATABASE", '{"host": "jsonhost", "port": 1}')
        monkeypatch.setenv("APP_DATABASE__PORT", "2")
        prov = loads(Layered)()
        assert prov.explain("database.host").location == "env APP_DATABASE"
        assert prov.explain("database.port").location == "env APP_DATABASE__PORT"
        assert prov.explain("database.port").value == "2"

    def test_lower_case_variable_reported_as_written(
        self, loads: Callable[..., Loads], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Matching folds case; the location shows the variable as it is spelt in the environment."""
        monkeypatch.setenv("app_database__port", "7")
        origin = loads(Layered)().explain("database.port")
        assert (origin.location, origin.variable) == ("env app_database__port", "app_database__port")

    def test_alias_without_prefix(self, loads: Callable[..., Loads], monkeypatch: pytest.MonkeyPatch,
                                  tmp_path: Path) -> None:
        """An aliased field's variable is the alias without the prefix; a YAML file may use the alias."""
        monkeypatch.setenv("DATABASE_URL", "postgres://h/db")
        (tmp_path / "config.yaml").write_text("REDIS: redis://yaml\nDATABASE_URL: postgres://yaml/db\n")

        class Aliased(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file="config.yaml", env_prefix="APP_")
            reload_config = OFF
            db_url: str = Field("", alias="DATABASE_URL")
            cache: str = Field("", validation_alias=AliasChoices("CACHE_URL", "REDIS"))

        prov = loads(Aliased)()
        db = prov.explain("db_url")
        assert db.location == "env DATABASE_URL"
        assert [o.location for o in db.shadowed] == ["config.yaml:2:15"]
        assert prov.explain("cache").location == "config.yaml:1:8"

    def test_list_from_json_variable_shadows_yaml_list(
        self, loads: Callable[..., Loads], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A list is one leaf: a JSON variable replaces the YAML list as a whole."""
        (tmp_path / "config.yaml").write_text(YAML)
        monkeypatch.setenv("APP_TAGS", '["x", "y"]')
        origin = loads(Layered)().explain("tags")
        assert (origin.location, origin.value) == ("env APP_TAGS", "['x', 'y']")
        assert [(o.location, o.value) for o in origin.shadowed] == [("config.yaml:5:7", "['a', 'b']")]

    def test_dict_field_keys_are_leaves(self, loads: Callable[..., Loads], monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: Path) -> None:
        """Keys of a dict field are walked; each names its own variable."""
        (tmp_path / "config.yaml").write_text("limits:\n  cpu: 1\n  mem: 2\n")
        monkeypatch.setenv("APP_LIMITS__CPU", "4")

        class Limits(ReloadableSettings):
            model_config = SettingsConfigDict(
                yaml_file="config.yaml", env_prefix="APP_", env_nested_delimiter="__"
            )
            reload_config = OFF
            limits: dict[str, int] = {}

        prov = loads(Limits)()
        assert prov.explain("limits.cpu").location == "env APP_LIMITS__CPU"
        assert prov.explain("limits.mem").location == "config.yaml:3:8"


class TestSecrets:
    def test_secret_never_shown(self, loads: Callable[..., Loads], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
        """A planted secret in an innocuously named SecretStr shows only as a fingerprint, anywhere."""
        (tmp_path / "config.yaml").write_text(f"dsn: {PLANTED}-yaml\n")
        (tmp_path / ".env").write_text(f"APP_DSN={PLANTED}-dotenv\n")
        monkeypatch.setenv("APP_DSN", PLANTED)

        class Dsn(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file="config.yaml", env_file=".env", env_prefix="APP_")
            reload_config = OFF
            dsn: SecretStr = SecretStr("")

        prov = loads(Dsn)()
        origin = prov.explain("dsn")
        assert len(origin.shadowed) == 2
        texts = [repr(origin), str(origin), repr(prov.explain("")), *map(str, prov.leaves())]
        assert all(PLANTED not in t for t in texts)
        assert all(o.value.startswith("<secret fp=") for o in (origin, *origin.shadowed))

    def test_secret_inside_section(self, loads: Callable[..., Loads], tmp_path: Path) -> None:
        """A section's value masks the secret fields inside it."""
        (tmp_path / "config.yaml").write_text(f"database:\n  host: h\n  port: 1\n  password: {PLANTED}\n")
        origin = loads(Layered)().explain("database")
        assert origin.location == "config.yaml:1:1"
        assert PLANTED not in repr(origin) and "'host': 'h'" in origin.value

    def test_url_password_masked(self, loads: Callable[..., Loads], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
        """A password inside a URL is masked in a shadowed environment value too."""
        (tmp_path / ".env").write_text(f"APP_NAME=postgres://u:{PLANTED}@h/db\n")
        monkeypatch.setenv("APP_NAME", "plain")
        origin = loads(Layered)().explain("name")
        assert PLANTED not in str(origin) and "postgres://u:<secret fp=" in str(origin)


class TestPaths:
    def test_leaves_cover_the_snapshot(self, loads: Callable[..., Loads], tmp_path: Path) -> None:
        """leaves() yields one origin per leaf, in snapshot order."""
        (tmp_path / "config.yaml").write_text(YAML)
        paths = [o.path for o in loads(Layered)().leaves()]
        assert paths == ["database.host", "database.port", "database.password", "name", "tags"]

    def test_section_from_one_source(
        self, loads: Callable[..., Loads], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A section one variable supplied whole has that variable as its origin."""
        monkeypatch.setenv("APP_DATABASE", '{"host": "h", "port": 1, "password": "p"}')
        origin = loads(Layered)().explain("database")
        assert (origin.source, origin.location) == ("env", "env APP_DATABASE")

    def test_mixed_section_raises(self, loads: Callable[..., Loads], tmp_path: Path) -> None:
        """A section several sources fill has no single origin: the error lists each leaf's."""
        (tmp_path / "config.yaml").write_text(YAML)
        expected = r"database.host \(config.yaml:3:9\).*database.password \(default\)"
        with pytest.raises(ValueError, match=expected):
            loads(Layered)().explain("database")

    def test_unknown_path_names_closest(self, loads: Callable[..., Loads]) -> None:
        """An unknown path is a ValueError naming the closest real one."""
        prov = loads(Layered)()
        with pytest.raises(ValueError, match="did you mean 'database.port'"):
            prov.explain("databse.port")
        with pytest.raises(ValueError, match="did you mean 'database.port'"):
            prov.explain("database.prot")
        with pytest.raises(ValueError, match="'tags' is a value"):
            prov.explain("tags.0")


class TestShadowedEdits:
    def test_dotenv_edit_under_env(self, loads: Callable[..., Loads], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
        """Editing .env while an environment variable wins is reported with both locations."""
        dotenv = tmp_path / ".env"
        dotenv.write_text("APP_NAME=x\nAPP_DATABASE__PORT=5432\n")
        monkeypatch.setenv("APP_DATABASE__PORT", "6000")
        load = loads(Layered)
        before = load()
        dotenv.write_text("APP_NAME=x\n\nAPP_DATABASE__PORT=5499\n")
        edits = shadowed_edits(before, load())
        assert [str(e) for e in edits] == [
            "database.port changed in .env:3 (5432 -> 5499) but env APP_DATABASE__PORT wins"
        ]
        assert (edits[0].changed.line, edits[0].winner.variable) == (3, "APP_DATABASE__PORT")

    def test_no_edit_when_winner_changes_too(self, loads: Callable[..., Loads], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
        """When the winning value changes as well, nothing is reported."""
        dotenv = tmp_path / ".env"
        dotenv.write_text("APP_DATABASE__PORT=5432\n")
        monkeypatch.setenv("APP_DATABASE__PORT", "6000")
        load = loads(Layered)
        before = load()
        dotenv.write_text("APP_DATABASE__PORT=5499\n")
        monkeypatch.setenv("APP_DATABASE__PORT", "6001")
        assert shadowed_edits(before, load()) == ()

    def test_no_edit_when_the_edited_source_wins(self, loads: Callable[..., Loads], tmp_path: Path) -> None:
        """An edit that takes effect is not a shadowed edit."""
        cfg = tmp_path / "config.yaml"
        cfg.write_text(YAML)
        load = loads(Layered)
        before = load()
        cfg.write_text(YAML.replace("5431", "5430"))
        assert shadowed_edits(before, load()) == ()

    def test_yaml_edit_under_dotenv_and_removal(self, loads: Callable[..., Loads], tmp_path: Path) -> None:
        """A YAML edit under .env is reported; so is removing a shadowed key (new value unset)."""
        cfg = tmp_path / "config.yaml"
        cfg.write_text(YAML)
        (tmp_path / ".env").write_text("APP_DATABASE__PORT=5432\nAPP_NAME=dot\n")
        load = loads(Layered)
        before = load()
        cfg.write_text(YAML.replace("5431", "5430").replace("name: from-yaml\n", ""))
        edits = {e.path: e for e in shadowed_edits(before, load())}
        assert sorted(edits) == ["database.port", "name"]
        port, name = edits["database.port"], edits["name"]
        assert (port.changed.location, port.winner.location, port.old_value, port.new_value) == (
            "config.yaml:3:9", ".env:1", "5431", "5430"
        )
        assert name.changed.location == "config.yaml:1:7"
        assert (name.old_value, name.new_value) == ("'from-yaml'", "<unset>")

    def test_secret_edit_masked(self, loads: Callable[..., Loads], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
        """A shadowed edit of a secret shows fingerprints, never the values."""
        dotenv = tmp_path / ".env"
        dotenv.write_text(f"APP_DATABASE__PASSWORD={PLANTED}1\n")
        monkeypatch.setenv("APP_DATABASE__PASSWORD", "winner")
        load = loads(Layered)
        before = load()
        dotenv.write_text(f"APP_DATABASE__PASSWORD={PLANTED}2\n")
        (edit,) = shadowed_edits(before, load())
        assert PLANTED not in str(edit) + repr(edit)
        assert edit.old_value != edit.new_value

    def test_unchanged_sources_cost_nothing(self, loads: Callable[..., Loads], tmp_path: Path) -> None:
        """Two loads of unchanged sources give no edits."""
        (tmp_path / "config.yaml").write_text(YAML)
        load = loads(Layered)
        assert shadowed_edits(load(), load()) == ()


def test_origin_is_frozen() -> None:
    """An Origin is an immutable value."""
    origin = Origin("a", "default", "default", "1")
    with pytest.raises(AttributeError):
        origin.value = "2"  # type: ignore[misc]


class TestCommandLine:
    """pydantic-settings' command line (``CliApp.run``, ``_cli_parse_args``) is a source like the
    others: ``explain()`` names the option that set a value, and what it shadows."""

    def test_the_option_is_named_nested_and_kebab_cased(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from pydantic_settings import CliApp

        class Pool(BaseModel):
            max_size: int = 1

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(cli_kebab_case=True, reload=OFF)
            port: int = 80
            host: str = "localhost"
            pool: Pool = Pool()

        monkeypatch.setenv("HOST", "from-env")
        with CliApp.run(App, cli_args=["--port", "8080", "--pool.max-size", "5", "--host", "from-cli"]) as app:
            assert app.explain("port") == Origin("port", "cli", "command line --port", "8080")
            assert str(app.explain("pool.max_size")) == "pool.max_size = 5 from command line --pool.max-size"
            assert str(app.explain("host")) == "host = 'from-cli' from command line --host (shadows env HOST = from-env)"
            app.reload()  # the parsed command line is kept as init values: still named after a reload
            assert app.explain("port").location == "command line --port"

    def test_cli_prefix_and_a_masked_secret(self) -> None:
        class App(ReloadableSettings):
            model_config = SettingsConfigDict(cli_prefix="app", reload=OFF)
            port: int = 80
            password: SecretStr = SecretStr("")

        with App(_cli_parse_args=["--app.port", "9", "--app.password", PLANTED]) as app:
            assert app.explain("port").location == "command line --app.port"
            origin = app.explain("password")
            assert (origin.source, origin.location) == ("cli", "command line --app.password")
            assert PLANTED not in repr(origin) and PLANTED not in str(origin)

    def test_cli_parse_args_in_the_config_reads_sys_argv(self, monkeypatch: pytest.MonkeyPatch) -> None:
        class App(ReloadableSettings):
            model_config = SettingsConfigDict(cli_parse_args=True, reload=OFF)
            port: int = 80

        monkeypatch.setattr("sys.argv", ["app", "--port", "7"])
        with App() as app:
            assert str(app.explain("port")) == "port = 7 from command line --port"

    def test_a_file_edit_the_command_line_hides_is_a_shadowed_edit(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        cfg = tmp_path / "app.yaml"
        cfg.write_text("port: 1\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), reload=OFF)
            port: int = 80

        with App(_cli_parse_args=["--port", "9"]) as app:
            assert app.explain("port").shadowed[0].location == f"{cfg}:1:7"
            cfg.write_text("port: 2\n")
            with caplog.at_level("WARNING", logger="livesettings"):
                version = app.reload()
            assert (app.port, version) == (9, None)  # nothing in effect changed
            assert [r.getMessage() for r in caplog.records if "wins" in r.getMessage()] == [
                f"{App.__qualname__}: port changed in {cfg}:1:7 (1 -> 2) but command line --port wins"
            ]
