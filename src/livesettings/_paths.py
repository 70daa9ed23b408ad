"""Dotted paths: the one lookup (``find``), prefix tests, and copy-on-write writes.

A dotted path names a value inside a snapshot: model fields and their extras, mapping keys and
list indices (``"database.hosts.0"``); ``""`` is the whole tree.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

__all__ = ["MISSING", "assign", "entries", "find", "join", "prefixes", "resolve", "set_path", "under"]

MISSING: Any = object()
"""What [find][livesettings._paths.find] returns for a path that does not exist."""


def entries(value: Any) -> dict[str, Any]:
    """The child mapping of a container (a model's fields plus its extras, or the dict itself)."""
    if isinstance(value, BaseModel):
        extra = value.__pydantic_extra__
        return {**value.__dict__, **extra} if extra else value.__dict__
    return value  # type: ignore[no-any-return]


def join(path: str, key: object) -> str:
    """``path`` extended by one ``key`` (``join("", "a") == "a"``)."""
    return f"{path}.{key}" if path else str(key)


def find(tree: Any, path: str, default: Any = MISSING) -> Any:
    """The value at dotted ``path`` (models and their extras, mappings, list indices), or ``default``.

    The one dotted-path lookup of the package: ``""`` is the tree itself.
    """
    node = tree
    for part in path.split(".") if path else ():
        if isinstance(node, BaseModel):
            items = entries(node)
            if part not in items:
                return default
            node = items[part]
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


def set_path(tree: Any, parts: list[str], value: Any) -> Any:
    """A copy of ``tree`` with ``value`` at ``parts`` (``MISSING`` removes a dict key).

    Only the ancestors are copied; everything else stays shared, so this is safe on a snapshot
    that is already published (a rollback target) and cheap on a fresh one.
    """
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    if isinstance(tree, BaseModel):
        copy = tree.model_copy()
        extra = copy.__pydantic_extra__
        holder = copy.__dict__ if head in copy.__dict__ or extra is None or head not in extra else extra
        child = set_path(holder.get(head), rest, value)
        holder[head] = None if child is MISSING else child  # a model field always exists
        return copy
    if isinstance(tree, dict):
        copy_d = dict(tree)
        child = set_path(tree.get(head), rest, value)
        if child is MISSING:
            copy_d.pop(head, None)
        else:
            copy_d[head] = child
        return copy_d
    return tree


def assign(tree: dict[str, Any], path: str, value: Any) -> None:
    """Set dotted ``path`` in a plain nested dict in place, creating the mappings on the way."""
    node = tree
    parts = path.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def prefixes(path: str) -> Iterator[str]:
    """``""``, then every dotted prefix of ``path``, shortest first, ending with ``path`` itself.

    ``prefixes("a.b.c")`` yields ``""``, ``"a"``, ``"a.b"``, ``"a.b.c"``. On the notify path, so
    it slices instead of splitting and joining.
    """
    yield ""
    start = 0
    while True:
        idx = path.find(".", start)
        if idx < 0:
            yield path
            return
        yield path[:idx]
        start = idx + 1
