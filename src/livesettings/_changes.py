"""Leaf-level changes between two snapshots: ``Change``, ``ChangeType``, ``Diff`` and the diff walk.

The walk compares two validated snapshots (pydantic models, dicts, leaves) and, while it is at it,
makes the new snapshot *share* every sub-tree that did not change with the old one. That is what
keeps a history of ten versions that differ in one key each about the size of one snapshot, and
what lets the next diff skip whole unchanged sections with an ``is`` check.

Secrets (``SecretStr``, ``SecretBytes``, any value with ``get_secret_value``, and values under
keys that look like credentials) never appear in a repr: they show as a short keyed fingerprint,
so a rotation stays visible (``<secret fp=1a2b3c4d>`` → ``<secret fp=9f8e7d6c>``).
"""

from __future__ import annotations

import enum
import hashlib
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from ._history import Version

__all__ = [
    "Change",
    "ChangeType",
    "Diff",
    "changes_at",
    "detect_changes",
    "diff_snapshots",
    "fingerprint",
    "is_secret",
    "safe_repr",
]


class ChangeType(str, enum.Enum):
    """What happened to one leaf."""

    ADD = "add"
    MODIFY = "modify"
    DELETE = "delete"

    def __repr__(self) -> str:
        return f"ChangeType.{self.name}"


# A per-process key: fingerprints are comparable within one process (and its logs) but cannot be
# used to brute-force a secret offline from a log line.
_FP_KEY = os.urandom(16)
_SENSITIVE = re.compile(
    r"(pass(word|wd|phrase)|secret|token|api[_-]?key|private[_-]?key|credential|(^|[_-])auth($|[_-]))", re.IGNORECASE
)
_MAX_REPR = 200


def is_secret(value: object, path: str = "") -> bool:
    """Whether ``value`` (found at dotted ``path``) must be masked wherever it is shown."""
    if hasattr(value, "get_secret_value"):
        return True
    if path and isinstance(value, (str, bytes)):
        return _SENSITIVE.search(path.rsplit(".", 1)[-1]) is not None
    return False


def fingerprint(value: object) -> str:
    """A short keyed fingerprint of a (secret) value; stable within one process."""
    raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, key=_FP_KEY, digest_size=4).hexdigest()


class _Full(Exception):
    """Raised by ``_Writer`` once the repr is long enough to be cut."""


class _Writer:
    __slots__ = ("parts", "size")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > _MAX_REPR:
            raise _Full


def _secret_text(value: object) -> str:
    raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    return "<secret unset>" if raw in ("", b"") else f"<secret fp={fingerprint(value)}>"


def _emit(out: _Writer, value: object, path: str) -> None:
    """Write a secret-safe repr of ``value``; containers are walked so nested secrets are masked too."""
    if value is None:
        out.write("None")
    elif is_secret(value, path):
        out.write(_secret_text(value))
    elif isinstance(value, BaseModel):
        out.write(f"{type(value).__name__}(")
        for i, (key, child) in enumerate(value.__repr_args__()):
            out.write(", " if i else "")
            out.write(f"{key}=" if key is not None else "")
            _emit(out, child, _join(path, key) if key is not None else path)
        out.write(")")
    elif isinstance(value, Mapping):
        out.write("{" if type(value) is dict else f"{type(value).__name__}({{")
        for i, (key, child) in enumerate(value.items()):
            out.write(", " if i else "")
            out.write(f"{key!r}: ")
            _emit(out, child, _join(path, key))
        out.write("}" if type(value) is dict else "})")
    elif isinstance(value, (list, tuple, set, frozenset)):
        if isinstance(value, (set, frozenset)) and not value:
            out.write(repr(value))
            return
        opening, closing = {list: ("[", "]"), tuple: ("(", ")"), set: ("{", "}")}.get(
            type(value), (f"{type(value).__name__}([", "])")
        )
        out.write(opening)
        for i, child in enumerate(value):
            out.write(", " if i else "")
            _emit(out, child, path)  # elements of ``tokens: [...]`` are still "tokens"
        out.write("," + closing if type(value) is tuple and len(value) == 1 else closing)
    else:
        out.write(mask_url_passwords(repr(value)))


_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s/:@'\"]*:)([^\s@/'\"]+)(?=@)")


def mask_url_passwords(text: str) -> str:
    """Replace the password of every ``scheme://user:password@host`` in ``text`` by its fingerprint."""
    if "://" not in text:
        return text
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}<secret fp={fingerprint(m.group(2))}>", text)


def safe_repr(value: object, path: str = "") -> str:
    """``repr(value)`` with secrets (also inside sections and lists) replaced by a fingerprint, cut when long."""
    out = _Writer()
    try:
        _emit(out, value, path)
    except _Full:
        pass
    text = "".join(out.parts)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


