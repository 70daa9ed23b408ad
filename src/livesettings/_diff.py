"""Leaf-level changes between two snapshots: the diff walk.

The walk compares two validated snapshots (pydantic models, dicts, leaves) and, while it is at it,
makes the new snapshot *share* every sub-tree that did not change with the old one. That is what
keeps a history of ten versions that differ in one key each about the size of one snapshot, and
what lets the next diff skip whole unchanged sections with an ``is`` check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from . import _homes
from ._model import Change, ChangeType
from ._paths import MISSING, entries, find, join

__all__ = ["changes_at", "detect_changes", "diff_snapshots"]

_MISSING = MISSING
_LEAF, _MODEL, _MAP = 0, 1, 2

_KINDS: dict[type, int] = {}  # type -> kind; ``isinstance`` on pydantic's ABC metaclass is slow per leaf


_PLAIN_EQ: dict[type, bool] = {}  # leaf type -> whether ``==`` alone decides _same_leaf for two of them


def _kind(value: object) -> int:
    kind = _KINDS.get(type(value))
    if kind is None:
        kind = _MODEL if isinstance(value, BaseModel) else _MAP if isinstance(value, dict) else _LEAF
        _KINDS[type(value)] = kind
        _PLAIN_EQ[type(value)] = kind == _LEAF and not isinstance(value, (list, tuple))
    return kind



def _leaves(path: str, value: Any, out: list[tuple[str, Any]]) -> None:
    """Flatten ``value`` into ``(path, leaf)`` pairs; an empty container is its own leaf."""
    stack = [(path, value)]
    while stack:
        p, v = stack.pop()
        if _kind(v) == _LEAF:
            out.append((p, v))
            continue
        items = entries(v)
        if not items:
            out.append((p, v))
            continue
        stack.extend((join(p, k), child) for k, child in reversed(list(items.items())))


_CONTAINERS = frozenset({list, tuple, dict})


def _same_leaf(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down.

    ``1``, ``1.0`` and ``True`` are different config values even inside a list (``[1]`` vs
    ``[true]``), and ``nan`` equals ``nan``, so an unchanged ``nan`` is no change.
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return False
        types = set(map(type, a))
        try:  # fast path (C speed) for the common list of scalars
            if types.isdisjoint(_CONTAINERS) and list(map(type, a)) == list(map(type, b)) and a == b:
                return True
        except Exception:  # noqa: BLE001, S110 - an exotic __eq__: fall back to the element-wise comparison
            pass
        return all(map(_same_leaf, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_leaf(v, b[k]) for k, v in a.items())
    try:
        if a == b:
            return True
    except Exception:  # noqa: BLE001 - an exotic __eq__ must not break a reload; treat as changed
        return False
    return isinstance(a, float) and math.isnan(a) and math.isnan(b)


def _walk(path: str, old: Any, new: Any, out: list[Change], share: bool = True) -> Any:
    """Append the leaf changes from ``old`` to ``new``; return the object the new tree should hold.

    Returns ``old`` when nothing under it changed (so the new tree shares it), otherwise ``new``,
    whose unchanged children have been replaced in place by the old ones. Only called on a new
    snapshot that nobody else can see yet, so the in-place replacement is safe.
    """
    if old is new:
        return old
    ko, kn = _kind(old), _kind(new)
    if ko == _LEAF and kn == _LEAF:
        if _same_leaf(old, new):
            return old
        out.append(Change(path, ChangeType.MODIFY, old, new))
        return new
    if ko == _LEAF or kn == _LEAF:
        pairs: list[tuple[str, Any]] = []
        if old is None or new is None:  # a section appears or disappears: leaf by leaf
            if old is None:
                _leaves(path, new, pairs)
                out.extend(Change(p, ChangeType.ADD, None, v) for p, v in pairs)
            else:
                _leaves(path, old, pairs)
                out.extend(Change(p, ChangeType.DELETE, v, None) for p, v in pairs)
        else:
            out.append(Change(path, ChangeType.MODIFY, old, new))
        return new

    before = len(out)
    old_items, new_items = entries(old), entries(new)
    shareable = type(old) is type(new)
    replace: dict[str, Any] = {}
    for key, nv in new_items.items():
        ov = old_items.get(key, _MISSING)
        if ov is nv:  # already shared
            continue
        # Fast path, the same as _walk on two leaves of one type (the common case) without the
        # recursion, the _same_leaf call and the path string unless the leaf changed.
        tn = type(nv)
        if tn is type(ov) and _KINDS.get(tn) == _LEAF:
            same = False
            if _PLAIN_EQ.get(tn):
                try:
                    same = bool(ov == nv)
                except Exception:  # noqa: BLE001, S110 - _same_leaf below decides (and treats it as changed)
                    pass
            if same or _same_leaf(ov, nv):
                if share:
                    replace[key] = ov
            else:
                out.append(Change(join(path, key), ChangeType.MODIFY, ov, nv))
            continue
        child = join(path, key)
        if ov is _MISSING:
            pairs = []
            _leaves(child, nv, pairs)
            out.extend(Change(p, ChangeType.ADD, None, v) for p, v in pairs)
            continue
        kept = _walk(child, ov, nv, out, share)
        if share and kept is not nv:
            replace[key] = kept
    for key, ov in old_items.items():
        if key not in new_items:
            pairs = []
            _leaves(join(path, key), ov, pairs)
            out.extend(Change(p, ChangeType.DELETE, v, None) for p, v in pairs)
    if len(out) == before and shareable:
        return old
    if replace:
        _share_children(new, replace)
    return new


def _share_children(container: Any, replace: Mapping[str, Any]) -> None:
    if isinstance(container, BaseModel):
        fields = container.__dict__
        extra = container.__pydantic_extra__
        for key, value in replace.items():
            if key in fields:
                fields[key] = value
            elif extra is not None:
                extra[key] = value
    else:
        container.update(replace)


def diff_snapshots(old: Any, new: Any, *, share: bool = True) -> tuple[Change, ...]:
    """Leaf changes from ``old`` to ``new``.

    With ``share=True``, unchanged sub-trees of ``old`` are swapped into ``new`` in place, so
    ``new`` must not have been published yet. Lists, tuples and sets are compared as values (one
    ``MODIFY`` for the whole list).
    """
    out: list[Change] = []
    _walk("", old, new, out, share)
    return tuple(out)


def detect_changes(old_config: Any, new_config: Any) -> list[Change]:
    """Leaf changes between two configs (dicts or models); neither argument is modified.

    The function of the original design brief, with sections reported leaf by leaf.
    """
    return list(diff_snapshots(old_config, new_config, share=False))


def changes_at(path: str, old: Any, new: Any) -> list[Change]:
    """The leaf changes at or under dotted ``path`` between two snapshots, found by looking there.

    For a path below a reported leaf (an index into a list, a key inside a value that became a
    mapping): a value that appears is an ``ADD``, one that disappears a ``DELETE``.
    """
    before, after = find(old, path), find(new, path)
    out: list[Change] = []
    pairs: list[tuple[str, Any]] = []
    if before is _MISSING and after is _MISSING:
        return out
    if before is _MISSING:
        _leaves(path, after, pairs)
        out.extend(Change(p, ChangeType.ADD, None, v) for p, v in pairs)
    elif after is _MISSING:
        _leaves(path, before, pairs)
        out.extend(Change(p, ChangeType.DELETE, v, None) for p, v in pairs)
    else:
        _walk(path, before, after, out, share=False)
    return out


_homes.settle("livesettings.components", ('detect_changes',), globals())  # a component class: its public home
