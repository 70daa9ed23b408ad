"""Shared Hypothesis strategies: nested dict configs, and edits that turn one config into another.

The configs are what a YAML/JSON/TOML file parses to: string keys, scalar or list leaves, nested
mappings. Two restrictions keep the diff properties exact (see ``tests/test_properties.py``):
nested mappings are never empty and leaves are never ``None``, because a section that disappears
is reported leaf by leaf, so ``{"a": {}}``, ``{"a": None}`` and ``{}`` are indistinguishable after
``{"a": {"b": 1}}``. Floats are finite (``nan != nan``).
"""

from __future__ import annotations

import copy
import string
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "apply_changes",
    "config_pairs",
    "config_sequences",
    "configs",
    "keys",
    "leaves",
    "scalars",
    "strict",
]

# Keys are identifiers so they are valid everywhere (YAML, TOML, JSON, dotted paths).
keys = st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True)

# Letters only: every YAML dialect reads such strings back as strings once PyYAML has quoted the
# ambiguous ones ("yes", "null" ...); digits would allow plain scalars like 1e3 that YAML 1.1 and
# 1.2 read differently.
_TEXT = string.ascii_letters + " _-"

scalars = st.one_of(
    st.integers(min_value=-(10**9), max_value=10**9),
    st.booleans(),
    st.text(alphabet=_TEXT, max_size=8),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)
"""One scalar leaf (no ``None``: see the module docstring)."""

leaves = st.one_of(scalars, st.lists(scalars, max_size=3))
"""A leaf: a scalar, or a short list compared as a value."""


def _trees(max_leaves: int) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda children: st.dictionaries(keys, children, min_size=1, max_size=4),
        max_leaves=max_leaves,
    )


def configs(max_keys: int = 5, max_leaves: int = 12) -> st.SearchStrategy[dict[str, Any]]:
    """A whole config: a (possibly empty) mapping of sections and leaves."""
    return st.dictionaries(keys, _trees(max_leaves), max_size=max_keys)


def strict(value: Any) -> Any:
    """``value`` with every scalar tagged by its type, so ``1``, ``1.0`` and ``True`` compare unequal."""
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return (type(value).__name__, value)


@st.composite
def _edited(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` after a few random edits: modify a leaf, delete a key, add a key, swap a subtree."""
    tree = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        node = tree
        # walk down a random path of existing mappings
        while isinstance(node, dict) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node)))
            if not isinstance(node[key], dict):
                break
            node = node[key]
        action = draw(st.sampled_from(["modify", "delete", "add", "replace"]))
        if action == "add" or not node:
            node[draw(keys)] = draw(_trees(4))
            continue
        key = draw(st.sampled_from(sorted(node)))
        if action == "delete" and (node is tree or len(node) > 1):
            del node[key]
        elif action == "replace":
            node[key] = draw(_trees(4))
        else:
            node[key] = draw(leaves)
    return tree


@st.composite
def config_pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two configs, the second usually an edit of the first (sometimes unrelated)."""
    first = draw(configs())
    second = draw(st.one_of(_edited(first), configs()))
    return first, second


@st.composite
def config_sequences(draw: st.DrawFn, min_size: int = 2, max_size: int = 5) -> list[dict[str, Any]]:
    """A run of configs, each an edit of the one before."""
    out = [draw(configs())]
    for _ in range(draw(st.integers(min_value=min_size - 1, max_value=max_size - 1))):
        out.append(draw(_edited(out[-1])))
    return out


def apply_changes(tree: dict[str, Any], changes: Any) -> dict[str, Any]:
    """Apply leaf changes (``Change`` objects) to a plain nested dict; returns a new dict.

    ``ADD``/``MODIFY`` set the value at the dotted path, creating mappings on the way;
    ``DELETE`` removes it and prunes mappings left empty (sections vanish leaf by leaf).
    """
    from livesettings import ChangeType

    out = copy.deepcopy(tree)
    for change in changes:
        parts = change.path.split(".")
        if change.type is ChangeType.DELETE:
            trail = [out]
            node: Any = out
            for part in parts[:-1]:
                node = node[part]
                trail.append(node)
            del node[parts[-1]]
            for depth in range(len(parts) - 1, 0, -1):
                if trail[depth]:
                    break
                del trail[depth - 1][parts[depth - 1]]
        else:
            node = out
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    node[part] = {}
                node = node[part]
            node[parts[-1]] = copy.deepcopy(change.new_value)
    return out
