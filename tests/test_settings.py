"""Tests for the ReloadableSettings façade: reads, sources and precedence, the metaclass, reload()."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import SettingsConfigDict

from livesettings import (
    Change,
    ChangeType,
    Diff,
    HotReloadManager,
    ReloadableSettings,
    ReloadConfig,
    Version,
    on_change,
)
from livesettings.exceptions import ClosedError

OFF = ReloadConfig(enabled=False)


class Logging(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Database(BaseModel):
    host: str = "localhost"
    pool_size: int = Field(5, ge=1)
    password: SecretStr = SecretStr("")


class TestReads:
    """Values are read and validated as pydantic-settings would."""

    def test_nested_models_secrets_and_constraints(self, tmp_path: Path) -> None:
        """Nested sections, SecretStr and Field constraints load from YAML."""
        cfg = tmp_path / "config.yaml"
        cfg.write_text("logging: {level: DEBUG}\ndatabase:\n  host: db\n  pool_size: 7\n  password: pw\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = OFF
            logging: Logging = Logging()
            database: Database

        with App() as s:
            assert s.logging.level == "DEBUG"
            assert (s.database.host, s.database.pool_size) == ("db", 7)
            assert isinstance(s.database.password, SecretStr)
            assert s.database.password.get_secret_value() == "pw"
            assert "pw" not in repr(s)

    def test_validators_run(self, tmp_path: Path) -> None:
        """@field_validator and @model_validator transform and check values."""
        cfg = tmp_path / "config.yaml"
        cfg.write_text("name: '  Service  '\nlow: 1\nhigh: 2\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = OFF
            name: str
            low: int
            high: int
            span: int = 0

            @field_validator("name")
            @classmethod
            def _strip(cls, v: str) -> str:
                return v.strip().lower()

            @model_validator(mode="after")
            def _span(self) -> Any:
                object.__setattr__(self, "span", self.high - self.low)
                return self

        with App() as s:
            assert (s.name, s.span) == ("service", 1)
            cfg.write_text("name: Other\nlow: 1\nhigh: 5\n")
            v = s.reload()
            assert v is not None and (s.name, s.span) == ("other", 4)

    def test_every_file_format_and_source(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """YAML, TOML, JSON, .env, env vars (prefix and nested delimiter) and secrets_dir all load."""
        (tmp_path / "c.yaml").write_text("from_yaml: 1\ndatabase: {host: yamlhost}\n")
        (tmp_path / "c.toml").write_text("from_toml = 2\n")
        (tmp_path / "c.json").write_text('{"from_json": 3}')
        (tmp_path / ".env").write_text("APP_FROM_DOTENV=4\n")
        secrets = tmp_path / "secrets"
        secrets.mkdir()
        (secrets / "APP_TOKEN").write_text("tok")
        monkeypatch.setenv("APP_DATABASE__POOL_SIZE", "9")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(
                yaml_file=str(tmp_path / "c.yaml"),
                toml_file=str(tmp_path / "c.toml"),
                json_file=str(tmp_path / "c.json"),
                env_file=str(tmp_path / ".env"),
                secrets_dir=str(secrets),
                env_prefix="APP_",
                env_nested_delimiter="__",
            )
            reload_config = OFF
            from_yaml: int = 0
            from_toml: int = 0
            from_json: int = 0
            from_dotenv: int = 0
            token: SecretStr = SecretStr("")
            database: Database = Database()

        with App() as s:
            assert (s.from_yaml, s.from_toml, s.from_json, s.from_dotenv) == (1, 2, 3, 4)
            assert s.token.get_secret_value() == "tok"
            assert (s.database.host, s.database.pool_size) == ("yamlhost", 9)

    def test_precedence_env_over_dotenv_over_yaml(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An env var beats .env, which beats the YAML file; each layer shows through when the one above goes."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text("host: yaml\n")
        env = tmp_path / ".env"
        env.write_text("APP_HOST=dotenv\n")
        monkeypatch.setenv("APP_HOST", "env")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_file=str(env), env_prefix="APP_")
            reload_config = OFF
            host: str = "default"
            other: int = 0

        with App() as s:
            assert s.host == "env"
            monkeypatch.delenv("APP_HOST")
            assert s.reload() is not None and s.host == "dotenv"
            env.write_text("# empty now\nAPP_OTHER=1\n")
            assert s.reload() is not None and s.host == "yaml"

    def test_init_kwargs_win_and_are_reapplied(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Init values beat every source, on construction and on each reload."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text("port: 1\nhost: a\n")
        monkeypatch.setenv("APP_PORT", "2")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = OFF
            port: int = 0
            host: str = ""

        with App(port=99) as s:
            assert s.port == 99
            cfg.write_text("port: 3\nhost: b\n")
            v = s.reload()
            assert v is not None and v.changes == (Change("host", ChangeType.MODIFY, "a", "b"),)
            assert s.port == 99

    def test_env_file_init_argument(self, tmp_path: Path) -> None:
        """``_env_file`` passed at construction is used, as in pydantic-settings."""
        env = tmp_path / "custom.env"
        env.write_text("APP_HOST=fromcustom\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(env_prefix="APP_")
            reload_config = OFF
            host: str = "default"

        with App(_env_file=str(env)) as s:
            assert s.host == "fromcustom"
            env.write_text("APP_HOST=changed\n")
            assert s.reload() is not None and s.host == "changed"

    def test_env_var_changes_are_reloaded(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A changed environment variable is picked up by reload()."""

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(env_prefix="APP_")
            reload_config = OFF
            level: str = "INFO"

        with App() as s:
            monkeypatch.setenv("APP_LEVEL", "DEBUG")
            v = s.reload()
            assert v is not None and v.changes == (Change("level", ChangeType.MODIFY, "INFO", "DEBUG"),)

    def test_secrets_dir_rotation(self, tmp_path: Path) -> None:
        """Rewriting a file in secrets_dir rotates the secret on reload."""
        secrets = tmp_path / "secrets"
        secrets.mkdir()
        (secrets / "APP_TOKEN").write_text("one")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(secrets_dir=str(secrets), env_prefix="APP_")
            reload_config = OFF
            token: SecretStr = SecretStr("")

        with App() as s:
            (secrets / "APP_TOKEN").write_text("two")
            v = s.reload()
            assert v is not None and [c.path for c in v.changes] == ["token"]
            assert s.token.get_secret_value() == "two"

    def test_secrets_dir_new_file(self, tmp_path: Path) -> None:
        """A secret file created after start-up is picked up by reload()."""
        secrets = tmp_path / "secrets"
        secrets.mkdir()

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(secrets_dir=str(secrets), env_prefix="APP_")
            reload_config = OFF
            token: SecretStr = SecretStr("")

        with App() as s:
            assert s.reload() is None
            (secrets / "APP_TOKEN").write_text("new")
            assert s.reload() is not None
            assert s.token.get_secret_value() == "new"


