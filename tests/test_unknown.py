"""Tests for livesettings._unknown: unknown keys in config files, and handler paths no field reaches."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import pytest
from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Json,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from livesettings import ReloadableSettings, ReloadConfig, ReloadError
from livesettings._loader import HotReloadLoader
from livesettings._parsers import ParseLimits, locate, parse
from livesettings._sources import LoadContext
from livesettings._unknown import (
    UnknownKey,
    check_path,
    find_unknown,
    find_unknown_in_load,
    unknown_keys_error,
)


def _scan(model: type, tmp_path: Path, text: str, fmt: str = "yaml", name: str | None = None) -> list[tuple[Any, ...]]:
    """Write ``text`` to a file, parse it with the project's parser and return (path, line, column, suggestion)."""
    file = tmp_path / (name or f"config.{fmt}")
    file.write_text(textwrap.dedent(text).lstrip("\n"))
    raw = file.read_bytes()
    data = parse(fmt, raw, str(file), ParseLimits())
    found = find_unknown(model, data, source=str(file), fmt=fmt, raw=raw)
    assert all(k.source == str(file) for k in found)
    return [(k.path, k.line, k.column, k.suggestion) for k in found]


def _load(cls: type[ReloadableSettings], **init: Any) -> LoadContext:
    """One real load of ``cls``'s sources (the loader the engine uses), returning what it read."""
    config = ReloadConfig(allow_empty=True, unknown_keys="ignore")  # find them here, not in the loader
    return HotReloadLoader(cls.__snapshot__, init, config, cls.__name__).load(reloading=False).ctx


class Server(BaseModel):
    host: str = "localhost"
    requests_per_minute: int = 60


class Database(BaseModel):
    url: str = "sqlite://"
    pool_size: int = 5


class Nested(BaseModel):
    server: Server = Server()
    database: Database = Database()


class AppSettings(BaseSettings):
    port: int = 8080
    server: Server = Server()
    database: Database = Database()


class TestUnknownKey:
    def test_str_names_key_suggestion_file_line_and_column(self) -> None:
        """The rendering matches the issue's example."""
        key = UnknownKey("server.requests_per_minuet", "config.yaml", 4, 3, "requests_per_minute")
        assert str(key) == (
            "server.requests_per_minuet: unknown key (did you mean requests_per_minute?) "
            "(config.yaml, line 4, column 3)"
        )

    def test_str_without_suggestion_or_location(self) -> None:
        """Missing parts are left out, not shown as None."""
        assert str(UnknownKey("zzz", "config.toml")) == "zzz: unknown key (config.toml)"
        assert str(UnknownKey("zzz", "config.toml", 2)) == "zzz: unknown key (config.toml, line 2)"

    def test_is_frozen(self) -> None:
        """An UnknownKey is an immutable value."""
        key = UnknownKey("a", "f")
        with pytest.raises(AttributeError):
            key.path = "b"  # type: ignore[misc]
        assert key == UnknownKey("a", "f")

    def test_error_lists_every_key_as_a_detail(self) -> None:
        """In "error" mode the candidate is rejected with one detail per key, located."""
        keys = [UnknownKey("a.b", "c.yaml", 2, 3, "bb"), UnknownKey("x", "c.yaml", 5, 1)]
        error = unknown_keys_error(keys, what="AppSettings")
        assert isinstance(error, ReloadError)
        assert str(error) == (
            "invalid configuration for AppSettings: 2 unknown keys\n"
            "  a.b: unknown key (did you mean bb?) (c.yaml, line 2, column 3)\n"
            "  x: unknown key (c.yaml, line 5, column 1)"
        )
        assert (error.field, error.source, error.line, error.column) == ("a.b", "c.yaml", 2, 3)
        assert error.stage == "types"


