"""Sections kept packed between loads (``_packed``): what a settings object keeps of a large YAML
file's reusable sections is bytes, and every consumer of the parse still sees what the file says.

Each test uses a real YAML file padded past ``PACK_FROM`` and compares with what a cold start, or
pydantic-settings itself, builds from the same file and environment.
"""

from __future__ import annotations

import logging
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

from livesettings import ReloadableSettings, ReloadConfig, ReloadError
from livesettings._packed import PACK_FROM, Packed

PAD = "x" * PACK_FROM


class Db(BaseModel):
    host: str = "localhost"
    port: int = 1
    tags: list[str] = []


class Cache(BaseModel):
    ttl: int = 0
    size: int = 0
    mode: str = "lru"  # not in the file


def _text(port: Any = 5432, ttl: int = 30, extra: str = "") -> str:
    return (
        "db:\n"
        "  host: db.internal\n"
        f"  port: {port}\n"
        "  tags: [a, b]\n"
        f"{extra}"
        "cache:\n"
        f"  ttl: {ttl}\n"
        "  size: 10\n"
        f"pad: {PAD}\n"
    )


def _app(path: Path, *, env_last: bool = False) -> type[ReloadableSettings]:
    class App(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(path), env_prefix="APP_", env_nested_delimiter="__")
        reload_config = ReloadConfig(enabled=False)
        db: Db = Db()
        cache: Cache = Cache()
        pad: str = ""

        if env_last:  # the environment below the file: the lowest priority

            @classmethod
            def settings_customise_sources(
                cls,
                settings_cls: type[BaseSettings],
                init_settings: PydanticBaseSettingsSource,
                env_settings: PydanticBaseSettingsSource,
                dotenv_settings: PydanticBaseSettingsSource,
                file_secret_settings: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return init_settings, YamlConfigSettingsSource(settings_cls), env_settings

    return App


def _reference(app: type[ReloadableSettings], *, env_last: bool = False, cache: Cache | None = None) -> type[BaseSettings]:
    """pydantic-settings' own class for ``app`` (the YAML source added as livesettings adds it)."""

    default_cache = cache or Cache()

    class Reference(BaseSettings):
        model_config = app.model_config
        db: Db = Db()
        cache: Cache = default_cache
        pad: str = ""

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            yaml = YamlConfigSettingsSource(settings_cls)
            return (init_settings, yaml, env_settings) if env_last else (init_settings, env_settings, yaml)

    return Reference


def _kept(s: Any, path: Path) -> dict[str, Any]:
    return s._ls_engine.loader.reader._parsed[(path.resolve(), "yaml")][1]  # type: ignore[no-any-return]


def _plain(s: Any) -> dict[str, Any]:
    return s.snapshot().model_dump()  # type: ignore[no-any-return]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = tmp_path / "config.yaml"
    p.write_text(_text())
    return p


class TestKeptPacked:
    def test_reusable_sections_are_packed_and_an_edit_applies(self, path: Path) -> None:
        """The kept parse holds the sections as bytes; editing one re-validates it from its new text."""
        App = _app(path)
        with App() as s:
            kept = _kept(s, path)
            assert type(kept["db"]) is Packed and type(kept["cache"]) is Packed and type(kept["pad"]) is str
            assert "db.internal" not in repr(kept["db"])  # the repr shows no content
            before = s.snapshot()
            path.write_text(_text(ttl=31))
            v = s.reload()
            assert v is not None and [c.path for c in v.changes] == ["cache.ttl"]
            assert s.snapshot().db is before.db and s.cache.ttl == 31
            assert type(_kept(s, path)["cache"]) is Packed
            with App() as cold:
                assert _plain(s) == _plain(cold)

    def test_a_small_file_keeps_its_parse_live(self, tmp_path: Path) -> None:
        p = tmp_path / "config.yaml"
        p.write_text("db:\n  port: 7\n")
        with _app(p)() as s:
            assert type(_kept(s, p)["db"]) is dict and s.db.port == 7

    def test_explain_locates_a_packed_value(self, path: Path) -> None:
        """explain() opens the packed section to find the value's line and column."""
        with _app(path)() as s:
            origin = s.explain("db.port")
            assert (origin.source, origin.line, origin.column) == ("yaml", 3, 9)
            path.write_text(_text(ttl=31))
            s.reload()
            assert s.explain("db.tags").line == 4

    def test_every_leaf_unpacks_each_section_once(self, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """``livesettings show`` (every leaf's origin) unpacks each packed section once, not once per leaf,
        and keeps nothing unpacked after answering."""
        opened: list[Packed] = []
        real = Packed.open
        monkeypatch.setattr(Packed, "open", lambda self: (opened.append(self), real(self))[1])
        with _app(path)() as s:
            prov = s._ls_engine.loader.loaded.provenance
            opened.clear()
            origins = {o.path: o for o in prov.leaves()}
            assert (origins["db.port"].line, origins["db.tags"].line, origins["cache.size"].line) == (3, 4, 7)
            assert sorted(id(p) for p in opened) == sorted({id(p) for p in opened}) and len(opened) == 2
            opened.clear()
            assert s.explain("cache.ttl").line == 6 and len(opened) == 1
            assert s.explain("cache.ttl").line == 6 and len(opened) == 2  # asked again: unpacked again

    def test_a_bad_value_in_a_packed_section_is_rejected_at_its_line(self, path: Path) -> None:
        with _app(path)() as s:
            good = s.snapshot()
            path.write_text(_text(port="not-a-port"))
            with pytest.raises(ReloadError) as info:
                s.reload()
            assert s.snapshot() is good
            text = str(info.value)
            assert "db.port" in text and "config.yaml" in text and "line 3" in text
            path.write_text(_text(port=6000))
            s.reload()
            assert s.db.port == 6000


class TestOtherSources:
    def test_a_higher_priority_variable_merges_into_a_packed_section(
        self, path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A variable set after the section was packed: the file's section is opened and merged under it."""
        App = _app(path)
        with App() as s:
            assert type(_kept(s, path)["db"]) is Packed
            monkeypatch.setenv("APP_DB__PORT", "99")
            s.reload()
            assert (s.db.host, s.db.port, s.db.tags) == ("db.internal", 99, ["a", "b"])
            path.write_text(_text(ttl=31))
            s.reload()
            assert (s.db.port, s.cache.ttl) == (99, 31)
            with App() as cold:
                assert _plain(s) == _plain(cold)

    def test_a_lower_priority_source_makes_the_load_run_unpacked(
        self, path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The environment below the file sets part of a section the file packed: the load runs again
        with that section live, and the result is pydantic-settings' own."""
        App = _app(path, env_last=True)
        Reference = _reference(App, env_last=True)

        with App() as s:
            assert "db" in s._ls_engine.loader._packable
            monkeypatch.setenv("APP_DB__HOST", "from-env")  # the file wins here
            monkeypatch.setenv("APP_CACHE__SIZE", "77")  # the file wins here too
            monkeypatch.setenv("APP_CACHE__MODE", "fifo")  # only the environment sets this one
            s.reload()
            assert (s.db.host, s.cache.size, s.cache.mode) == ("db.internal", 10, "fifo")
            assert _plain(s) == Reference().model_dump()
            assert {"db", "cache"}.isdisjoint(s._ls_engine.loader._packable)
            path.write_text(_text(ttl=31))
            s.reload()
            assert _plain(s) == Reference().model_dump() and s.cache.ttl == 31

    def test_partial_update_defaults_asked_for_at_init_merge_as_pydantic_settings_does(
        self, path: Path
    ) -> None:
        """``_nested_model_default_partial_update=True`` (an init keyword, not the class's config):
        pydantic-settings merges the field defaults under the file's sections. The first load runs
        again with the sections live, and they stay live for the reloads."""
        App = _app(path)

        class WithDefaults(App):  # type: ignore[misc,valid-type]
            cache: Cache = Cache(mode="arc")  # a default the file does not override

        Reference = _reference(App, cache=Cache(mode="arc"))
        expected = Reference(_nested_model_default_partial_update=True).model_dump()
        assert expected["cache"]["mode"] == "arc"
        with WithDefaults(_nested_model_default_partial_update=True) as s:
            assert _plain(s) == expected
            assert "cache" not in s._ls_engine.loader._packable
            path.write_text(_text(ttl=31))
            s.reload()
            assert _plain(s) == Reference(_nested_model_default_partial_update=True).model_dump()
            assert (s.cache.ttl, s.cache.mode) == (31, "arc")
            assert not any(type(v) is Packed for v in _kept(s, path).values())
        with WithDefaults() as s:  # without it the file's section replaces the default: packed as usual
            assert s.cache.mode == "lru" and type(_kept(s, path)["cache"]) is Packed

    def test_an_unknown_key_in_a_packed_section_is_still_found(
        self, path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The unknown-key walk of a packed section runs once and its findings stay with it."""
        path.write_text(_text(extra="  prot: 1\n"))
        with caplog.at_level(logging.WARNING), _app(path)() as s:
            loader = s._ls_engine.loader
            assert [k.path for k in loader.loaded.unknown_keys] == ["db.prot"]
            path.write_text(_text(ttl=31, extra="  prot: 1\n"))
            s.reload()
            assert type(_kept(s, path)["db"]) is Packed
            assert [(k.path, k.line) for k in loader.loaded.unknown_keys] == [("db.prot", 5)]

    def test_a_source_of_the_users_turns_packing_off(self, path: Path) -> None:
        """A user's own source may read what the others returned (``current_state``): it sees dicts."""
        seen: list[Any] = []

        class Peek(PydanticBaseSettingsSource):
            def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
                return None, field_name, False

            def __call__(self) -> dict[str, Any]:
                seen.append(dict(self.current_state))
                return {}

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(path))
            reload_config = ReloadConfig(enabled=False)
            db: Db = Db()
            cache: Cache = Cache()
            pad: str = ""

            @classmethod
            def settings_customise_sources(
                cls,
                settings_cls: type[BaseSettings],
                init_settings: PydanticBaseSettingsSource,
                env_settings: PydanticBaseSettingsSource,
                dotenv_settings: PydanticBaseSettingsSource,
                file_secret_settings: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return init_settings, YamlConfigSettingsSource(settings_cls), Peek(settings_cls)

        with App() as s:
            path.write_text(_text(ttl=31))
            s.reload()
            assert s.cache.ttl == 31 and type(_kept(s, path)["db"]) is dict
            assert seen and all(type(state["db"]) is dict for state in seen)
