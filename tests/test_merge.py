"""Merge strategies for several files of one source: per source, per class, per field; reloads and provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from livesettings import Merge, ReloadableSettings, ReloadConfig, ReloadError
from livesettings.sources import JsonSource, TomlSource, YamlSource
from strategies import configs, strict

FILES = settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

BASE = {"hosts": ["a", "b"], "db": {"host": "h1", "port": 1, "tags": ["x"]}}
PROD = {"hosts": ["c"], "db": {"host": "h2", "tags": ["y"]}}


class Db(BaseModel):
    host: str = ""
    port: int = 0
    tags: list[str] = []


def _write(tmp_path: Path, **docs: Any) -> list[str]:
    out = []
    for name, doc in docs.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False, default_flow_style=None))
        out.append(str(path))
    return out


def _app(files: list[str], merge: Any = None) -> type[ReloadableSettings]:
    class App(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=files)
        reload_config = ReloadConfig(enabled=False, merge=merge)
        hosts: list[str] = []
        db: Db = Db()

    return App


EXPECTED = {
    None: {"hosts": ["c"], "db": {"host": "h2", "port": 0, "tags": ["y"]}},
    "replace": {"hosts": ["c"], "db": {"host": "h2", "port": 0, "tags": ["y"]}},
    "deep": {"hosts": ["c"], "db": {"host": "h2", "port": 1, "tags": ["y"]}},
    "append": {"hosts": ["a", "b", "c"], "db": {"host": "h2", "port": 1, "tags": ["x", "y"]}},
}


class TestStrategies:
    """Each strategy, chosen for the class, for one source, or for one field."""

    @pytest.mark.parametrize("merge", list(EXPECTED))
    def test_reload_config_default(self, tmp_path: Path, merge: Any) -> None:
        """``ReloadConfig(merge=)`` sets how the files of ``yaml_file`` combine; unset is pydantic-settings' rule."""
        files = _write(tmp_path, base=BASE, prod=PROD)
        with _app(files, merge)() as s:
            assert s.model_dump() == EXPECTED[merge]

    def test_unset_is_exactly_pydantic_settings(self, tmp_path: Path) -> None:
        """Without any strategy asked for, a plain pydantic-settings class reads the same values."""
        files = _write(tmp_path, base=BASE, prod=PROD)

        class Plain(BaseSettings):
            model_config = SettingsConfigDict(yaml_file=files)
            hosts: list[str] = []
            db: Db = Db()

            @classmethod
            def settings_customise_sources(cls, settings_cls: type[BaseSettings], *args: Any, **kw: Any) -> Any:
                return (YamlConfigSettingsSource(settings_cls),)

        with _app(files)() as s:
            assert s.model_dump() == Plain().model_dump()

    @pytest.mark.parametrize("merge", ["deep", "replace", "append"])
    def test_per_source(self, tmp_path: Path, merge: Any) -> None:
        """``YamlSource(..., merge=)`` in ``settings_customise_sources`` wins over the class default."""
        files = _write(tmp_path, base=BASE, prod=PROD)

        class App(ReloadableSettings):
            reload_config = ReloadConfig(enabled=False, merge="replace" if merge != "replace" else "append")
            hosts: list[str] = []
            db: Db = Db()

            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (YamlSource(settings_cls, files, merge=merge),)

        with App() as s:
            assert s.model_dump() == EXPECTED[merge]

    def test_stock_deep_merge_is_kept(self, tmp_path: Path) -> None:
        """pydantic-settings' own source with ``deep_merge=True`` still deep-merges, markers applied on top."""
        files = _write(tmp_path, base=BASE, prod=PROD)

        class App(ReloadableSettings):
            reload_config = ReloadConfig(enabled=False)
            hosts: Annotated[list[str], Merge("append")] = []
            db: Db = Db()

            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (YamlConfigSettingsSource(settings_cls, files, deep_merge=True),)

        with App() as s:
            assert s.model_dump() == {"hosts": ["a", "b", "c"], "db": {"host": "h2", "port": 1, "tags": ["y"]}}

    def test_per_field_markers(self, tmp_path: Path) -> None:
        """Markers override the source's strategy at their field; a section holding one merges key by key."""

        class MarkedDb(BaseModel):
            host: str = ""
            port: int = 0
            tags: Annotated[list[str], Merge("append")] = []

        files = _write(
            tmp_path,
            base={**BASE, "labels": {"a": 1}, "extra": {"k": [1]}},
            prod={**PROD, "labels": {"b": 2}, "extra": {"k": [2]}},
        )

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=files)
            reload_config = ReloadConfig(enabled=False, merge="deep")
            hosts: Annotated[list[str], Merge("append")] = []
            db: MarkedDb = MarkedDb()
            labels: Annotated[dict[str, int], Merge("replace")] = {}
            extra: dict[str, list[int]] = {}

        with App() as s:
            assert s.model_dump() == {
                "hosts": ["a", "b", "c"],
                "db": {"host": "h2", "port": 1, "tags": ["x", "y"]},  # replace above, marker below: key by key
                "labels": {"b": 2},
                "extra": {"k": [2]},
            }

    def test_marker_under_replace_source(self, tmp_path: Path) -> None:
        """Under the default top-level replace, a marked nested field still appends."""

        class MarkedDb(BaseModel):
            host: str = ""
            port: int = 0
            tags: Annotated[list[str], Merge("append")] = []

        files = _write(tmp_path, base=BASE, prod=PROD)

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=files)
            reload_config = ReloadConfig(enabled=False)
            hosts: list[str] = []
            db: MarkedDb = MarkedDb()

        with App() as s:
            assert s.model_dump() == {"hosts": ["c"], "db": {"host": "h2", "port": 1, "tags": ["x", "y"]}}

    def test_toml_and_json_sources(self, tmp_path: Path) -> None:
        """The TOML and JSON sources take ``merge=`` too."""
        (tmp_path / "a.toml").write_text('hosts = ["a"]\n')
        (tmp_path / "b.toml").write_text('hosts = ["b"]\n')
        (tmp_path / "a.json").write_text(json.dumps({"hosts": ["c"]}))
        (tmp_path / "b.json").write_text(json.dumps({"hosts": ["d"]}))

        class App(ReloadableSettings):
            reload_config = ReloadConfig(enabled=False)
            hosts: list[str] = []
            more: list[str] = []

            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                toml = TomlSource(settings_cls, [tmp_path / "a.toml", tmp_path / "b.toml"], merge="append")
                js = JsonSource(settings_cls, [tmp_path / "a.json", tmp_path / "b.json"], merge="append")
                return (toml, js)

        with App() as s:
            assert s.hosts == ["a", "b"]  # the TOML source is higher: between sources, priority wins

    def test_bad_strategy_names(self) -> None:
        """An unknown strategy is a ``ValueError`` listing the valid ones, wherever it is given."""
        with pytest.raises(ValueError, match="'deep', 'replace', 'append'"):
            Merge("concat")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="merge must be"):
            ReloadConfig(merge="concat")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"YamlSource\(merge=\)"):
            YamlSource(BaseSettings, [], merge="concat")  # type: ignore[arg-type]
        assert repr(Merge("append")) == "Merge('append')"
        assert Merge("deep") == Merge("deep") != Merge("append")