class TestNestedModels:
    def test_typo_under_a_nested_model_is_reported_with_location(self, tmp_path: Path) -> None:
        """The issue's case: a misspelt key under a nested model, with file, line, column and suggestion."""
        found = _scan(AppSettings, tmp_path, """
            port: 9000
            server:
              host: example.org
              requests_per_minuet: 300
            """)
        assert found == [("server.requests_per_minuet", 4, 3, "requests_per_minute")]

    def test_known_keys_only_reports_nothing(self, tmp_path: Path) -> None:
        """A config with only known keys has no unknown keys."""
        assert _scan(AppSettings, tmp_path, "port: 1\nserver:\n  host: h\ndatabase:\n  pool_size: 3\n") == []

    def test_every_unknown_key_at_every_depth_in_file_order(self, tmp_path: Path) -> None:
        """Several typos at several depths are each reported, in the order they appear."""

        class Inner(BaseModel):
            level: str = "INFO"

        class Middle(BaseModel):
            inner: Inner = Inner()
            size: int = 1

        class Root(BaseModel):
            middle: Middle = Middle()

        found = _scan(Root, tmp_path, """
            middle:
              sise: 2
              inner:
                levle: DEBUG
                colour: red
            midle: {}
            """)
        assert found == [
            ("middle.sise", 2, 3, "size"),
            ("middle.inner.levle", 4, 5, "level"),
            ("middle.inner.colour", 5, 5, None),
            ("midle", 6, 1, "middle"),
        ]

    def test_nothing_below_an_unknown_key_is_reported(self, tmp_path: Path) -> None:
        """An unknown section is one finding, not one per key inside it."""
        assert _scan(Nested, tmp_path, "servr:\n  a: 1\n  b: 2\n") == [("servr", 1, 1, "server")]

    def test_flow_style_points_at_the_key(self, tmp_path: Path) -> None:
        """In a flow mapping the column is the key's, not the value's."""
        assert _scan(Nested, tmp_path, "server: {host: h, requests: 1}\n") == [("server.requests", 1, 19, None)]

    def test_empty_and_null_documents(self, tmp_path: Path) -> None:
        """No data, nothing to report."""
        assert find_unknown(Nested, None, source="x", fmt="yaml", raw=None) == ()
        assert find_unknown(Nested, {}, source="x", fmt="yaml", raw=None) == ()

    def test_without_raw_bytes_the_location_is_left_out(self) -> None:
        """Data from elsewhere (no bytes) still gets paths and suggestions."""
        found = find_unknown(Nested, {"server": {"hots": "h"}}, source="etcd", fmt="yaml", raw=None)
        assert found == (UnknownKey("server.hots", "etcd", None, None, "host"),)

    def test_non_mapping_value_for_a_model_is_left_to_validation(self, tmp_path: Path) -> None:
        """A scalar or list where a model belongs is a validation error, not an unknown key."""
        assert _scan(Nested, tmp_path, "server: 5\ndatabase: [1, 2]\n") == []

    def test_non_string_keys_are_unknown(self) -> None:
        """A non-string key (data from a source that allows them) is reported, without a suggestion."""
        found = find_unknown(Nested, {"server": {1: "x"}}, source="s", fmt="yaml", raw=None)
        assert [(k.path, k.suggestion) for k in found] == [("server.1", None)]


class TestExplicitExtra:
    def test_explicit_ignore_is_a_chosen_silence(self, tmp_path: Path) -> None:
        """extra="ignore" set on the model: its unknown keys are not reported, but deeper models still are."""

        class Quiet(BaseModel):
            model_config = ConfigDict(extra="ignore")
            server: Server = Server()

        class Root(BaseModel):
            quiet: Quiet = Quiet()

        found = _scan(Root, tmp_path, "quiet:\n  anything: 1\n  server:\n    hots: h\n")
        assert found == [("quiet.server.hots", 4, 5, "host")]

    def test_extra_allow_accepts_anything_below(self, tmp_path: Path) -> None:
        """extra="allow": unknown keys and whatever they hold are accepted; known fields are still walked."""

        class Open(BaseModel):
            model_config = ConfigDict(extra="allow")
            server: Server = Server()

        class Root(BaseModel):
            open: Open = Open()

        found = _scan(Root, tmp_path, "open:\n  plugin:\n    deep: {x: 1}\n  server:\n    hots: h\n")
        assert found == [("open.server.hots", 5, 5, "host")]

    def test_extra_forbid_is_left_to_pydantic(self, tmp_path: Path) -> None:
        """extra="forbid" already rejects the key in validation: it is not reported twice."""

        class Strict(BaseModel):
            model_config = ConfigDict(extra="forbid")
            a: int = 1

        class Root(BaseModel):
            strict: Strict = Strict()

        assert _scan(Root, tmp_path, "strict:\n  b: 2\n") == []

    def test_extra_inherited_from_a_base_model_counts_as_explicit(self, tmp_path: Path) -> None:
        """A rule set on a base class is the subclass's rule too."""

        class Base(BaseModel):
            model_config = ConfigDict(extra="allow")

        class Child(Base):
            a: int = 1

        class Root(BaseModel):
            child: Child = Child()

        assert _scan(Root, tmp_path, "child:\n  b: 2\n") == []