@dataclass(frozen=True, slots=True)
class Change:
    """One leaf change between two versions.

    Attributes:
        path: dotted path of the leaf (``"database.pool_size"``).
        type: [ChangeType][livesettings.ChangeType] ``ADD``, ``MODIFY`` or ``DELETE``.
        old_value: the value before (``None`` for ``ADD``).
        new_value: the value after (``None`` for ``DELETE``).

    The repr masks secrets. ``ConfigChange`` is an alias kept for the original design brief.
    """

    path: str
    type: ChangeType
    old_value: Any = None
    new_value: Any = None

    def __repr__(self) -> str:
        return (
            f"Change({self.path!r}, {self.type!r}, {safe_repr(self.old_value, self.path)}, "
            f"{safe_repr(self.new_value, self.path)})"
        )

    __str__ = __repr__

    def describe(self) -> str:
        """A one-line, secret-safe description for logs: ``database.pool_size: 5 -> 10``."""
        if self.type is ChangeType.ADD:
            return f"{self.path}: added {safe_repr(self.new_value, self.path)}"
        if self.type is ChangeType.DELETE:
            return f"{self.path}: removed (was {safe_repr(self.old_value, self.path)})"
        return f"{self.path}: {safe_repr(self.old_value, self.path)} -> {safe_repr(self.new_value, self.path)}"


@dataclass(frozen=True)
class Diff:
    """What a subscriber to ``path`` receives for one accepted version.

    Attributes:
        path: the subscribed path (``""`` for a subscription to everything).
        old_value: the value at ``path`` before the version.
        new_value: the value at ``path`` after the version.
        changes: the leaf changes at or under ``path``.
        version: the [Version][livesettings.Version] that was applied.
    """

    path: str
    old_value: Any
    new_value: Any
    changes: tuple[Change, ...]
    version: Version | None = field(default=None, compare=False)

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    @property
    def paths(self) -> tuple[str, ...]:
        """The dotted paths that changed."""
        return tuple(c.path for c in self.changes)

    def __repr__(self) -> str:
        vid = self.version.id if self.version is not None else None
        return (
            f"Diff(path={self.path!r}, old_value={safe_repr(self.old_value, self.path)}, "
            f"new_value={safe_repr(self.new_value, self.path)}, changes={list(self.changes)!r}, version={vid!r})"
        )


# --------------------------------------------------------------------------- the walk

_MISSING: Any = object()
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


def _entries(value: Any) -> dict[str, Any]:
    """The child mapping of a container (a model's fields plus its extras, or the dict itself)."""
    if isinstance(value, BaseModel):
        extra = value.__pydantic_extra__
        return {**value.__dict__, **extra} if extra else value.__dict__
    return value  # type: ignore[no-any-return]


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _leaves(path: str, value: Any, out: list[tuple[str, Any]]) -> None:
    """Flatten ``value`` into ``(path, leaf)`` pairs; an empty container is its own leaf."""
    stack = [(path, value)]
    while stack:
        p, v = stack.pop()
        if _kind(v) == _LEAF:
            out.append((p, v))
            continue
        items = _entries(v)
        if not items:
            out.append((p, v))
            continue
        stack.extend((_join(p, k), child) for k, child in reversed(list(items.items())))


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
    old_items, new_items = _entries(old), _entries(new)
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
                out.append(Change(_join(path, key), ChangeType.MODIFY, ov, nv))
            continue
        child = _join(path, key)
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
            _leaves(_join(path, key), ov, pairs)
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


MISSING: Any = _MISSING
"""What [find][livesettings._changes.find] returns for a path that does not exist."""


def find(tree: Any, path: str, default: Any = _MISSING) -> Any:
    """The value at dotted ``path`` (models and their extras, mappings, list indices), or ``default``.

    The one dotted-path lookup of the package: ``""`` is the tree itself.
    """
    node = tree
    for part in path.split(".") if path else ():
        if isinstance(node, BaseModel):
            entries = _entries(node)
            if part not in entries:
                return default
            node = entries[part]
        elif isinstance(node, Mapping):
            if part not in node:
                return default
            node = node[part]
        elif isinstance(node, Sequence) and not isinstance(node, (str, bytes)) and part.lstrip("-").isdigit():
            idx = int(part)
            if not -len(node) <= idx < len(node):
                return default
            node = node[idx]
        else:
            return default
    return node


def resolve(tree: Any, path: str) -> Any:
    """The value at dotted ``path`` in a snapshot; ``None`` if absent."""
    return find(tree, path, None)


def under(path: str, prefix: str) -> bool:
    """Whether dotted ``path`` is ``prefix`` itself or lies below it (``""`` is everything)."""
    return not prefix or path == prefix or path.startswith(prefix + ".")
