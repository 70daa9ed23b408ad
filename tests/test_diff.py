"""Tests for livesettings._model and livesettings._diff: Change, Diff, the diff walk, subtree sharing, masking in reprs."""

from __future__ import annotations

import copy
import gc
import json
import logging
import math
import pickle
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic_settings import SettingsConfigDict

from livesettings import (
    Change,
    ChangeType,
    ConfigChange,
    Diff,
    ReloadableSettings,
    ReloadConfig,
    ReloadError,
)
from livesettings.components import detect_changes
from livesettings._diff import diff_snapshots
from livesettings._paths import resolve
from livesettings._redact import fingerprint, safe_repr

OFF = ReloadConfig(enabled=False)


class Section(BaseModel):
    value: int = 0
    name: str = "x"


class Credentials(BaseModel):
    user: str = "admin"
    password: str = "plain-text-pw"
    token: SecretStr = SecretStr("")


class TestChange:
    """``Change`` values."""

    def test_fields_and_equality(self) -> None:
        """A Change holds path, type, old and new value and compares by value."""
        c = Change("a.b", ChangeType.MODIFY, 1, 2)
        assert (c.path, c.type, c.old_value, c.new_value) == ("a.b", ChangeType.MODIFY, 1, 2)
        assert c == Change("a.b", ChangeType.MODIFY, 1, 2)
        assert c != Change("a.b", ChangeType.MODIFY, 1, 3)

    def test_is_immutable(self) -> None:
        """A Change cannot be modified after creation."""
        c = Change("a", ChangeType.ADD, None, 1)
        with pytest.raises(AttributeError):
            c.path = "b"  # type: ignore[misc]

    def test_change_type_values(self) -> None:
        """ChangeType members are strings usable in logs and JSON."""
        assert [t.value for t in ChangeType] == ["add", "modify", "delete"]
        assert ChangeType.ADD == "add"

    def test_config_change_is_an_alias(self) -> None:
        """``ConfigChange`` is the design brief's name for ``Change``."""
        assert ConfigChange is Change

    def test_describe(self) -> None:
        """describe() renders one readable line per change type."""
        assert Change("p", ChangeType.MODIFY, 5, 10).describe() == "p: 5 -> 10"
        assert Change("p", ChangeType.ADD, None, 1).describe() == "p: added 1"
        assert Change("p", ChangeType.DELETE, 1, None).describe() == "p: removed (was 1)"

    def test_repr_round_trips_plain_values(self) -> None:
        """The repr of a non-secret change shows path, type and both values."""
        assert repr(Change("a.b", ChangeType.MODIFY, 1, "x")) == "Change('a.b', ChangeType.MODIFY, 1, 'x')"

    def test_pickles(self) -> None:
        """A Change survives pickling (for history files and multiprocessing)."""
        c = Change("a.b", ChangeType.ADD, None, [1, 2])
        assert pickle.loads(pickle.dumps(c)) == c

    def test_long_values_are_cut(self) -> None:
        """A huge value does not produce a huge repr."""
        c = Change("blob", ChangeType.MODIFY, "a" * 10_000, "b" * 10_000)
        assert len(repr(c)) < 600