class TestTopLevel:
    def test_settings_top_level_is_forbid_and_not_reported_twice(self, tmp_path: Path) -> None:
        """BaseSettings forbids unknown top-level keys itself; only the nested typo is ours."""
        assert AppSettings.model_config["extra"] == "forbid"
        found = _scan(AppSettings, tmp_path, "prot: 1\nserver:\n  hots: h\n")
        assert found == [("server.hots", 3, 3, "host")]

    def test_snapshot_top_level_rejects_unknown_keys_today(self, tmp_path: Path) -> None:
        """The generated snapshot keeps BaseSettings' forbid: a top-level typo is already a ReloadError."""
        (tmp_path / "c.yaml").write_text("port: 1\nprot: 2\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(tmp_path / "c.yaml"))
            reload_config = ReloadConfig(enabled=False)
            port: int = 0

        assert App.__snapshot__.model_config["extra"] == "forbid"
        with pytest.raises(ReloadError) as exc:
            App()
        assert exc.value.field == "prot"
        assert (exc.value.line, exc.value.source) == (2, str(tmp_path / "c.yaml"))

    def test_settings_top_level_is_case_insensitive_by_default(self, tmp_path: Path) -> None:
        """pydantic-settings' file sources match top-level keys case-insensitively: PORT is port."""

        class Loose(BaseSettings):
            model_config = SettingsConfigDict(extra="ignore")
            port: int = 1
            server: Server = Server()

        found = _scan(Loose, tmp_path, "PORT: 2\nSERVER:\n  HOST: h\nPrt: 3\n")
        assert found == [("SERVER.HOST", 3, 3, "host")]  # nested levels are case-sensitive (pydantic)

    def test_settings_top_level_explicit_ignore_is_silent(self, tmp_path: Path) -> None:
        """A settings class that sets extra="ignore" at the top has chosen silence there."""

        class Loose(BaseSettings):
            model_config = SettingsConfigDict(extra="ignore")
            port: int = 1

        assert _scan(Loose, tmp_path, "prot: 2\n") == []

    def test_case_sensitive_settings_report_other_cases_nested_only(self, tmp_path: Path) -> None:
        """With case_sensitive=True the top level is matched exactly (PORT is then pydantic's extra)."""

        class Exact(BaseSettings):
            model_config = SettingsConfigDict(case_sensitive=True, extra="ignore")
            port: int = 1

        class Plain(BaseModel):
            port: int = 1

        assert _scan(Exact, tmp_path, "PORT: 2\n") == []  # explicit ignore: silence
        assert _scan(Plain, tmp_path, "PORT: 2\n", name="plain.yaml") == [("PORT", 1, 1, "port")]

    def test_reloadable_settings_class_is_accepted(self, tmp_path: Path) -> None:
        """The façade class can be passed directly: its snapshot model is used."""

        class App(ReloadableSettings):
            reload_config = ReloadConfig(enabled=False)
            server: Server = Server()

        assert _scan(App, tmp_path, "server:\n  hots: h\n") == [("server.hots", 2, 3, "host")]


class TestContainers:
    def test_dict_of_models_walks_each_entry(self, tmp_path: Path) -> None:
        """dict[str, Model]: any key, and each value checked against the model."""

        class Root(BaseModel):
            databases: dict[str, Database] = {}

        found = _scan(Root, tmp_path, """
            databases:
              primary:
                url: a
              replica:
                ulr: b
                pool_size: 2
            """)
        assert found == [("databases.replica.ulr", 5, 5, "url")]

    def test_list_of_models_walks_each_item(self, tmp_path: Path) -> None:
        """list[Model]: each item checked; the path carries the index."""

        class Root(BaseModel):
            servers: list[Server] = []

        found = _scan(Root, tmp_path, """
            servers:
              - host: a
              - hots: b
              - host: c
                requests_per_minuet: 1
            """)
        assert found == [("servers.1.hots", 3, 5, "host"), ("servers.2.requests_per_minuet", 5, 5, "requests_per_minute")]

    def test_tuples_sets_and_sequences(self, tmp_path: Path) -> None:
        """Fixed and variadic tuples map items to their types; extra tuple items are validation's."""

        class Root(BaseModel):
            pair: tuple[Server, Database] = (Server(), Database())
            many: tuple[Server, ...] = ()

        found = _scan(Root, tmp_path, "pair: [{hots: a}, {ulr: b}, {x: 1}]\nmany: [{}, {hots: c}]\n")
        assert found == [("pair.0.hots", 1, 9, "host"), ("pair.1.ulr", 1, 20, "url"), ("many.1.hots", 2, 13, "host")]

    def test_optional_and_annotated_models_are_walked(self, tmp_path: Path) -> None:
        """Optional[Model], Model | None and Annotated[Model, ...] are the model."""

        class Root(BaseModel):
            a: Optional[Server] = None
            b: Server | None = None
            c: Annotated[Server, Field(description="c")] = Server()
            d: Optional[Annotated[dict[str, list[Server]], "meta"]] = None

        found = _scan(Root, tmp_path, "a: {hots: 1}\nb: {hots: 2}\nc: {hots: 3}\nd: {x: [{hots: 4}]}\nb2: 0\n")
        assert [p for p, *_ in found] == ["a.hots", "b.hots", "c.hots", "d.x.0.hots", "b2"]

    def test_free_form_fields_accept_anything(self, tmp_path: Path) -> None:
        """Any, dict, dict[str, Any], object, Json and list[dict] fields never report what is below them."""

        class Root(BaseModel):
            anything: Any = None
            mapping: dict = {}  # type: ignore[type-arg]
            typed: dict[str, Any] = {}
            obj: object = None
            blob: Json[Any] = None
            rows: list[dict[str, int]] = []
            other: Server = Server()

        found = _scan(Root, tmp_path, """
            anything: {a: {b: 1}}
            mapping: {c: [1, {d: 2}]}
            typed: {e: {f: 1}}
            obj: {g: 1}
            blob: '{"h": 1}'
            rows: [{i: 1}]
            other: {hots: x}
            """)
        assert found == [("other.hots", 7, 9, "host")]

    def test_dataclass_fields_are_not_judged(self, tmp_path: Path) -> None:
        """Types we do not model (stdlib dataclasses) accept anything: no false alarms."""
        import dataclasses

        @dataclasses.dataclass
        class Point:
            x: int = 0

        class Root(BaseModel):
            point: Point = Point()

        assert _scan(Root, tmp_path, "point: {x: 1, y: 2}\n") == []

    def test_recursive_model(self, tmp_path: Path) -> None:
        """A self-referencing model is walked as deep as the data goes."""
        found = _scan(Tree, tmp_path, """
            name: root
            children:
              - name: a
                children:
                  - nmae: b
            """)
        assert found == [("children.0.children.0.nmae", 5, 9, "name")]

    def test_root_model(self, tmp_path: Path) -> None:
        """A RootModel field is walked as its root type."""
        from pydantic import RootModel

        class Servers(RootModel[dict[str, Server]]):
            pass

        class Root(BaseModel):
            servers: Servers = Servers({})

        assert _scan(Root, tmp_path, "servers:\n  a:\n    hots: h\n") == [("servers.a.hots", 3, 5, "host")]


class Tree(BaseModel):
    name: str = ""
    children: list[Tree] = []


class TestAliases:
    def test_alias_is_the_key(self, tmp_path: Path) -> None:
        """A field with an alias accepts the alias; its name alone is unknown and the alias is suggested."""

        class Limits(BaseModel):
            rpm: int = Field(60, alias="requestsPerMinute")

        class Root(BaseModel):
            limits: Limits = Limits()

        assert _scan(Root, tmp_path, "limits:\n  requestsPerMinute: 1\n") == []
        found = _scan(Root, tmp_path, "limits:\n  rpm: 1\n  requestsPerMinuet: 2\n", name="b.yaml")
        assert found == [("limits.rpm", 2, 3, "requestsPerMinute"), ("limits.requestsPerMinuet", 3, 3, "requestsPerMinute")]

    def test_populate_by_name_and_validate_by_name_accept_both(self, tmp_path: Path) -> None:
        """populate_by_name (and validate_by_name) make the field name a key too."""

        class ByPopulate(BaseModel):
            model_config = ConfigDict(populate_by_name=True)
            rpm: int = Field(60, alias="requestsPerMinute")

        class ByValidate(BaseModel):
            model_config = ConfigDict(validate_by_name=True)
            rpm: int = Field(60, alias="requestsPerMinute")

        class Root(BaseModel):
            a: ByPopulate = ByPopulate()
            b: ByValidate = ByValidate()

        assert _scan(Root, tmp_path, "a: {rpm: 1, requestsPerMinute: 2}\nb: {rpm: 1}\n") == []

    def test_validate_by_alias_false_accepts_only_the_name(self, tmp_path: Path) -> None:
        """With validate_by_alias=False pydantic ignores the alias on input: the alias key is unknown."""

        class Names(BaseModel):
            model_config = ConfigDict(validate_by_alias=False, validate_by_name=True)
            rpm: int = Field(60, alias="requestsPerMinute")

        class Root(BaseModel):
            n: Names = Names()

        assert _scan(Root, tmp_path, "n: {requestsPerMinute: 1, rpm: 2}\n") == [("n.requestsPerMinute", 1, 5, None)]

    def test_validation_alias_wins_over_alias(self, tmp_path: Path) -> None:
        """validation_alias is what input uses; the serialization alias is then unknown on input."""

        class M(BaseModel):
            x: int = Field(0, alias="out_name", validation_alias="in_name")

        class Root(BaseModel):
            m: M = M()

        assert _scan(Root, tmp_path, "m: {in_name: 1, out_name: 2}\n") == [("m.out_name", 1, 17, "in_name")]

    def test_alias_choices_and_paths(self, tmp_path: Path) -> None:
        """Each AliasChoices entry is a key; an AliasPath's first key is known and what it digs into is not judged."""

        class M(BaseModel):
            a: int = Field(0, validation_alias=AliasChoices("alpha", "A", AliasPath("legacy", "a")))
            b: Server = Field(Server(), validation_alias=AliasPath("srv"))

        class Root(BaseModel):
            m: M = M()

        assert _scan(Root, tmp_path, "m:\n  A: 1\n  legacy: {a: 1, zzz: 2}\n  srv: {hots: h}\n  alhpa: 3\n") == [
            ("m.srv.hots", 4, 9, "host"),
            ("m.alhpa", 5, 3, "alpha"),
        ]

    def test_only_the_choice_pydantic_reads_is_walked(self, tmp_path: Path) -> None:
        """With two AliasChoices present pydantic reads the first choice; the shadowed one is not judged."""

        class M(BaseModel):
            s: Server = Field(Server(), validation_alias=AliasChoices("server", "srv"))

        class Root(BaseModel):
            m: M = M()

        assert _scan(Root, tmp_path, "m:\n  srv: {zzz: 1}\n  server: {hots: h}\n") == [("m.server.hots", 3, 12, "host")]

    def test_alias_generator(self, tmp_path: Path) -> None:
        """Aliases made by an alias generator are the keys."""
        from pydantic.alias_generators import to_camel

        class M(BaseModel):
            model_config = ConfigDict(alias_generator=to_camel)
            pool_size: int = 1

        class Root(BaseModel):
            m: M = M()

        assert _scan(Root, tmp_path, "m: {poolSize: 1, pool_size: 2}\n") == [("m.pool_size", 1, 18, "poolSize")]

    def test_top_level_settings_alias_case_insensitive(self, tmp_path: Path) -> None:
        """At a settings model's top level aliases match case-insensitively, like its file sources do."""

        class S(BaseSettings):
            model_config = SettingsConfigDict(extra="ignore")
            srv: Server = Field(Server(), alias="Server")

        assert _scan(S, tmp_path, "SERVER:\n  hots: h\n") == [("SERVER.hots", 2, 3, "host")]


class Cat(BaseModel):
    kind: Literal["cat"] = "cat"
    meows: int = 0


class Dog(BaseModel):
    kind: Literal["dog"] = "dog"
    barks: int = 0


class TestUnions:
    def test_discriminated_union_walks_the_picked_member(self, tmp_path: Path) -> None:
        """A key of the other member is unknown for the member the discriminator picks."""

        class Root(BaseModel):
            pet: Union[Cat, Dog] = Field(Cat(), discriminator="kind")
            pets: list[Annotated[Union[Cat, Dog], Field(discriminator="kind")]] = []

        found = _scan(Root, tmp_path, """
            pet: {kind: dog, barks: 1, meows: 2}
            pets:
              - {kind: cat, meows: 1}
              - {kind: cat, barks: 1}
              - {kind: fish, fins: 2}
            """)
        assert found == [("pet.meows", 1, 28, None), ("pets.1.barks", 4, 17, None)]

    def test_discriminator_with_an_enum_and_an_alias(self, tmp_path: Path) -> None:
        """The tag is read under the discriminator field's alias and compared with enum values too."""
        import enum

        class Kind(str, enum.Enum):
            A = "a"
            B = "b"

        class A(BaseModel):
            type_: Literal[Kind.A] = Field(Kind.A, alias="type")
            x: int = 0

        class B(BaseModel):
            type_: Literal[Kind.B] = Field(Kind.B, alias="type")
            y: int = 0

        class Root(BaseModel):
            item: Annotated[Union[A, B], Field(discriminator="type_")] = A()

        assert _scan(Root, tmp_path, "item: {type: b, x: 1}\n") == [("item.x", 1, 17, None)]

    def test_callable_discriminator_with_tags(self, tmp_path: Path) -> None:
        """A Discriminator function picks the member by its Tag."""

        def pick(value: Any) -> str:
            return "dog" if isinstance(value, dict) and "barks" in value else "cat"

        class Root(BaseModel):
            pet: Annotated[Union[Annotated[Cat, Tag("cat")], Annotated[Dog, Tag("dog")]], Discriminator(pick)] = Cat()

        # meows is a Cat key: a plain union would accept it, the picked Dog does not
        assert _scan(Root, tmp_path, "pet: {barks: 1, meows: 2}\n") == [("pet.meows", 1, 17, None)]

    def test_failing_discriminator_function_reports_nothing(self, tmp_path: Path) -> None:
        """A discriminator function that raises leaves the value to validation."""

        def pick(value: Any) -> str:
            raise RuntimeError("boom")

        class Root(BaseModel):
            pet: Annotated[Union[Annotated[Cat, Tag("cat")], Annotated[Dog, Tag("dog")]], Discriminator(pick)] = Cat()

        assert _scan(Root, tmp_path, "pet: {x: 1}\n") == []

    def test_ambiguous_union_is_conservative(self, tmp_path: Path) -> None:
        """Without a discriminator a key accepted by any member is known; a key no member takes is reported."""

        class Root(BaseModel):
            pet: Union[Cat, Dog] = Cat()

        found = _scan(Root, tmp_path, "pet: {meows: 1, barks: 2, kind: cat, wings: 2}\n")
        assert found == [("pet.wings", 1, 38, None)]

    def test_union_with_a_free_form_member_accepts_anything(self, tmp_path: Path) -> None:
        """Model | dict[str, Any], Model | Any: the free-form member takes every key."""

        class Root(BaseModel):
            a: Union[Server, dict[str, Any]] = Server()
            b: Union[Server, Any] = None

        assert _scan(Root, tmp_path, "a: {zzz: 1}\nb: {zzz: 1}\n") == []

    def test_union_of_model_and_scalar_or_list(self, tmp_path: Path) -> None:
        """Scalar and list members do not take a mapping, so the model member decides."""

        class Root(BaseModel):
            a: Union[str, list[int], Server] = "x"
            b: Union[list[Server], Server] = []

        found = _scan(Root, tmp_path, "a: {hots: 1}\nb: [{hots: 2}]\n")
        assert found == [("a.hots", 1, 5, "host"), ("b.0.hots", 2, 6, "host")]

    def test_nested_model_inside_union_members(self, tmp_path: Path) -> None:
        """A key below a field both members share is unknown only if it is unknown in both."""

        class A(BaseModel):
            conf: Server = Server()

        class B(BaseModel):
            conf: Database = Database()

        class Root(BaseModel):
            x: Union[A, B] = A()

        found = _scan(Root, tmp_path, "x:\n  conf: {host: h, url: u, zzz: 1}\n")
        assert found == [("x.conf.zzz", 2, 27, None)]


class TestInputRewriters:
    def test_before_model_validator_hides_its_model(self, tmp_path: Path) -> None:
        """A before model validator may rename keys (legacy names): nothing in that model is judged."""

        class Legacy(BaseModel):
            new_name: int = 0

            @model_validator(mode="before")
            @classmethod
            def _rename(cls, data: Any) -> Any:
                if isinstance(data, dict) and "old_name" in data:
                    data = {**data, "new_name": data.pop("old_name")}
                return data

        class Root(BaseModel):
            legacy: Legacy = Legacy()
            server: Server = Server()

        assert _scan(Root, tmp_path, "legacy: {old_name: 1}\nserver: {hots: h}\n") == [("server.hots", 2, 10, "host")]

    def test_after_model_validator_does_not(self, tmp_path: Path) -> None:
        """An after model validator sees validated data only: keys are still judged."""

        class Checked(BaseModel):
            a: int = 0

            @model_validator(mode="after")
            def _check(self) -> Checked:
                return self

        class Root(BaseModel):
            c: Checked = Checked()

        assert _scan(Root, tmp_path, "c: {aa: 1}\n") == [("c.aa", 1, 5, "a")]

    def test_before_field_validators_hide_their_field(self, tmp_path: Path) -> None:
        """A before/wrap field validator or BeforeValidator may rewrite a field's input: not judged below."""

        def unwrap(value: Any) -> Any:
            return value.get("inner", value) if isinstance(value, dict) else value

        class Root(BaseModel):
            a: Server = Server()
            b: Annotated[Server, BeforeValidator(unwrap)] = Server()
            c: Server = Server()

            @field_validator("a", mode="before")
            @classmethod
            def _a(cls, value: Any) -> Any:
                return unwrap(value)

        found = _scan(Root, tmp_path, "a: {inner: {}}\nb: {inner: {}}\nc: {inner: {}}\n")
        assert found == [("c.inner", 3, 5, None)]


class TestFormats:
    def test_toml_tables_dotted_keys_and_arrays_of_tables(self, tmp_path: Path) -> None:
        """TOML keys are located at the key, in tables, dotted keys and arrays of tables."""

        class Root(BaseModel):
            server: Server = Server()
            database: Database = Database()
            servers: list[Server] = []

        found = _scan(Root, tmp_path, """
            database.ulr = "x"

            [server]
            host = "h"
            requests_per_minuet = 300

            [[servers]]
            host = "a"

            [[servers]]
            hots = "b"
            """, fmt="toml")
        assert found == [
            ("database.ulr", 1, 1, "url"),
            ("server.requests_per_minuet", 5, 1, "requests_per_minute"),
            ("servers.1.hots", 11, 1, "host"),
        ]

    def test_json_points_at_the_key(self, tmp_path: Path) -> None:
        """JSON unknown keys are located at the key's opening quote."""
        found = _scan(Nested, tmp_path, """
            {
              "server": {"host": "h", "hots": 1},
              "database": {
                "ulr": "x"
              }
            }
            """, fmt="json")
        assert found == [("server.hots", 2, 27, "host"), ("database.ulr", 4, 5, "url")]


class TestLocateKey:
    def test_key_mode_points_at_scalar_keys(self) -> None:
        """locate(key=True) gives the key of a scalar; the default still gives the value."""
        raw = b"server:\n  port: 8080\n"
        assert locate("yaml", raw, ["server", "port"]) == (2, 9)
        assert locate("yaml", raw, ["server", "port"], key=True) == (2, 3)
        raw = b'{"a": {"b": 1}}'
        assert locate("json", raw, ["a", "b"]) == (1, 13)
        assert locate("json", raw, ["a", "b"], key=True) == (1, 8)

    def test_key_mode_on_list_items_points_at_the_item(self) -> None:
        """A list item has no key: key mode gives the item itself."""
        assert locate("yaml", b"a:\n  - 1\n  - 2\n", ["a", 1], key=True) == (3, 5)
        assert locate("json", b'{"a": [1, 2]}', ["a", 1], key=True) == (1, 11)


class TestFindUnknownInLoad:
    def test_every_file_source_is_checked_and_env_sources_are_not(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """YAML, TOML and JSON files are checked, each key attributed to its file; .env and env vars are not."""
        (tmp_path / "c.yaml").write_text("server:\n  hots: h\n")
        (tmp_path / "c.toml").write_text("[database]\nulr = 'x'\n")
        (tmp_path / "c.json").write_text('{"server": {"requests": 1}}')
        (tmp_path / ".env").write_text("APP_UNRELATED=1\nOTHER_TOOL=2\n")
        monkeypatch.setenv("APP_SERVER__HOTS", "x")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(
                yaml_file=str(tmp_path / "c.yaml"), toml_file=str(tmp_path / "c.toml"),
                json_file=str(tmp_path / "c.json"), env_file=str(tmp_path / ".env"),
                env_prefix="APP_", env_nested_delimiter="__", extra="ignore",
            )
            server: Server = Server()
            database: Database = Database()

        found = find_unknown_in_load(App.__snapshot__, _load(App))
        assert sorted(str(k) for k in found) == sorted([
            f"server.hots: unknown key (did you mean host?) ({tmp_path / 'c.yaml'}, line 2, column 3)",
            f"database.ulr: unknown key (did you mean url?) ({tmp_path / 'c.toml'}, line 2, column 1)",
            f"server.requests: unknown key ({tmp_path / 'c.json'}, line 1, column 13)",
        ])

    def test_several_yaml_files_are_each_attributed(self, tmp_path: Path) -> None:
        """With a list of YAML files each unknown key names the file it is in."""
        (tmp_path / "base.yaml").write_text("server:\n  hots: a\n")
        (tmp_path / "local.yaml").write_text("database:\n  pool: 1\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=[str(tmp_path / "base.yaml"), str(tmp_path / "local.yaml")])
            server: Server = Server()
            database: Database = Database()

        found = find_unknown_in_load(App, _load(App))
        assert [(k.path, k.source, k.line, k.column) for k in found] == [
            ("server.hots", str(tmp_path / "base.yaml"), 2, 3),
            ("database.pool", str(tmp_path / "local.yaml"), 2, 3),
        ]

    def test_yaml_config_section_is_honoured(self, tmp_path: Path) -> None:
        """Only the keys under yaml_config_section are checked, located in the whole file."""
        (tmp_path / "c.yaml").write_text("other_tool:\n  whatever: 1\napp:\n  settings:\n    server:\n      hots: h\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(tmp_path / "c.yaml"), yaml_config_section="app.settings")
            server: Server = Server()

        found = find_unknown_in_load(App, _load(App))
        assert [(k.path, k.line, k.column, k.suggestion) for k in found] == [("server.hots", 6, 7, "host")]

    def test_yaml_config_section_given_to_a_customised_source(self, tmp_path: Path) -> None:
        """A section passed to YamlConfigSettingsSource in settings_customise_sources is honoured too."""
        from pydantic_settings import PydanticBaseSettingsSource, YamlConfigSettingsSource

        (tmp_path / "c.yaml").write_text("app.v1:\n  server:\n    hots: h\n")

        class App(ReloadableSettings):
            server: Server = Server()

            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], *args: PydanticBaseSettingsSource
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (YamlConfigSettingsSource(settings_cls, str(tmp_path / "c.yaml"), yaml_config_section="app.v1"),)

        ctx = _load(App)
        assert [r.section for r in ctx.records if r.label == "yaml"] == ["app.v1"]
        found = find_unknown_in_load(App, ctx)
        assert [(k.path, k.line, k.column) for k in found] == [("server.hots", 3, 5)]

    def test_missing_files_and_clean_files_report_nothing(self, tmp_path: Path) -> None:
        """A configured file that does not exist, or holds only known keys, adds nothing."""
        (tmp_path / "c.yaml").write_text("server:\n  host: h\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(tmp_path / "c.yaml"), toml_file=str(tmp_path / "no.toml"))
            server: Server = Server()

        assert find_unknown_in_load(App, _load(App)) == ()


class TestCheckPath:
    def test_fields_nested_fields_and_everything(self) -> None:
        """Field paths at any depth, and "" (everything), are accepted."""
        for path in ("", "port", "server", "server.host", "database.pool_size", ".server."):
            check_path(AppSettings, path)

    def test_unknown_top_level_field_names_the_closest(self) -> None:
        """A misspelt top-level field raises ValueError naming the closest field."""
        with pytest.raises(ValueError, match=r"^no field 'databse' in AppSettings \(did you mean 'database'\?\)$"):
            check_path(AppSettings, "databse")

    def test_unknown_nested_field_names_model_and_place(self) -> None:
        """A misspelt nested field names its model and where it sits."""
        with pytest.raises(ValueError, match=r"^no field 'pool_sise' in Database at 'database' \(did you mean 'pool_size'\?\)$"):
            check_path(AppSettings, "database.pool_sise")

    def test_no_suggestion_when_nothing_is_close(self) -> None:
        """Without a close field the message has no suggestion."""
        with pytest.raises(ValueError, match=r"^no field 'zzz' in AppSettings$"):
            check_path(AppSettings, "zzz")

    def test_below_a_scalar_is_rejected(self) -> None:
        """A path below a scalar field can never match."""
        with pytest.raises(ValueError, match="'port'"):
            check_path(AppSettings, "port.x")

    def test_reloadable_settings_class_shows_its_own_name(self) -> None:
        """Given a ReloadableSettings class (or its snapshot), the message names the user's class."""

        class MyApp(ReloadableSettings):
            database: Database = Database()

        for cls in (MyApp, MyApp.__snapshot__):
            with pytest.raises(ValueError, match=r"^no field 'databse' in MyApp \(did you mean 'database'\?\)$"):
                check_path(cls, "databse")

    def test_free_form_places_accept_any_key_or_index(self) -> None:
        """Below dict, list, Any and extra="allow" any key or index is fine; models inside are still checked."""

        class Open(BaseModel):
            model_config = ConfigDict(extra="allow")

        class Root(BaseModel):
            dbs: dict[str, Database] = {}
            servers: list[Server] = []
            blob: Any = None
            raw: dict = {}  # type: ignore[type-arg]
            open: Open = Open()

        for path in ("dbs.primary", "dbs.primary.url", "servers.0", "servers.-1.host", "blob.a.b.c", "raw.x.y", "open.x.y"):
            check_path(Root, path)
        with pytest.raises(ValueError, match=r"^no field 'ulr' in Database at 'dbs.primary' \(did you mean 'url'\?\)$"):
            check_path(Root, "dbs.primary.ulr")
        with pytest.raises(ValueError, match="not a list index"):
            check_path(Root, "servers.first")

    def test_aliases_and_unions(self) -> None:
        """Aliases are accepted, and a union accepts what any member accepts."""

        class M(BaseModel):
            rpm: int = Field(0, alias="requestsPerMinute")
            a: int = Field(0, validation_alias=AliasChoices("alpha", AliasPath("legacy", 0)))

        class Root(BaseModel):
            m: M = M()
            pet: Union[Cat, Dog] = Cat()
            maybe: Optional[Server] = None

        for path in ("m.rpm", "m.requestsPerMinute", "m.alpha", "m.legacy", "pet.meows", "pet.barks", "maybe.host"):
            check_path(Root, path)
        with pytest.raises(ValueError, match=r"no field 'wings' in (Cat|Dog) at 'pet'"):
            check_path(Root, "pet.wings")

    def test_recursive_models(self) -> None:
        """Paths through a recursive model are checked level by level."""
        check_path(Tree, "children.0.children.3.name")
        with pytest.raises(ValueError, match=r"no field 'nmae' in Tree at 'children.0' \(did you mean 'name'\?\)"):
            check_path(Tree, "children.0.nmae")

    def test_results_are_cached_per_class(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A path checked once is not analysed again (registering thousands of handlers stays cheap)."""
        from livesettings import _unknown

        class Fresh(BaseModel):
            a: Server = Server()

        check_path(Fresh, "a.host")
        monkeypatch.setattr(_unknown, "_check_parts", lambda *a: pytest.fail("analysed again"))
        for _ in range(1000):
            check_path(Fresh, "a.host")

    def test_rejections_are_not_cached_as_accepted(self) -> None:
        """A rejected path keeps being rejected."""
        for _ in range(2):
            with pytest.raises(ValueError):
                check_path(AppSettings, "servr")

    def test_aliases_false_accepts_field_names_only(self) -> None:
        """override() writes by field name: with aliases=False an alias is rejected, naming the field."""

        class M(BaseModel):
            rpm: int = Field(0, alias="requestsPerMinute")

        class Root(BaseModel):
            m: M = M()

        check_path(Root, "m.requestsPerMinute")
        check_path(Root, "m.rpm", aliases=False)
        with pytest.raises(ValueError, match=r"^no field 'requestsPerMinute' in M at 'm'$"):
            check_path(Root, "m.requestsPerMinute", aliases=False)

    def test_paths_follow_what_the_snapshot_holds(self) -> None:
        """Before validators still yield the declared type, Json[Model] holds the model; wrap/plain validators may hold anything."""

        def unwrap(value: Any) -> Any:
            return value

        class Legacy(BaseModel):
            a: int = 0

            @model_validator(mode="before")
            @classmethod
            def _rename(cls, data: Any) -> Any:
                return data

        class Root(BaseModel):
            legacy: Legacy = Legacy()
            before: Annotated[Server, BeforeValidator(unwrap)] = Server()
            blob: Json[Server] = Server()  # type: ignore[assignment]
            plain: Server = Server()

            @field_validator("plain", mode="plain")
            @classmethod
            def _plain(cls, value: Any) -> Any:
                return value

        check_path(Root, "plain.anything.below")
        check_path(Root, "blob.host")
        for path, bad in (("legacy.b", "'b' in Legacy"), ("before.hots", "'hots' in Server"), ("blob.hots", "'hots' in Server")):
            with pytest.raises(ValueError, match=bad):
                check_path(Root, path)


class TestLocationBound:
    def test_only_the_first_keys_of_a_file_are_located(self, tmp_path: Path) -> None:
        """Locating re-reads the file per key, so past MAX_LOCATED keys are reported without a position."""
        from livesettings._unknown import MAX_LOCATED

        text = "server:\n" + "".join(f"  k{i}: 1\n" for i in range(MAX_LOCATED + 2))
        found = _scan(Nested, tmp_path, text)
        assert len(found) == MAX_LOCATED + 2
        assert found[MAX_LOCATED - 1][:3] == (f"server.k{MAX_LOCATED - 1}", MAX_LOCATED + 1, 3)
        assert [f[1:3] for f in found[MAX_LOCATED:]] == [(None, None), (None, None)]