class TestSnapshot:
    """``snapshot()`` and immutability."""

    @pytest.fixture
    def app(self, tmp_path: Path) -> Any:
        cfg = tmp_path / "c.yaml"
        cfg.write_text("port: 1\ndatabase: {host: a}\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = OFF
            port: int = 0
            database: Database = Database()

        with App() as s:
            yield s, cfg

    def test_snapshot_is_frozen(self, app: Any) -> None:
        """The snapshot is a pydantic model that refuses assignment, sections included."""
        s, _ = app
        snap = s.snapshot()
        assert snap.port == 1 and snap.database.host == "a"
        with pytest.raises(ValidationError):
            snap.port = 2
        with pytest.raises(ValidationError):
            s.database.host = "b"
        assert s.database.host == "a"
        assert isinstance(s.database, Database)
        assert s.snapshot() is snap

    def test_old_objects_unchanged_after_reload(self, app: Any) -> None:
        """Section objects and snapshots of an old version keep their values after a reload."""
        s, cfg = app
        snap, db = s.snapshot(), s.database
        cfg.write_text("port: 2\ndatabase: {host: b}\n")
        s.reload()
        assert (snap.port, snap.database.host, db.host) == (1, "a", "a")
        assert (s.port, s.database.host) == (2, "b")
        assert s.snapshot() is not snap

    def test_snapshot_model_dump(self, app: Any) -> None:
        """The snapshot dumps like any pydantic model."""
        s, _ = app
        assert s.snapshot().model_dump() == {
            "port": 1,
            "database": {"host": "a", "pool_size": 5, "password": SecretStr("")},
        }


class TestFacade:
    """The class machinery: read-only instances, class-level access, clashes, subclassing."""

    def test_attribute_assignment_raises(self, tmp_path: Path) -> None:
        """Setting or deleting an attribute on a settings object raises AttributeError."""

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(env_prefix="APP_")
            reload_config = OFF
            port: int = 1

        with App() as s:
            with pytest.raises(AttributeError):
                s.port = 2
            with pytest.raises(AttributeError):
                s.new_attribute = 1
            with pytest.raises(AttributeError):
                del s.port
            assert s.port == 1

    def test_class_access_gives_field_info(self) -> None:
        """``AppSettings.port`` is the field's FieldInfo, for introspection."""

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(env_prefix="APP_")
            reload_config = OFF
            port: int = Field(8080, ge=1, description="listen port")

        assert isinstance(App.port, FieldInfo)
        assert App.port.default == 8080 and App.port.description == "listen port"

    @pytest.mark.parametrize(
        "name", ["version", "history", "reload", "snapshot", "rollback", "diff", "watch"]
    )
    def test_api_name_clash_is_a_type_error(self, name: str) -> None:
        """A field named like part of the API is refused at class creation."""
        with pytest.raises(TypeError, match=name):
            type(ReloadableSettings)(
                "Clash",
                (ReloadableSettings,),
                {"__annotations__": {name: "int"}, name: 1, "__module__": __name__},
            )

    def test_alias_avoids_a_clash(self, tmp_path: Path) -> None:
        """A clashing config key can still be read through an alias."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text("version: '1.2'\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = OFF
            app_version: str = Field("0", alias="version")

        with App() as s:
            assert s.app_version == "1.2"
            assert isinstance(s.version, Version)

    def test_subclass_inherits_fields_and_config(self, tmp_path: Path) -> None:
        """A subclass keeps the parent's fields, model_config and reload_config, and adds its own."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text("port: 5\nname: sub\n")

        class Parent(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = ReloadConfig(enabled=False, max_versions=3)
            port: int = 0

        class Child(Parent):
            name: str = ""

        with Child() as s:
            assert (s.port, s.name) == (5, "sub")
            assert list(s.snapshot().model_dump()) == ["port", "name"]
            for i in range(5):
                cfg.write_text(f"port: {i + 10}\nname: sub\n")
                s.reload()
            assert len(s.history) == 3
        assert isinstance(Child.port, FieldInfo)

    def test_local_classes(self, tmp_path: Path) -> None:
        """A settings class defined in a function, using models local to that function, works."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text("local:\n  inner: {n: 3}\n")

        class LocalInner(BaseModel):
            n: int = 0

        class LocalSection(BaseModel):
            inner: LocalInner = LocalInner()

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = OFF
            local: LocalSection = LocalSection()
            maybe: LocalInner | None = None

        with App() as s:
            assert s.local.inner.n == 3 and s.maybe is None
            cfg.write_text("local:\n  inner: {n: 4}\nmaybe: {n: 1}\n")
            v = s.reload()
            assert v is not None
            assert {c.path for c in v.changes} == {"local.inner.n", "maybe.n"}

    def test_methods_and_properties_use_current_values(self, tmp_path: Path) -> None:
        """Methods and properties on the class see the current snapshot through self."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text("host: a\nport: 1\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = OFF
            host: str = ""
            port: int = 0

            @property
            def address(self) -> str:
                return f"{self.host}:{self.port}"

            def url(self, scheme: str) -> str:
                return f"{scheme}://{self.address}"

        with App() as s:
            assert s.url("http") == "http://a:1"
            cfg.write_text("host: b\nport: 2\n")
            s.reload()
            assert s.address == "b:2"

    def test_classvar_constants(self) -> None:
        """A ClassVar constant is available on the class and on instances, as in pydantic-settings."""

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(env_prefix="APP_")
            reload_config = OFF
            DEFAULT_PORT: ClassVar[int] = 8080
            port: int = 0

        with App() as s:
            assert App.DEFAULT_PORT == 8080 and s.DEFAULT_PORT == 8080

    def test_extra_keys_do_not_shadow_the_api(self, tmp_path: Path) -> None:
        """With extra="allow", a config key called ``reload`` does not replace the reload() method."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text("port: 1\nreload: true\nwatch: 5\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_", extra="allow")
            reload_config = OFF
            port: int = 0

        with App() as s:
            assert callable(s.reload) and callable(s.watch)
            assert s.snapshot().reload is True

    def test_overriding_a_handler(self, tmp_path: Path) -> None:
        """A subclass may override an @on_change method with a plain one (the override is used or dropped, no crash)."""

        class Parent(ReloadableSettings):
            model_config = SettingsConfigDict(env_prefix="APP_")
            reload_config = OFF
            port: int = 0

            @on_change("port")
            def _h(self, diff: Diff) -> None:
                pass

        class Child(Parent):
            def _h(self, diff: Diff) -> None:
                pass

        with Child() as s:
            assert s.port == 0

    def test_repr_lists_current_values(self, tmp_path: Path) -> None:
        """repr() shows the class name and current values, secrets masked."""

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(env_prefix="APP_")
            reload_config = OFF
            port: int = 1
            password: SecretStr = SecretStr("hidden-value")

        with App() as s:
            text = repr(s)
            assert text.startswith("App(") and "port=1" in text and "hidden-value" not in text

    def test_hot_reload_manager(self) -> None:
        """``hot_reload`` is one HotReloadManager per object, disabled when reload is off."""

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(env_prefix="APP_")
            reload_config = OFF
            port: int = 1

        with App() as s:
            assert isinstance(s.hot_reload, HotReloadManager)
            assert s.hot_reload is s.hot_reload
            assert not s.hot_reload.is_enabled()

    def test_close_is_idempotent_and_reads_keep_working(self) -> None:
        """After close(), reads still work and reload() raises ClosedError."""

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(env_prefix="APP_")
            reload_config = OFF
            port: int = 1

        s = App()
        s.close()
        s.close()
        assert s.port == 1 and s.snapshot().port == 1
        with pytest.raises(ClosedError):
            s.reload()
        with pytest.raises(ClosedError):
            s.rollback()

    def test_read_path_is_a_plain_instance_attribute(self) -> None:
        """A field read is found in the instance dict (no descriptor or __getattr__ in the way)."""

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(env_prefix="APP_")
            reload_config = OFF
            port: int = 1

        with App() as s:
            assert vars(s)["port"] == 1
            mro = type(s).__mro__
            assert all("__getattr__" not in vars(k) and "__getattribute__" not in vars(k) for k in mro[:-1])
            # nothing named like a field on the class: it would stop CPython specialising the read
            assert all("port" not in vars(k) for k in mro)
            assert App.port.default == 1  # class access still works, through the metaclass


class TestReload:
    """``reload()``: what it returns and what it leaves alone."""

    @pytest.fixture
    def app(self, tmp_path: Path) -> Any:
        cfg = tmp_path / "c.yaml"
        cfg.write_text("port: 1\nlogging: {level: INFO}\n")
        calls: list[Diff] = []

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = OFF
            port: int = 0
            logging: Logging = Logging()

            @on_change
            def _any(self, diff: Diff) -> None:
                calls.append(diff)

        with App() as s:
            yield s, cfg, calls

    def test_returns_the_new_version_with_exact_changes(self, app: Any) -> None:
        """reload() returns the new current Version and its leaf changes."""
        s, cfg, calls = app
        cfg.write_text("port: 2\nlogging: {level: ERROR}\n")
        v = s.reload()
        assert isinstance(v, Version) and v is s.version
        assert v.changes == (
            Change("port", ChangeType.MODIFY, 1, 2),
            Change("logging.level", ChangeType.MODIFY, "INFO", "ERROR"),
        )
        assert len(calls) == 1 and calls[0].version is v

    def test_same_bytes_touch_and_comments_return_none(self, app: Any) -> None:
        """Rewriting identical bytes, touching, or changing only a comment makes no version and no call."""
        s, cfg, calls = app
        text = cfg.read_text()
        cfg.write_text(text)
        assert s.reload() is None
        os.utime(cfg, (1, 1))
        assert s.reload() is None
        cfg.write_text("# a comment\n" + text)
        assert s.reload() is None
        assert calls == [] and len(s.history) == 1

    def test_value_reverted_between_reloads(self, app: Any) -> None:
        """A change and its revert are two versions."""
        s, cfg, calls = app
        cfg.write_text("port: 2\nlogging: {level: INFO}\n")
        s.reload()
        cfg.write_text("port: 1\nlogging: {level: INFO}\n")
        v = s.reload()
        assert v is not None and v.changes == (Change("port", ChangeType.MODIFY, 2, 1),)
        assert len(calls) == 2

    def test_reads_follow_the_new_version(self, app: Any) -> None:
        """After reload() returns, attribute reads and snapshot() give the new values."""
        s, cfg, _ = app
        cfg.write_text("port: 5\nlogging: {level: WARNING}\n")
        s.reload()
        assert s.port == 5 and s.logging.level == "WARNING"
        assert s.snapshot().port == 5

    def test_section_appearing_in_a_dict_field(self, tmp_path: Path) -> None:
        """A section added to a dict field is reported leaf by leaf, as the brief's example."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text("extra: {}\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = OFF
            extra: dict[str, Any] = {}

        with App() as s:
            cfg.write_text("extra:\n  test:\n    value: 42\n")
            v = s.reload()
            assert v is not None and v.changes == (Change("extra.test.value", ChangeType.ADD, None, 42),)
            cfg.write_text("extra: {}\n")
            v = s.reload()
            assert v is not None and v.changes == (Change("extra.test.value", ChangeType.DELETE, 42, None),)

    def test_extra_allowed_top_level_keys(self, tmp_path: Path) -> None:
        """With extra="allow", an added top-level section is reported per leaf and readable."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text("port: 1\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_", extra="allow")
            reload_config = OFF
            port: int = 0

        with App() as s:
            cfg.write_text("port: 1\ntest:\n  value: 42\n")
            v = s.reload()
            assert v is not None and v.changes == (Change("test.value", ChangeType.ADD, None, 42),)
            assert s.test == {"value": 42}