class TestDetectChanges:
    """The diff walk on plain dicts and models."""

    def test_add_modify_delete_with_dotted_paths(self) -> None:
        """Leaf changes carry dotted paths and the right type."""
        old = {"db": {"host": "a", "port": 1}, "gone": 1}
        new = {"db": {"host": "b", "port": 1, "user": "u"}}
        assert sorted(detect_changes(old, new), key=lambda c: c.path) == [
            Change("db.host", ChangeType.MODIFY, "a", "b"),
            Change("db.user", ChangeType.ADD, None, "u"),
            Change("gone", ChangeType.DELETE, 1, None),
        ]

    def test_section_appearing_is_reported_leaf_by_leaf(self) -> None:
        """Adding ``test: {value: 42}`` is one ADD for ``test.value``."""
        assert detect_changes({}, {"test": {"value": 42}}) == [Change("test.value", ChangeType.ADD, None, 42)]

    def test_section_disappearing_is_reported_leaf_by_leaf(self) -> None:
        """Removing a nested section reports every leaf under it as deleted."""
        changes = detect_changes({"a": {"b": {"c": 1, "d": 2}}}, {})
        assert sorted(changes, key=lambda c: c.path) == [
            Change("a.b.c", ChangeType.DELETE, 1, None),
            Change("a.b.d", ChangeType.DELETE, 2, None),
        ]

    def test_optional_model_section_appearing_and_disappearing(self) -> None:
        """An Optional model going from None to a value (and back) is reported per leaf."""

        class Root(BaseModel):
            test: Section | None = None

        on = Root(test=Section(value=42, name="n"))
        assert detect_changes(Root(), on) == [
            Change("test.value", ChangeType.ADD, None, 42),
            Change("test.name", ChangeType.ADD, None, "n"),
        ]
        assert detect_changes(on, Root()) == [
            Change("test.value", ChangeType.DELETE, 42, None),
            Change("test.name", ChangeType.DELETE, "n", None),
        ]

    def test_lists_are_compared_as_values(self) -> None:
        """A list that changes is one MODIFY of the whole list; an equal list is no change."""
        assert detect_changes({"l": [1, 2]}, {"l": [1, 2]}) == []
        assert detect_changes({"l": [1, 2]}, {"l": [1, 3]}) == [
            Change("l", ChangeType.MODIFY, [1, 2], [1, 3])
        ]

    def test_list_element_types_matter(self) -> None:
        """``[1]`` becoming ``[true]`` or ``[1.0]`` is a change, as it is for a scalar leaf."""
        assert [c.path for c in detect_changes({"l": [1]}, {"l": [True]})] == ["l"]
        assert [c.path for c in detect_changes({"l": [1, 2]}, {"l": [1.0, 2]})] == ["l"]
        assert [c.path for c in detect_changes({"l": [{"a": 1}]}, {"l": [{"a": 1.0}]})] == ["l"]
        assert detect_changes({"l": [[1, "x"]]}, {"l": [[1, "x"]]}) == []

    def test_type_change_of_a_leaf_is_a_modify(self) -> None:
        """``1`` becoming ``1.0`` or ``True`` is reported even though they compare equal."""
        assert detect_changes({"v": 1}, {"v": 1.0}) == [Change("v", ChangeType.MODIFY, 1, 1.0)]
        assert detect_changes({"v": 1}, {"v": True}) == [Change("v", ChangeType.MODIFY, 1, True)]

    def test_leaf_becoming_a_section(self) -> None:
        """A scalar replaced by a mapping is one MODIFY at that path."""
        assert detect_changes({"v": "x"}, {"v": {"a": 1}}) == [Change("v", ChangeType.MODIFY, "x", {"a": 1})]

    def test_empty_section_is_a_leaf(self) -> None:
        """An empty mapping that appears is reported at its own path."""
        assert detect_changes({}, {"s": {}}) == [Change("s", ChangeType.ADD, None, {})]

    def test_identical_content_is_no_change(self) -> None:
        """Equal but distinct trees produce no changes."""
        tree = {"a": {"b": [1, {"c": 2}], "d": "x"}, "e": 1.5}
        assert detect_changes(tree, copy.deepcopy(tree)) == []

    def test_unchanged_nan_is_no_change(self) -> None:
        """A NaN leaf that did not change is not reported (``nan != nan`` notwithstanding)."""
        old = {"x": float("nan"), "y": [float("nan")], "z": {"w": float("nan")}}
        new = {"x": float("nan"), "y": [float("nan")], "z": {"w": float("nan")}}
        assert detect_changes(old, new) == []
        assert [c.path for c in detect_changes({"x": math.nan}, {"x": 1.0})] == ["x"]

    def test_inputs_are_not_modified(self) -> None:
        """detect_changes never shares subtrees into its arguments."""
        old = {"a": {"x": 1}, "b": {"y": 2}}
        new = {"a": {"x": 1}, "b": {"y": 3}}
        new_a = new["a"]
        detect_changes(old, new)
        assert new["a"] is new_a

    def test_models_with_extras(self) -> None:
        """Extra keys of a model with ``extra="allow"`` are walked like fields."""

        class Loose(BaseModel, extra="allow"):
            known: int = 0

        changes = detect_changes(Loose(known=1, more={"a": 1}), Loose(known=1, more={"a": 2}))
        assert changes == [Change("more.a", ChangeType.MODIFY, 1, 2)]

    def test_exotic_eq_does_not_break_the_walk(self) -> None:
        """A leaf whose ``__eq__`` raises is treated as changed instead of failing."""

        class Weird:
            def __eq__(self, other: object) -> bool:
                raise RuntimeError("no")

            __hash__ = object.__hash__

        a, b = Weird(), Weird()
        assert [c.path for c in detect_changes({"w": a}, {"w": b})] == ["w"]


class TestResolve:
    """``resolve``: dotted path lookups in snapshots."""

    def test_models_dicts_and_list_indices(self) -> None:
        """resolve walks models, dicts and list indices and returns None when absent."""

        class Root(BaseModel):
            s: Section = Section(value=3)
            d: dict[str, Any] = {"k": [10, {"z": 1}]}

        root = Root()
        assert resolve(root, "") is root
        assert resolve(root, "s.value") == 3
        assert resolve(root, "d.k.1.z") == 1
        assert resolve(root, "d.k.-1.z") == 1
        assert resolve(root, "d.k.5") is None
        assert resolve(root, "nope.deeper") is None


