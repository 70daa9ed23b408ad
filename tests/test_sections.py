"""Unchanged sections are not re-validated, and a reload still equals a cold start.

The fast path (``_sections``) reuses the last validated instance of a top-level section whose
merged input did not change. These tests pin down when it applies (each kind of validator) and
prove, with generated edits, that whatever it reuses, the result is what a cold start builds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from livesettings import ReloadableSettings, ReloadConfig
from livesettings._packed import PACK_FROM, Packed
from livesettings._sections import eligible
from strategies import strict


class Plain(BaseModel):
    a: Any = None
    b: int | float | bool | str = 0
    c: list[Any] = []


class Inner(BaseModel):
    x: int = 0


class WithAfter(BaseModel):
    x: int = 0
    inner: Inner = Inner()
    calls: int = 0

    @field_validator("x")
    @classmethod
    def double(cls, v: int) -> int:
        return v * 2

    @model_validator(mode="after")
    def check(self) -> WithAfter:
        if self.x < 0:
            raise ValueError("x must not be negative")
        return self


class WithBefore(BaseModel):
    x: int = 0

    @field_validator("x", mode="before")
    @classmethod
    def plus_one(cls, v: Any) -> Any:
        return int(v) + 1


class WithWrap(BaseModel):
    x: int = 0

    @model_validator(mode="wrap")
    @classmethod
    def wrapped(cls, data: Any, handler: Any) -> Any:
        return handler(data)


class Always(BaseModel):
    model_config = ConfigDict(revalidate_instances="always")
    x: int = 0


def _up(v: Any) -> Any:
    return {k: str(val).upper() if isinstance(val, str) else val for k, val in v.items()} if isinstance(v, dict) else v


def _app(path: Path, *, root_before: bool = False) -> type[ReloadableSettings]:
    files = SettingsConfigDict(yaml_file=str(path)) if path.suffix == ".yaml" else SettingsConfigDict(json_file=str(path))

    class App(ReloadableSettings):
        model_config = files
        reload_config = ReloadConfig(enabled=False)
        pad: str = ""
        plain: Plain = Plain()
        after: WithAfter = WithAfter()
        before: WithBefore = WithBefore()
        wrap: WithWrap = WithWrap()
        always: Always = Always()
        annotated: Annotated[Plain, BeforeValidator(_up)] = Plain()
        guarded: Plain = Plain()
        maybe: Plain | None = None
        n: int = 0

        @field_validator("guarded", mode="before")
        @classmethod
        def guard(cls, v: Any) -> Any:
            return v

        @model_validator(mode="after")
        def consistent(self) -> Any:
            if self.n < 0:
                raise ValueError("n must not be negative")
            return self

    if root_before:

        class RootBefore(App):
            @model_validator(mode="before")
            @classmethod
            def everything(cls, data: Any) -> Any:
                return data

        return RootBefore
    return App


SECTIONS = ("plain", "after", "before", "wrap", "always", "annotated", "guarded", "maybe")


class TestEligibility:
    def test_which_sections_may_be_reused(self, tmp_path: Path) -> None:
        """Only plain model fields with no before/wrap/plain validators on or in them qualify."""
        App = _app(tmp_path / "c.json")
        assert eligible(App.__snapshot__) == {"plain", "after"}  # type: ignore[attr-defined]

    def test_a_root_before_validator_disables_reuse(self, tmp_path: Path) -> None:
        """A ``mode="before"`` model validator on the settings class sees the input: full path."""
        App = _app(tmp_path / "c.json", root_before=True)
        assert eligible(App.__snapshot__) == frozenset()  # type: ignore[attr-defined]


# A YAML file (c.yaml) is padded past PACK_FROM: its reusable sections are then kept packed
# between loads (see _packed), and every test here runs on both paths.
FILES = pytest.mark.parametrize("name", ["c.json", "c.yaml"])


def _write(path: Path, doc: dict[str, Any]) -> None:
    if path.suffix == ".yaml":
        path.write_text(yaml.safe_dump({**doc, "pad": "x" * PACK_FROM}, sort_keys=False))
    else:
        path.write_text(json.dumps(doc))


def _kept_parse(s: Any, path: Path) -> dict[str, Any]:
    """What the settings object's file reader keeps of ``path``'s last parse."""
    return s._ls_engine.loader.reader._parsed[(path.resolve(), "yaml")][1]  # type: ignore[no-any-return]


class TestReuse:
    @FILES
    def test_unchanged_sections_are_shared_and_changed_ones_new(self, tmp_path: Path, name: str) -> None:
        """Editing one section re-validates it alone; the other reusable one is the same object."""
        path = tmp_path / name
        _write(path, {"plain": {"a": 1}, "after": {"x": 1}})
        with _app(path)() as s:
            before = s.snapshot()
            _write(path, {"plain": {"a": 2}, "after": {"x": 1}})
            v = s.reload()
            assert v is not None and [c.path for c in v.changes] == ["plain.a"]
            after = s.snapshot()
            assert after.after is before.after and after.plain is not before.plain
            assert (after.after.x, after.plain.a) == (2, 2)
            assert s._ls_engine.loader.sections.reused == 1
            if name.endswith(".yaml"):  # the kept parse holds the reusable sections packed, the rest live
                kept = _kept_parse(s, path)
                assert type(kept["plain"]) is Packed and type(kept["after"]) is Packed
                assert kept["plain"].open() == {"a": 2} and type(kept["pad"]) is str

    @pytest.mark.parametrize(("old", "new"), [(1, True), (1, 1.0), (True, 1), (0, False), ("1", 1)])
    @FILES
    def test_equal_but_different_types_are_a_change(self, tmp_path: Path, name: str, old: Any, new: Any) -> None:
        """``1``, ``1.0`` and ``True`` are equal in Python and not the same input."""
        path = tmp_path / name
        _write(path, {"plain": {"b": old}, "n": 0})
        with _app(path)() as s:
            _write(path, {"plain": {"b": new}, "n": 1})
            s.reload()
            assert type(s.plain.b) is type(new) and s.plain.b == new

    @FILES
    def test_a_failed_load_keeps_the_last_good_sections(self, tmp_path: Path, name: str) -> None:
        """A rejected candidate does not become the reference: the next good one compares to the last good."""
        path = tmp_path / name
        _write(path, {"plain": {"a": 1}, "after": {"x": 1}})
        with _app(path)() as s:
            _write(path, {"plain": {"a": 1}, "after": {"x": -1}})
            with pytest.raises(Exception, match="x must not be negative"):
                s.reload()
            _write(path, {"plain": {"a": 1}, "after": {"x": 3}})
            s.reload()
            assert s.after.x == 6 and s.plain.a == 1


@st.composite
def _docs(draw: st.DrawFn) -> dict[str, Any]:
    scalar = st.one_of(st.integers(-3, 3), st.sampled_from([0.0, 1.0, 2.5]), st.booleans(), st.sampled_from(["1", "a", ""]))
    doc: dict[str, Any] = {}
    for name in SECTIONS:
        if draw(st.booleans()):
            if name in ("plain", "annotated", "guarded", "maybe"):
                doc[name] = draw(st.fixed_dictionaries({}, optional={
                    "a": st.one_of(scalar, st.lists(scalar, max_size=2), st.dictionaries(st.sampled_from("pq"), scalar, max_size=2)),
                    "b": scalar,
                    "c": st.lists(scalar, max_size=3),
                }))  # fmt: skip
            elif name == "after":
                doc[name] = draw(st.fixed_dictionaries({}, optional={
                    "x": st.integers(0, 3), "inner": st.fixed_dictionaries({"x": st.integers(0, 2)}),
                }))  # fmt: skip
            else:
                doc[name] = draw(st.fixed_dictionaries({}, optional={"x": st.integers(0, 3)}))
    doc["n"] = draw(st.integers(0, 2))
    return doc


@FILES
@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seq=st.lists(_docs(), min_size=2, max_size=5), root_before=st.booleans())
def test_reload_equals_cold_start_with_every_kind_of_validator(
    tmp_path: Path, name: str, seq: list[dict[str, Any]], root_before: bool
) -> None:
    """After each reload of a generated edit, the snapshot equals a cold start on the same file,
    values and types, whichever sections the fast path reused."""
    path = tmp_path / name
    _write(path, seq[0])
    App = _app(path, root_before=root_before)
    with App() as s:
        for doc in seq[1:]:
            _write(path, doc)
            s.reload()
            with App() as cold:
                assert s.snapshot() == cold.snapshot()
                assert strict(s.snapshot().model_dump()) == strict(cold.snapshot().model_dump())
