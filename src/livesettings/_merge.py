"""How several files of one source combine: the ``deep``, ``replace`` and ``append`` strategies.

A file source given several files (``yaml_file=["base.yaml", "prod.yaml"]``) folds them left to
right, a later file over the merged earlier ones. The strategy says what happens where both have
a value for the same key:

- ``"replace"``: the later value replaces the earlier one whole. As a source's strategy it acts
  on the top-level keys, which is pydantic-settings' default for several files.
- ``"deep"``: two mappings merge key by key, at every depth; anything else is replaced
  (pydantic-settings' ``deep_merge=True``).
- ``"append"``: like ``"deep"``, and two lists are concatenated, the earlier file's items first.

A source has one strategy; a field can override it with ``Annotated[T, Merge("append")]``, which
holds at that field and below (until another marker). A section that contains a marked field
always merges key by key, so the marker is reached whatever the strategy above it.

Pure functions of the parsed files: the inputs (the reader's cached parses) are never mutated,
so a reload merges exactly as a cold start does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

from pydantic import AliasChoices, AliasPath, BaseModel

from ._fields import _models_in

__all__ = ["Merge", "MergeStrategy", "check_strategy", "field_rules", "merge_files"]

MergeStrategy = Literal["deep", "replace", "append"]
"""The name of a merge strategy."""

_STRATEGIES: tuple[str, ...] = get_args(MergeStrategy)

Keys = tuple[Any, ...]  # raw keys from the top of a source's merged data to a value
Rules = dict[Any, tuple["MergeStrategy | None", "Rules"]]  # key -> (its own strategy, rules below it)


def check_strategy(value: Any, what: str) -> MergeStrategy:
    """``value`` if it names a strategy, else a ``ValueError`` that lists them (``what`` says whose)."""
    if value not in _STRATEGIES:
        choices = ", ".join(repr(s) for s in _STRATEGIES)
        raise ValueError(f"{what} must be one of {choices}, not {value!r}")
    return value  # type: ignore[no-any-return]


class Merge:
    """``Annotated[T, Merge("append")]``: how this field's values from several files combine.

    Overrides the strategy of the source for this field and everything under it (a marker
    lower down overrides it again). ``"append"`` concatenates lists (the earlier file's items
    first) and merges mappings key by key; ``"deep"`` merges mappings key by key and replaces
    lists; ``"replace"`` takes the later file's value whole. A section holding a marked field
    always merges key by key, so the marker is reached whatever the source's strategy.

    Only files of one source combine this way; between sources the higher-priority one wins,
    as in pydantic-settings.

    Args:
        strategy: ``"deep"``, ``"replace"`` or ``"append"``.

    Raises:
        ValueError: ``strategy`` is not one of those.

    Example:
        ```python
        from typing import Annotated
        from livesettings import Merge

        allowed_hosts: Annotated[list[str], Merge("append")] = []
        ```

    Added in 0.5.
    """

    __slots__ = ("strategy",)

    def __init__(self, strategy: MergeStrategy) -> None:
        self.strategy: MergeStrategy = check_strategy(strategy, "Merge(strategy)")

    def __repr__(self) -> str:
        return f"Merge({self.strategy!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Merge) and other.strategy == self.strategy

    def __hash__(self) -> int:
        return hash((Merge, self.strategy))


# --------------------------------------------------------------------------- field rules

_RULES: dict[type, Rules] = {}


def _keys_of(name: str, info: Any) -> list[Any]:
    """The top-level keys a file may use for a field: its name, alias and validation aliases."""
    keys: list[Any] = [name]
    if isinstance(info.alias, str):
        keys.append(info.alias)
    alias = info.validation_alias
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias] if alias is not None else []
    for choice in choices:
        if isinstance(choice, str):
            keys.append(choice)
        elif isinstance(choice, AliasPath) and len(choice.path) == 1 and isinstance(choice.path[0], str):
            keys.append(choice.path[0])
    return list(dict.fromkeys(keys))


def field_rules(model: type[BaseModel]) -> Rules:
    """The ``Merge`` markers under ``model`` as a tree of raw keys (empty: no marker anywhere).

    Markers are found where ``Restart`` markers are: on fields of nested models, through
    ``Optional``/``Union``/``Annotated`` (not inside ``list``/``dict`` items).
    """
    hit = _RULES.get(model)
    if hit is None:
        hit = _rules(model, frozenset())
        if len(_RULES) > 1024:
            _RULES.clear()
        _RULES[model] = hit
    return hit


def _rules(model: type[BaseModel], seen: frozenset[type]) -> Rules:
    out: Rules = {}
    for name, info in model.model_fields.items():
        own = next((m.strategy for m in info.metadata if isinstance(m, Merge)), None)
        below: Rules = {}
        for sub in _models_in(info.annotation):
            if sub not in seen and sub is not model:
                below.update(_rules(sub, seen | {model}))
        if own is not None or below:
            for key in _keys_of(name, info):
                out[key] = (own, below)
    return out


def under_section(rules: Rules, section: str | None) -> Rules:
    """``rules`` moved under a YAML ``yaml_config_section`` (dotted: nested keys, or one literal key)."""
    if not rules or not section:
        return rules
    nested: Rules = rules
    for part in reversed(section.split(".")):
        nested = {part: (None, nested)}
    if "." in section:
        nested = {**nested, section: (None, rules)}
    return nested


# --------------------------------------------------------------------------- merging


def merge_files(
    parts: Sequence[Mapping[str, Any]], strategy: MergeStrategy, rules: Rules
) -> tuple[dict[str, Any], dict[Keys, tuple[int, ...]]]:
    """Fold the parsed files ``parts`` (earliest first) into one mapping.

    Returns:
        The merged mapping (new containers wherever it differs from the inputs, which are left
        untouched), and for every list that was concatenated, its raw keys and the indexes of
        the files whose items it holds, in order.
    """
    merged: dict[str, Any] = {}
    appended: dict[Keys, tuple[int, ...]] = {}
    for index, data in enumerate(parts):
        if not data:
            continue
        if not merged:
            merged = dict(data)
            continue
        merged = _merge_map(merged, data, strategy, rules, (), index, parts, appended)
    return merged, appended


def _merge_map(
    old: Mapping[Any, Any], new: Mapping[Any, Any], strategy: MergeStrategy, rules: Rules, keys: Keys,
    index: int, parts: Sequence[Mapping[str, Any]], appended: dict[Keys, tuple[int, ...]],
) -> dict[Any, Any]:
    out = dict(old)
    for key, value in new.items():
        own, below = rules.get(key, (None, {})) if rules else (None, {})
        here = own or strategy
        path = (*keys, key)
        before = out.get(key, _MISSING)
        if before is _MISSING:
            out[key] = value
            continue
        if isinstance(before, Mapping) and isinstance(value, Mapping) and (here != "replace" or below):
            out[key] = _merge_map(before, value, here, below, path, index, parts, appended)
        elif here == "append" and isinstance(before, list) and isinstance(value, list):
            earlier = appended.get(path) or (_last_with(parts, index, path),)
            out[key] = [*before, *value]
            appended[path] = (*earlier, index)
        else:
            out[key] = value
            _forget(appended, path)
    return out


def _last_with(parts: Sequence[Mapping[str, Any]], index: int, path: Keys) -> int:
    """The latest file before ``index`` that has a list at ``path`` (where a merged list came from)."""
    for i in range(index - 1, -1, -1):
        node: Any = parts[i]
        for key in path:
            node = node.get(key, _MISSING) if isinstance(node, Mapping) else _MISSING
        if isinstance(node, list):
            return i
    return 0  # not reached: the merged list came from some earlier file


def _forget(appended: dict[Keys, tuple[int, ...]], path: Keys) -> None:
    """Drop what was recorded at or under ``path`` (a value there was replaced whole)."""
    if appended:
        for keys in [k for k in appended if k[: len(path)] == path]:
            del appended[keys]


class _Missing:
    __slots__ = ()


_MISSING: Any = _Missing()


def appended_item(
    appended: Mapping[Keys, Sequence[tuple[Any, int]]], loc: Sequence[Any]
) -> tuple[Any, tuple[Any, ...]] | None:
    """Which file item ``loc`` (raw keys into the merged data) of a concatenated list came from.

    ``appended`` maps the raw keys of each concatenated list to its parts: ``(file, item count)``
    in order. Returns ``(file, loc in that file)``, or ``None`` when ``loc`` is not inside one.
    """
    for cut in range(len(loc) - 1, 0, -1):
        head = tuple(loc[:cut])
        pieces = appended.get(head)
        item = loc[cut]
        if pieces is None or not isinstance(item, int) or item < 0:
            continue
        for file, size in pieces:
            if item < size:
                return file, (*head, item, *loc[cut + 1:])
            item -= size
        return None
    return None