class TestSubtreeSharing:
    """``diff_snapshots(share=True)`` makes the new tree reuse unchanged old subtrees."""

    def test_unchanged_children_are_the_old_objects(self) -> None:
        """After the walk, unchanged sections of the new tree are the old objects."""
        old = {"a": {"x": 1}, "b": {"y": [1, 2]}, "c": {"z": 1}}
        new = {"a": {"x": 1}, "b": {"y": [1, 2]}, "c": {"z": 2}}
        changes = diff_snapshots(old, new)
        assert changes == (Change("c.z", ChangeType.MODIFY, 1, 2),)
        assert new["a"] is old["a"]
        assert new["b"] is old["b"]
        assert new["c"] is not old["c"]
        assert new == {"a": {"x": 1}, "b": {"y": [1, 2]}, "c": {"z": 2}}

    def test_share_false_leaves_the_new_tree_alone(self) -> None:
        """With share=False the new tree keeps its own objects."""
        old = {"a": {"x": 1}, "c": 1}
        new = {"a": {"x": 1}, "c": 2}
        new_a = new["a"]
        diff_snapshots(old, new, share=False)
        assert new["a"] is new_a

    def test_reload_shares_unchanged_sections(self, tmp_path: Path) -> None:
        """After a reload that changes one key, unchanged sections are the previous version's objects."""
        cfg = tmp_path / "config.yaml"
        cfg.write_text("a: {value: 1}\nb: {value: 2}\nc: {value: 3}\nmaps: {m1: {k: 1}, m2: {k: 2}}\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = OFF
            a: Section = Section()
            b: Section = Section()
            c: Section = Section()
            maps: dict[str, dict[str, int]] = {}

        with App() as s:
            before = s.snapshot()
            a, b, c, maps = s.a, s.b, s.c, s.maps
            cfg.write_text("a: {value: 1}\nb: {value: 20}\nc: {value: 3}\nmaps: {m1: {k: 1}, m2: {k: 5}}\n")
            assert s.reload() is not None
            assert s.a is a and s.c is c
            assert s.b is not b
            assert s.maps["m1"] is maps["m1"]
            assert s.maps["m2"] is not maps["m2"]
            assert before.b.value == 2 and b.value == 2  # the old version is untouched

    def test_history_memory_grows_with_what_changed(self, tmp_path: Path) -> None:
        """Ten versions of a 10,000-leaf config, one key apart each, cost under 1.5x one version."""
        cfg = tmp_path / "config.json"

        def write(changed: int) -> None:
            tree = {f"s{i}": {f"k{j}": 1000 + 100 * i + j for j in range(100)} for i in range(100)}
            if changed:
                tree[f"s{changed}"]["k0"] = -changed
            cfg.write_text(json.dumps({"sections": tree}))

        write(0)

        class Big(ReloadableSettings):
            model_config = SettingsConfigDict(json_file=str(cfg), env_prefix="APP_")
            reload_config = ReloadConfig(enabled=False, max_versions=10)
            sections: dict[str, dict[str, int]] = {}

        gc.collect()
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            s = Big()
            gc.collect()
            one = tracemalloc.get_traced_memory()[0] - start
            for i in range(1, 10):
                write(i)
                assert s.reload() is not None
            gc.collect()
            ten = tracemalloc.get_traced_memory()[0] - start
        finally:
            tracemalloc.stop()
        assert len(s.history) == 10
        assert ten < 1.5 * one, f"10 versions took {ten} bytes, one took {one}"
        s.close()


class TestDiff:
    """``Diff``: what a subscriber receives."""

    def test_sequence_protocol_and_paths(self) -> None:
        """A Diff iterates over its changes and lists their paths."""
        changes = (Change("a.x", ChangeType.MODIFY, 1, 2), Change("a.y", ChangeType.ADD, None, 3))
        d = Diff("a", {"x": 1}, {"x": 2, "y": 3}, changes)
        assert list(d) == list(changes)
        assert len(d) == 2
        assert d.paths == ("a.x", "a.y")

    def test_equality_ignores_the_version(self) -> None:
        """Two Diffs with the same content are equal whatever version they came with."""
        c = (Change("a", ChangeType.MODIFY, 1, 2),)
        assert Diff("a", 1, 2, c) == Diff("a", 1, 2, c, version=None)


SECRET = "hunter2-very-secret"
SECRET2 = "rotated-very-secret"


class TestSecretMasking:
    """Secrets never appear in reprs of changes and diffs; rotations stay visible."""

    def test_secretstr_change_shows_fingerprints(self) -> None:
        """A SecretStr rotation shows two different fingerprints and neither value."""
        c = Change("db.password", ChangeType.MODIFY, SecretStr(SECRET), SecretStr(SECRET2))
        text = repr(c) + c.describe() + str(c)
        assert SECRET not in text and SECRET2 not in text
        assert f"<secret fp={fingerprint(SecretStr(SECRET))}>" in repr(c)
        assert f"<secret fp={fingerprint(SecretStr(SECRET2))}>" in repr(c)
        assert fingerprint(SecretStr(SECRET)) != fingerprint(SecretStr(SECRET2))

    def test_fingerprint_is_stable(self) -> None:
        """The same secret always gets the same fingerprint in one process."""
        assert fingerprint(SecretStr(SECRET)) == fingerprint(SecretStr(SECRET)) == fingerprint(SECRET)

    def test_secretbytes_and_empty_secrets(self) -> None:
        """SecretBytes is masked too; an empty secret reads as unset."""
        c = Change("k", ChangeType.MODIFY, SecretStr(""), SecretBytes(SECRET.encode()))
        assert "<secret unset>" in repr(c)
        assert SECRET not in repr(c)

    @pytest.mark.parametrize(
        "name", ["password", "db_passwd", "api_key", "apikey", "auth_token", "client_secret"]
    )
    def test_plain_strings_under_credential_names(self, name: str) -> None:
        """A plain string under a credential-like key is masked."""
        c = Change(f"svc.{name}", ChangeType.MODIFY, SECRET, SECRET2)
        assert SECRET not in repr(c) and SECRET2 not in repr(c)

    def test_plain_strings_under_ordinary_names_are_shown(self) -> None:
        """Ordinary values are not masked."""
        assert "'db.example'" in repr(Change("db.host", ChangeType.MODIFY, "a", "db.example"))

    def test_diff_repr_of_a_section_masks_nested_secrets(self) -> None:
        """A Diff whose old/new values are whole sections masks the secrets inside them."""
        old = Credentials(password=SECRET, token=SecretStr(SECRET))
        new = Credentials(password=SECRET2, token=SecretStr(SECRET2))
        d = Diff(
            "creds",
            old,
            new,
            (
                Change("creds.password", ChangeType.MODIFY, SECRET, SECRET2),
                Change("creds.token", ChangeType.MODIFY, old.token, new.token),
            ),
        )
        text = repr(d)
        assert SECRET not in text and SECRET2 not in text
        assert "admin" in text  # ordinary values are still shown

    def test_diff_repr_of_a_dict_section_masks_nested_secrets(self) -> None:
        """Secrets inside a plain dict value (and lists under credential names) are masked."""
        old = {"service": {"password": SECRET, "host": "h"}, "tokens": [SECRET]}
        new = {"service": {"password": SECRET2, "host": "h"}, "tokens": [SECRET2]}
        d = Diff("", old, new, tuple(detect_changes(old, new)))
        assert SECRET not in repr(d) and SECRET2 not in repr(d)

    def test_change_of_a_leaf_to_a_section_masks_nested_secrets(self) -> None:
        """A leaf replaced by a mapping holding a credential does not leak it."""
        (change,) = detect_changes({"creds": "none"}, {"creds": {"password": SECRET}})
        assert SECRET not in repr(change) and SECRET not in change.describe()

    def test_safe_repr_is_bounded_for_huge_sections(self) -> None:
        """safe_repr of a very large section stays short."""
        big = {f"k{i}": {"password": SECRET, "v": i} for i in range(10_000)}
        text = safe_repr(big)
        assert len(text) <= 200 and SECRET not in text

    def test_reload_logs_and_errors_never_contain_secrets(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A secret rotation, a failing reload and a failing handler never put a secret in any log record."""
        cfg = tmp_path / "config.yaml"
        cfg.write_text(f"creds:\n  password: {SECRET}\n  token: {SECRET}\nport: 1\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = OFF
            creds: Credentials = Credentials()
            port: int = 0

        caplog.set_level(logging.DEBUG)
        seen: list[str] = []
        with App() as s:

            def handler(diff: Diff) -> None:
                seen.append(repr(diff))
                raise RuntimeError("handler failed")

            s.watch("creds", handler)
            cfg.write_text(f"creds:\n  password: {SECRET2}\n  token: {SECRET2}\nport: 1\n")
            version = s.reload()
            assert version is not None
            assert {c.path for c in version.changes} == {"creds.password", "creds.token"}
            cfg.write_text(f"creds:\n  password: {SECRET}\n  token: {SECRET}\nport: oops\n")
            with pytest.raises(ReloadError) as info:
                s.reload()
        assert seen and s.hot_reload.dead_letters
        texts = [r.getMessage() for r in caplog.records]
        texts += [caplog.text, str(info.value), repr(version), *seen]
        for text in texts:
            assert SECRET not in text and SECRET2 not in text
        rotation = next(c for c in version.changes if c.path == "creds.token")
        assert rotation.old_value.get_secret_value() == SECRET  # the value itself is still there
