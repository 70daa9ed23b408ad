"""A reload keeps the sources the last load built and brings them up to date (``_sources.keepable``).

Building pydantic-settings' sources on every reload was most of a small reload's cost. These tests
prove that keeping them changes nothing a user can see: every input still reaches the snapshot
(files, ``.env``, the environment, secrets), every check still runs on every reload (missing,
untrusted), and a user's own source class still runs as pydantic-settings runs it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from livesettings import ReloadableSettings, ReloadConfig
from livesettings.exceptions import ReloadError, SourceMissingError, UntrustedSourceError


class Db(BaseModel):
    host: str = "h"
    port: int = 1


def _customised(calls: list[int], *files: Path) -> type[ReloadableSettings]:
    """A class whose ``settings_customise_sources`` counts its calls and adds one YAML source per file."""

    class App(ReloadableSettings):
        model_config = SettingsConfigDict(env_prefix="APP_", env_file=None)
        reload_config = ReloadConfig(enabled=False)
        db: Db = Db()
        name: str = "n"
        extra_flag: str = "-"

        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            calls.append(1)
            yamls = tuple(YamlConfigSettingsSource(settings_cls, yaml_file=f) for f in files)
            return (init_settings, env_settings, *yamls)

    return App


class TestKept:
    def test_a_file_edit_reuses_the_sources_and_applies(self, tmp_path: Path) -> None:
        """Editing the file rebuilds nothing but that file's source; the edit is served."""
        calls: list[int] = []
        path = tmp_path / "a.yaml"
        path.write_text("db: {host: one}\n")
        with _customised(calls, path)() as s:
            assert s.db.host == "one" and len(calls) == 1
            for host in ("two", "three"):
                path.write_text(f"db: {{host: {host}}}\n")
                s.reload()
                assert s.db.host == host
            assert len(calls) == 1  # settings_customise_sources was not called again

    def test_an_environment_change_builds_every_source_again(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Environment variables are decoded when a source is built: a change builds them all again."""
        calls: list[int] = []
        path = tmp_path / "a.yaml"
        path.write_text("name: from-file\n")
        with _customised(calls, path)() as s:
            assert s.name == "from-file"
            monkeypatch.setenv("APP_NAME", "from-env")
            s.reload()
            assert s.name == "from-env" and len(calls) == 2
            path.write_text("name: from-file\ndb: {port: 2}\n")
            s.reload()
            assert (s.name, s.db.port, len(calls)) == ("from-env", 2, 2)
            monkeypatch.delenv("APP_NAME")
            s.reload()
            assert s.name == "from-file" and len(calls) == 3

    def test_the_unchanged_file_of_two_stays_checked(self, tmp_path: Path) -> None:
        """A kept source whose file did not change still takes part in every load: its file being
        removed afterwards is the missing-file error, not a silent default."""
        a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
        a.write_text("name: a\n")
        b.write_text("db: {host: b}\n")
        with _customised([], a, b)() as s:
            a.write_text("name: a2\n")
            s.reload()
            assert (s.name, s.db.host) == ("a2", "b")
            assert s.explain("db.host").file == str(b)
            b.unlink()
            with pytest.raises(SourceMissingError, match="b.yaml"):
                s.reload()
            assert s.db.host == "b"  # the last good config keeps serving

    @pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
    def test_the_unchanged_file_is_trust_checked_on_every_reload(self, tmp_path: Path) -> None:
        """Keeping a source never skips the trust checks on its file."""
        a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
        a.write_text("name: a\n")
        b.write_text("db: {host: b}\n")
        with _customised([], a, b)() as s:
            b.chmod(0o666)
            a.write_text("name: a2\n")
            with pytest.raises(UntrustedSourceError, match="world-writable"):
                s.reload()
            assert s.name == "a"

    def test_dotenv_edits_apply(self, tmp_path: Path) -> None:
        """The kept dotenv source reads its file again when it changed: values come and go."""
        env = tmp_path / ".env"
        env.write_text("APP_NAME=one\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(env_prefix="APP_", env_file=str(env), extra="ignore")
            reload_config = ReloadConfig(enabled=False)
            name: str = "default"

        with App() as s:
            assert s.name == "one"
            env.write_text("APP_NAME=two\n")
            s.reload()
            assert s.name == "two"
            env.write_text("OTHER=x\n")
            s.reload()
            assert s.name == "default"

    def test_secrets_are_read_on_every_reload(self, tmp_path: Path) -> None:
        """The secrets source reads when called: a new secret file is served by the next reload."""
        secrets = tmp_path / "secrets"
        secrets.mkdir(mode=0o700)
        (secrets / "token").write_text("first")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(secrets_dir=str(secrets))
            reload_config = ReloadConfig(enabled=False)
            token: str = ""

        with App() as s:
            assert s.token == "first"
            (secrets / "token").write_text("second")
            s.reload()
            assert s.token == "second"


class TestNotKept:
    def test_a_users_source_class_is_built_and_called_on_every_reload(self, tmp_path: Path) -> None:
        """A source of the user's own class runs as pydantic-settings runs it: built anew each load."""
        built: list[int] = []
        path = tmp_path / "a.yaml"
        path.write_text("port: 1\n")
        value = {"name": "first"}

        class Remote(PydanticBaseSettingsSource):
            def __init__(self, settings_cls: type[BaseSettings]) -> None:
                super().__init__(settings_cls)
                built.append(1)
                self.data = dict(value)  # reads when built, as pydantic-settings' file sources do

            def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
                return None, field_name, False

            def __call__(self) -> dict[str, Any]:
                return self.data

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(path))
            reload_config = ReloadConfig(enabled=False)
            name: str = "default"
            port: int = 0

            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                file_secret_settings: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (init_settings, Remote(settings_cls))

        with App() as s:
            assert s.name == "first"
            value["name"] = "second"
            path.write_text("port: 2\n")
            s.reload()
            assert (s.name, s.port, len(built)) == ("second", 2, 2)
            value["name"] = "third"  # only the user's source changed: no digest says so
            version = s.reload()
            assert version is not None and [c.path for c in version.changes] == ["name"]
            assert (s.name, len(built)) == ("third", 3)
            assert s.reload() is None and len(built) == 4  # it runs again, and nothing changed

    def test_a_users_failing_source_is_asked_again_after_a_rejection(self, tmp_path: Path) -> None:
        """A candidate rejected because of a user's source is not remembered as rejected: the next
        reload runs the source again, though no digest moved."""
        value: dict[str, Any] = {"port": 1}

        class Remote(PydanticBaseSettingsSource):
            def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
                return None, field_name, False

            def __call__(self) -> dict[str, Any]:
                return dict(value)

        class App(ReloadableSettings):
            reload_config = ReloadConfig(enabled=False)
            port: int = 0

            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                file_secret_settings: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (init_settings, Remote(settings_cls))

        with App() as s:
            value["port"] = "not a port"
            with pytest.raises(ReloadError, match="port"):
                s.reload()
            assert s.port == 1 and s.last_error is not None
            with pytest.raises(ReloadError, match="port"):  # asked again, still bad
                s.reload()
            value["port"] = 2
            assert s.reload() is not None and s.port == 2 and s.last_error is None

    def test_the_stock_sources_alone_skip_an_unchanged_reload(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """With every source covered by the digest, a reload with nothing changed loads nothing."""
        path = tmp_path / "a.yaml"
        path.write_text("db:\n  port: 1\n")
        with _customised([], path)() as s:
            loader = s._ls_engine.loader
            loads: list[int] = []
            real = loader.load
            monkeypatch.setattr(loader, "load", lambda **kw: (loads.append(1), real(**kw))[1])
            assert s.reload() is None and loads == []
            path.write_text("db:\n  port: 2\n")
            assert s.reload() is not None and loads == [1]


class TestKeyRenaming:
    def test_aliases_and_case_are_renamed_as_pydantic_settings_does_on_every_load(self, tmp_path: Path) -> None:
        """Our file sources remember how a set of keys is renamed (``_KeysOnce``); the second and
        later loads of the same keys give what pydantic-settings' own YAML source gives."""
        from pydantic import Field

        path = tmp_path / "a.yaml"

        class Stock(BaseSettings):
            model_config = SettingsConfigDict(yaml_file=str(path), extra="allow")
            service_name: str = Field("d", alias="serviceName")
            port: int = 0

            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                file_secret_settings: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (init_settings, YamlConfigSettingsSource(settings_cls))

        class Live(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(path), extra="allow")
            reload_config = ReloadConfig(enabled=False)
            service_name: str = Field("d", alias="serviceName")
            port: int = 0

        docs = ["serviceName: a\nPORT: 1\nother: x\n", "serviceName: b\nPORT: 2\nother: y\n"]
        path.write_text(docs[0])
        with Live() as s:
            for doc in docs * 2:
                path.write_text(doc)
                s.reload()
                expected = Stock().model_dump()
                assert s.snapshot().model_dump() == expected
                assert expected["service_name"] in ("a", "b") and expected["other"] in ("x", "y")