class TestProvenanceAndErrors:
    """``explain`` and validation errors name the right file and line for merged values."""

    def test_explain_merged_and_appended(self, tmp_path: Path) -> None:
        """A deep-merged leaf names the file it came from; an appended list names every file's part."""
        files = _write(tmp_path, base=BASE, prod=PROD)
        with _app(files, "append")() as s:
            port = s.explain("db.port")
            assert (Path(port.file or "").name, port.line) == ("base.yaml", 4)
            host = s.explain("db.host")
            assert (Path(host.file or "").name, host.line) == ("prod.yaml", 3)
            hosts = s.explain("hosts")
            assert Path(hosts.file or "").name == "prod.yaml"
            assert [(Path(o.file or "").name, o.line, o.value) for o in hosts.appended] == [
                ("base.yaml", 1, "['a', 'b']"),
                ("prod.yaml", 1, "['c']"),
            ]
            assert "appended: " in str(hosts)
            assert s.explain("db.tags").appended[0].line == 5

    def test_replaced_list_is_not_appended(self, tmp_path: Path) -> None:
        """Under ``deep`` a list from the later file wins whole and names only that file."""
        files = _write(tmp_path, base=BASE, prod=PROD)
        with _app(files, "deep")() as s:
            hosts = s.explain("hosts")
            assert hosts.appended == ()
            assert Path(hosts.file or "").name == "prod.yaml"

    def test_error_in_an_appended_item_names_its_file(self, tmp_path: Path) -> None:
        """A bad item of an appended list is reported at its own file and line, on start and on reload."""
        a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
        a.write_text("ports: [1, 2]\n")
        b.write_text("ports:\n  - 3\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=[str(a), str(b)])
            reload_config = ReloadConfig(enabled=False)
            ports: Annotated[list[int], Merge("append")] = []

        with App() as s:
            assert s.ports == [1, 2, 3]
            b.write_text("ports:\n  - 3\n  - x\n")
            with pytest.raises(ReloadError) as info:
                s.reload()
            assert "b.yaml, line 3" in str(info.value)
            assert s.ports == [1, 2, 3]
            a.write_text("ports: [oops, 2]\n")
            b.write_text("ports:\n  - 3\n")
            with pytest.raises(ReloadError) as info:
                s.reload()
            assert "ports.0" in str(info.value) and "a.yaml, line 1" in str(info.value)


class TestReloadEqualsColdStart:
    """Editing one of several files and reloading gives what a fresh start on the same files gives."""

    def test_reload_without_changes_does_not_grow_lists(self, tmp_path: Path) -> None:
        """Appending never mutates the cached parses: reloads of unchanged files change nothing."""
        files = _write(tmp_path, base=BASE, prod=PROD)
        with _app(files, "append")() as s:
            Path(files[0]).write_text(yaml.safe_dump({**BASE, "hosts": ["a"]}))
            assert s.reload() is not None
            assert s.hosts == ["a", "c"]
            assert s.reload() is None
            Path(files[1]).write_text(yaml.safe_dump({**PROD, "hosts": ["d"]}))
            s.reload()
            assert s.hosts == ["a", "d"]

    @FILES
    @pytest.mark.parametrize("merge", ["deep", "replace", "append", "field"])
    @given(start=st.lists(configs(), min_size=3, max_size=3), edit=configs(), which=st.integers(0, 2))
    def test_reload_equals_cold_start(
        self, tmp_path: Path, merge: str, start: list[dict[str, Any]], edit: dict[str, Any], which: int
    ) -> None:
        """For every strategy: edit one of three files, reload, and compare with a cold start."""
        paths = [tmp_path / f"{i}.yaml" for i in range(3)]
        for path, doc in zip(paths, start):
            path.write_text(yaml.safe_dump({"tree": doc}))

        if merge == "field":

            class App(ReloadableSettings):
                model_config = SettingsConfigDict(yaml_file=[str(p) for p in paths])
                reload_config = ReloadConfig(enabled=False, max_versions=50)
                tree: Annotated[dict[str, Any], Merge("append")] = {}

        else:

            class App(ReloadableSettings):  # type: ignore[no-redef]
                model_config = SettingsConfigDict(yaml_file=[str(p) for p in paths])
                reload_config = ReloadConfig(enabled=False, max_versions=50, merge=merge)  # type: ignore[arg-type]
                tree: dict[str, Any] = {}

        with App() as s:
            paths[which].write_text(yaml.safe_dump({"tree": edit}))
            s.reload()
            with App() as cold:
                assert strict(s.snapshot().model_dump()) == strict(cold.snapshot().model_dump())
            docs = [{"tree": d} for d in start]
            docs[which] = {"tree": edit}
            expected: dict[str, Any] = {}
            for doc in docs:
                expected = _oracle(expected, doc, "append" if merge == "field" else merge, top=True)
            assert strict(s.snapshot().model_dump()) == strict({"tree": expected.get("tree", {})})


def _oracle(old: Any, new: Any, strategy: str, top: bool = False) -> Any:
    """The strategies written out naively (``field``: the one field is marked ``append``)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        if strategy == "append" and isinstance(old, list) and isinstance(new, list):
            return [*old, *new]
        return new
    if strategy == "replace" and not top:
        return new
    out = dict(old)
    for key, value in new.items():
        out[key] = _oracle(out[key], value, strategy) if key in out else value
    return out
