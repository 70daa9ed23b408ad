"""Property tests (Hypothesis): diffs, subtree sharing, rollback and reload against cold starts."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_settings import SettingsConfigDict

from livesettings import ChangeType, ReloadableSettings, ReloadConfig
from livesettings.components import detect_changes
from livesettings._diff import diff_snapshots
from strategies import apply_changes, config_pairs, config_sequences, configs, strict

PURE = settings(max_examples=50, deadline=None, database=None)
FILES = settings(
    max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class TestDiffProperties:
    """Properties of the diff walk on plain nested dicts."""

    @PURE
    @given(config_pairs())
    def test_applying_the_diff_gives_the_target(self, pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
        """Applying the diff of A to B onto A gives B, types included."""
        a, b = pair
        assert strict(apply_changes(a, detect_changes(a, b))) == strict(b)

    @PURE
    @given(configs())
    def test_diff_with_itself_is_empty(self, a: dict[str, Any]) -> None:
        """A config compared with itself, or with a deep copy, has no changes."""
        assert detect_changes(a, a) == []
        assert detect_changes(a, copy.deepcopy(a)) == []

    @PURE
    @given(config_pairs())
    def test_reverse_diff_mirrors(self, pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
        """The diff from B to A has the same paths with ADD and DELETE swapped and values exchanged."""
        a, b = pair
        mirror = {
            ChangeType.ADD: ChangeType.DELETE,
            ChangeType.DELETE: ChangeType.ADD,
            ChangeType.MODIFY: ChangeType.MODIFY,
        }
        forward = {c.path: (mirror[c.type], c.new_value, c.old_value) for c in detect_changes(a, b)}
        backward = {c.path: (c.type, c.old_value, c.new_value) for c in detect_changes(b, a)}
        assert forward.keys() == backward.keys()
        for path, expected in forward.items():
            assert strict(expected) == strict(backward[path])

    @PURE
    @given(config_pairs())
    def test_paths_are_unique_leaves(self, pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
        """No path is reported twice and no reported path lies under another one."""
        a, b = pair
        paths = [c.path for c in detect_changes(a, b)]
        assert len(paths) == len(set(paths))
        for p in paths:
            assert not any(q != p and p.startswith(q + ".") for q in paths)

    @PURE
    @given(config_pairs())
    def test_sharing_keeps_the_value_and_reuses_unchanged_subtrees(
        self, pair: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        """After a sharing diff the new tree still equals B, and every unchanged section is A's object."""
        a, b = pair
        new = copy.deepcopy(b)
        changes = diff_snapshots(a, new, share=True)
        assert strict(new) == strict(b)
        assert list(changes) == detect_changes(a, b)
        if not changes:
            return  # nothing changed: the engine keeps the old tree whole and drops the new one
        changed = [c.path for c in changes]
        for key, value in new.items():
            if (
                isinstance(value, dict)
                and key in a
                and not any(p == key or p.startswith(key + ".") for p in changed)
            ):
                assert value is a[key]


def _tree_settings(path: Path, fmt: str) -> type[ReloadableSettings]:
    class Tree(ReloadableSettings):
        model_config = SettingsConfigDict(**{f"{fmt}_file": str(path)}, env_prefix="APP_")  # type: ignore[typeddict-item]
        reload_config = ReloadConfig(enabled=False, max_versions=50)
        tree: dict[str, Any] = {}
        n: int = 0

    return Tree


def _write(path: Path, fmt: str, tree: dict[str, Any], n: int = 0) -> None:
    doc = {"tree": tree, "n": n}
    path.write_text(json.dumps(doc) if fmt == "json" else yaml.safe_dump(doc))


def _dump(snapshot: Any) -> Any:
    return strict(snapshot.model_dump())


class TestReloadProperties:
    """Reloading from files behaves like starting cold on the same files."""

    @FILES
    @pytest.mark.parametrize("fmt", ["json", "yaml"])
    @given(pair=config_pairs())
    def test_reload_equals_cold_start(
        self, tmp_path: Path, fmt: str, pair: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        """After reloading B over A, the snapshot equals a fresh load of B, and the version's changes are A->B."""
        path = tmp_path / f"config.{fmt}"
        a, b = pair
        _write(path, fmt, a)
        app = _tree_settings(path, fmt)
        with app() as s:
            _write(path, fmt, b, n=1)
            v = s.reload()
            assert v is not None
            with app() as cold:
                assert s.snapshot() == cold.snapshot()
                assert _dump(s.snapshot()) == _dump(cold.snapshot())
            expected = {f"tree.{c.path}" for c in detect_changes(a, b)} | {"n"}
            assert {c.path for c in v.changes} == expected

    @FILES
    @given(seq=config_sequences(), data=st.data())
    def test_rollback_restores_an_equal_snapshot(
        self, tmp_path: Path, seq: list[dict[str, Any]], data: st.DataObject
    ) -> None:
        """Rolling back to any earlier version gives a snapshot equal to that version's."""
        path = tmp_path / "config.json"
        _write(path, "json", seq[0])
        app = _tree_settings(path, "json")
        with app() as s:
            expected = {s.version.id: seq[0]}
            for i, tree in enumerate(seq[1:], 1):
                _write(path, "json", tree, n=i)
                v = s.reload()
                assert v is not None
                expected[v.id] = tree
            target = data.draw(st.sampled_from(sorted(expected)))
            r = s.rollback(target)
            assert r.restores == target
            assert strict(s.snapshot().tree) == strict(expected[target])
            assert s.snapshot() == s.history[-1].snapshot
            original = next(v for v in s.history if v.id == target)
            assert _dump(s.snapshot()) == _dump(original.snapshot)

    @FILES
    @given(seq=config_sequences())
    def test_undo_walks_back_through_the_sequence(self, tmp_path: Path, seq: list[dict[str, Any]]) -> None:
        """Repeated rollback() visits the earlier versions newest first, ending at the first."""
        path = tmp_path / "config.json"
        _write(path, "json", seq[0])
        app = _tree_settings(path, "json")
        with app() as s:
            dumps = [_dump(s.snapshot())]
            for i, tree in enumerate(seq[1:], 1):
                _write(path, "json", tree, n=i)
                s.reload()
                dumps.append(_dump(s.snapshot()))
            for expected in reversed(dumps[:-1]):
                s.rollback()
                assert _dump(s.snapshot()) == expected
