"""Unknown keys: config-file keys that no field accepts, and dotted paths that no field reaches.

pydantic drops a key that no field accepts when a model keeps its default ``extra="ignore"``,
so a typo under a nested model (``requests_per_minuet: 300``) silently resets the value to its
default. [find_unknown][livesettings._unknown.find_unknown] walks the parsed data of one file
against the model class and reports each such key with its file, line and column;
[check_path][livesettings._unknown.check_path] rejects a handler path that can never match.

The walk follows what pydantic (and, for the top level, pydantic-settings' file sources) accept:

* a model's keys are its fields' input names: ``validation_alias`` (a name, the first key of an
  ``AliasPath``, each of ``AliasChoices``) else ``alias``, plus the field name when validation by
  name is on (``validate_by_name``/``populate_by_name``, or ``validate_by_alias=False``);
* the top level of a ``BaseSettings`` model is matched case-insensitively unless
  ``case_sensitive=True``, the way its file sources match it; everything below is case-sensitive;
* a model that sets ``extra`` keeps its own rule: ``"ignore"`` is a chosen silence, ``"allow"``
  accepts anything, ``"forbid"`` is rejected by pydantic already. ``BaseSettings`` sets
  ``"forbid"``, so the snapshot's top level is pydantic's to reject, and is not reported twice;
* ``dict``/``Mapping`` values and ``list``/``tuple``/``set`` items are walked one by one;
  ``Any``, bare ``dict``, ``Json``, dataclasses and any type we do not model accept anything;
* a discriminated union walks the member its discriminator picks; any other union reports a
  key only if no member accepts it;
* a field with a ``before``/``wrap``/``plain`` validator, and a model with a ``before``/``wrap``
  model validator, may rewrite their input: nothing below them is reported (no false alarms).

Type analysis is cached per model class, so a reload pays only for walking its own data.
"""

from __future__ import annotations

import collections.abc as cabc
import datetime
import decimal
import enum
import types
import typing
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Union

from pydantic import AliasChoices, AliasPath, BaseModel, BeforeValidator, Discriminator, PlainValidator
from pydantic import RootModel, SecretBytes, SecretStr, Tag, WrapValidator
from pydantic.fields import FieldInfo
from pydantic.types import Json
from pydantic_settings import BaseSettings
from typing_extensions import TypeAliasType

from . import _parsers
from ._packed import Packed
from .exceptions import ErrorDetail, ReloadError

if typing.TYPE_CHECKING:
    from ._sources import LoadContext

__all__ = [
    "MAX_LOCATED", "UnknownKey", "check_path", "find_unknown", "find_unknown_in_load", "unknown_keys_error",
]

MAX_LOCATED = 20  # unknown keys per file that get a line and column
_FILE_FORMATS = frozenset({"yaml", "toml", "json"})  # .env and the environment hold unrelated names


@dataclass(frozen=True)
class UnknownKey:
    """One key in a config file that no field accepts.

    Attributes:
        path: dotted path of the key below the model (``"server.requests_per_minuet"``, list
            items by index: ``"servers.0.hots"``), as written in the file.
        source: the file it is in.
        line: 1-based line of the key, if it could be located.
        column: 1-based column of the key, if it could be located.
        suggestion: the closest key accepted at that level, if one is close enough.
    """

    path: str
    source: str
    line: int | None = None
    column: int | None = None
    suggestion: str | None = None

    @property
    def message(self) -> str:
        """``"unknown key"``, with the suggestion if there is one."""
        return f"unknown key (did you mean {self.suggestion}?)" if self.suggestion else "unknown key"

    def detail(self) -> ErrorDetail:
        """This key as an [ErrorDetail][livesettings.exceptions.ErrorDetail] (for a rejected reload)."""
        return ErrorDetail(self.path, self.message, self.source, self.line, self.column)

    def __str__(self) -> str:
        return str(self.detail())


def unknown_keys_error(keys: Sequence[UnknownKey], *, what: str) -> ReloadError:
    """The [ReloadError][livesettings.ReloadError] that rejects a candidate for its unknown ``keys``."""
    noun = "unknown key" if len(keys) == 1 else "unknown keys"
    error = ReloadError(f"invalid configuration for {what}: {len(keys)} {noun}", [k.detail() for k in keys])
    error.stage = "types"
    return error


# --------------------------------------------------------------------------- shapes of types


class _Shape:
    """What a type accepts as input, as far as unknown keys are concerned."""

    __slots__ = ()


class _Anything(_Shape):
    """Accepts any keys at any depth (``Any``, bare ``dict``, ``Json``, types we do not model)."""

    __slots__ = ()


class _Leaf(_Shape):
    """A scalar: nothing below it (a mapping given to it fails validation anyway)."""

    __slots__ = ()


_ANY = _Anything()
_LEAF = _Leaf()


# Plain classes with slots, not dataclasses: generating dataclass methods costs import time, and
# shapes need none of them (compared by identity, never changed after they are built).


class _ModelShape(_Shape):
    __slots__ = ("cls",)

    def __init__(self, cls: type[BaseModel]) -> None:
        self.cls = cls


class _MapShape(_Shape):
    __slots__ = ("value",)

    def __init__(self, value: _Shape) -> None:
        self.value = value


class _SeqShape(_Shape):
    __slots__ = ("item",)

    def __init__(self, item: _Shape) -> None:
        self.item = item


class _TupleShape(_Shape):
    __slots__ = ("items",)

    def __init__(self, items: tuple[_Shape, ...]) -> None:
        self.items = items


class _UnionShape(_Shape):
    __slots__ = ("discriminator", "members", "tags")

    def __init__(
        self, members: tuple[_Shape, ...], tags: tuple[Any, ...],  # each member's ``Tag``, or None
        discriminator: str | Callable[[Any], Any] | None = None,
    ) -> None:
        self.members = members
        self.tags = tags
        self.discriminator = discriminator


_LEAF_TYPES: tuple[type, ...] = (
    str, bytes, int, float, complex, bool, type(None), enum.Enum, datetime.date, datetime.time,
    datetime.timedelta, decimal.Decimal, uuid.UUID, PurePath, SecretStr, SecretBytes,
)
_JSON = typing.cast(type, Json)  # generic in the stubs; at run time `Json[X]` is `Annotated[X, Json()]`
_UNION_ORIGINS: tuple[Any, ...] = (Union, types.UnionType)
_SHAPES: dict[tuple[Any, bool], _Shape] = {}

# Two views of one annotation. The *input* side (``inp=True``) is what a config file may hold:
# a value that a before/wrap/plain validator or ``Json`` receives is not judged. The *output*
# side is what a snapshot holds (for handler paths): a before validator still yields the type.
_REWRITERS = {True: (BeforeValidator, WrapValidator, PlainValidator), False: (WrapValidator, PlainValidator)}


def _shape(tp: Any, inp: bool) -> _Shape:
    """The shape of annotation ``tp`` (cached when ``tp`` is hashable)."""
    try:
        hit = _SHAPES.get((tp, inp))
    except TypeError:  # unhashable metadata inside Annotated
        return _build_shape(tp, inp, ())
    if hit is None:
        if len(_SHAPES) > 4096:
            _SHAPES.clear()
        hit = _SHAPES[(tp, inp)] = _build_shape(tp, inp, ())
    return hit


def _build_shape(tp: Any, inp: bool, seen: tuple[Any, ...]) -> _Shape:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *metadata = typing.get_args(tp)
        return _annotated(_build_shape(base, inp, seen), metadata, inp)
    if isinstance(tp, TypeAliasType) or type(tp).__name__ == "TypeAliasType":  # `type X = ...`
        if tp in seen:  # a recursive alias: the walk would not end
            return _ANY
        return _build_shape(tp.__value__, inp, (*seen, tp))
    if origin in _UNION_ORIGINS:
        args = typing.get_args(tp)
        return _union(tuple(_build_shape(a, inp, seen) for a in args), tuple(_tag_of(a) for a in args))
    if origin is typing.Literal:
        return _LEAF
    if isinstance(tp, type) and origin is None:
        if issubclass(tp, RootModel):
            return _field_shape(tp, "root", tp.model_fields["root"], inp)
        if issubclass(tp, BaseModel):
            return _ModelShape(tp)
        if issubclass(tp, _LEAF_TYPES):
            return _LEAF
        if not issubclass(tp, (cabc.Mapping, cabc.Iterable)):
            return _ANY  # dataclasses, bare Json, arbitrary types: not modelled, so accept anything
    container = origin if isinstance(origin, type) else tp if isinstance(tp, type) else None
    if container is None:
        return _ANY  # Any, TypeVar, forward references, NewType ...
    args = typing.get_args(tp)
    if issubclass(container, cabc.Mapping):
        return _MapShape(_build_shape(args[1], inp, seen) if len(args) == 2 else _ANY)
    if issubclass(container, tuple) and args and not (len(args) == 2 and args[1] is Ellipsis):
        return _TupleShape(tuple(_build_shape(a, inp, seen) for a in args if a != ()))
    if issubclass(container, (cabc.Sequence, cabc.Set)) and not issubclass(container, (str, bytes)):
        return _SeqShape(_build_shape(args[0], inp, seen) if args else _ANY)
    return _ANY


def _annotated(inner: _Shape, metadata: Sequence[Any], inp: bool) -> _Shape:
    discriminator: Any = None
    for item in metadata:
        if isinstance(item, _REWRITERS[inp]) or (inp and (isinstance(item, _JSON) or item is _JSON)):
            return _ANY
        if isinstance(item, FieldInfo):
            if any(isinstance(m, _REWRITERS[inp]) for m in item.metadata):
                return _ANY
            discriminator = item.discriminator or discriminator
        elif isinstance(item, Discriminator):
            discriminator = item
    return _discriminated(inner, discriminator)


def _discriminated(inner: _Shape, discriminator: Any) -> _Shape:
    if discriminator is None or not isinstance(inner, _UnionShape):
        return inner
    rule = discriminator.discriminator if isinstance(discriminator, Discriminator) else discriminator
    return _UnionShape(inner.members, inner.tags, rule)


def _union(members: tuple[_Shape, ...], tags: tuple[Any, ...]) -> _Shape:
    if any(m is _ANY for m in members):
        return _ANY
    useful = [(m, t) for m, t in zip(members, tags) if m is not _LEAF]
    if not useful:
        return _LEAF
    if len(useful) == 1 and useful[0][1] is None:  # Optional[X]
        return useful[0][0]
    return _UnionShape(tuple(m for m, _ in useful), tuple(t for _, t in useful))


def _tag_of(tp: Any) -> Any:
    if typing.get_origin(tp) is typing.Annotated:
        for item in typing.get_args(tp)[1:]:
            if isinstance(item, Tag):
                return item.tag
    return None


def _field_shape(cls: type[BaseModel], name: str, field: FieldInfo, inp: bool) -> _Shape:
    annotation = field.annotation
    if annotation is None or isinstance(annotation, (str, typing.ForwardRef)):
        return _ANY  # not resolved (yet): judge nothing
    if name in _rewritten_fields(cls, inp):
        return _ANY
    # pydantic moves a field's top-level ``Annotated`` metadata (validators, Discriminator) here
    return _discriminated(_annotated(_shape(annotation, inp), field.metadata, inp), field.discriminator)


# --------------------------------------------------------------------------- models


def _decorators(cls: type[BaseModel]) -> Any:
    # pydantic keeps the decorator registry in ``__pydantic_decorators__`` (a DecoratorInfos);
    # there is no public way to ask whether a model has a before/wrap validator. This is the one
    # place that reads it, and anything unexpected there counts as "may rewrite its input".
    return getattr(cls, "__pydantic_decorators__", None)


def _rewritten_fields(cls: type[BaseModel], inp: bool) -> frozenset[str]:
    """Fields whose input (``inp``) or output (not ``inp``) a field validator may replace."""
    found: set[str] = set()
    decorators = _decorators(cls)
    for dec in getattr(decorators, "field_validators", {}).values():
        if getattr(dec.info, "mode", "after") in (("before", "wrap", "plain") if inp else ("wrap", "plain")):
            found.update(dec.info.fields)
    if "*" in found:
        found.update(cls.model_fields)
    return frozenset(found)


def _rewrites_input(cls: type[BaseModel]) -> bool:
    decorators = _decorators(cls)
    if decorators is None:
        return True
    return any(getattr(d.info, "mode", "after") != "after" for d in decorators.model_validators.values())


class _ModelInfo:
    """What one model class accepts: input keys for the file walk (``fold``: lower-cased), and
    output names for handler paths."""

    __slots__ = ("aliases", "extra", "hints", "inputs", "keys", "name", "names", "opaque", "shown")

    def __init__(
        self,
        name: str,
        extra: str | None,  # the model's own ``extra`` rule; None: pydantic's default (ignore)
        opaque: bool,  # a model validator may rewrite the input: judge no key of it
        keys: dict[str, tuple[int, int, _Shape]],  # input key -> (field index, priority, input shape)
        shown: dict[str, str],  # input key (folded if folding) -> how to show it
        hints: dict[str, str],  # a field name that is not an input key -> the alias to use instead
        inputs: dict[str, tuple[str, ...]],  # field name -> its input keys, in the order pydantic tries them
        names: dict[str, _Shape],  # field name -> output shape (what a snapshot holds)
        aliases: dict[str, _Shape],  # field names and their input keys -> output shape
    ) -> None:
        self.name = name
        self.extra = extra
        self.opaque = opaque
        self.keys = keys
        self.shown = shown
        self.hints = hints
        self.inputs = inputs
        self.names = names
        self.aliases = aliases


# Per model class (weakly: a class that goes away takes its entry along), so a config of thousands
# of section classes is analysed once, not once per load.
_INFOS: weakref.WeakKeyDictionary[type[BaseModel], dict[bool, _ModelInfo]] = weakref.WeakKeyDictionary()


def _by_name(config: Mapping[str, Any]) -> tuple[bool, bool]:
    """``(by_alias, by_name)`` as pydantic resolves them from a model config."""
    by_alias = config.get("validate_by_alias") is not False
    by_name = config.get("validate_by_name")
    if by_name is None:
        by_name = config.get("populate_by_name")
    if by_name is None:
        by_name = not by_alias
    return by_alias, bool(by_name)


def _alias_keys(alias: Any, shape: _Shape) -> list[tuple[str, _Shape]]:
    if isinstance(alias, str):
        return [(alias, shape)]
    if isinstance(alias, AliasPath):
        head = alias.path[0] if alias.path else None
        if not isinstance(head, str):
            return []
        return [(head, shape if len(alias.path) == 1 else _ANY)]  # deeper: not worth guessing
    if isinstance(alias, AliasChoices):
        return [key for choice in alias.choices for key in _alias_keys(choice, shape)]
    return []


def _info(cls: type[BaseModel], fold: bool) -> _ModelInfo:
    per_class = _INFOS.get(cls)
    hit = per_class.get(fold) if per_class is not None else None
    if hit is not None:
        return hit
    config = cls.model_config
    by_alias, by_name = _by_name(config)
    keys: dict[str, tuple[int, int, _Shape]] = {}
    shown: dict[str, str] = {}
    hints: dict[str, str] = {}
    inputs: dict[str, tuple[str, ...]] = {}
    names: dict[str, _Shape] = {}
    aliases: dict[str, _Shape] = {}
    for index, (name, field) in enumerate(cls.model_fields.items()):
        shape = _field_shape(cls, name, field, True)
        names[name] = _field_shape(cls, name, field, False)
        alias = field.validation_alias if field.validation_alias is not None else field.alias
        accepted = _alias_keys(alias, shape) if by_alias and alias is not None else []
        if by_name or not accepted:
            accepted.append((name, shape))
        elif accepted[0][0] != name:
            hints[name.lower() if fold else name] = accepted[0][0]
        inputs[name] = tuple(key for key, _ in accepted)
        for priority, (key, key_shape) in enumerate(accepted):
            aliases.setdefault(key, names[name])
            folded = key.lower() if fold else key
            if folded not in keys:
                keys[folded] = (index, priority, key_shape)
                shown[folded] = key
    aliases = {**aliases, **names}  # a field's own name wins over another field's alias
    name, extra, opaque = _display_name(cls), config.get("extra"), _rewrites_input(cls)
    info = _ModelInfo(name, extra, opaque, keys, shown, hints, inputs, names, aliases)
    _INFOS.setdefault(cls, {})[fold] = info
    return info


def _display_name(cls: type) -> str:
    qualname = cls.__qualname__  # a snapshot model is "<Class>.Snapshot": show the user's class
    return qualname.rsplit(".", 2)[-2] if qualname.endswith(".Snapshot") else cls.__name__


def _suggest(info: _ModelInfo, key: str) -> str | None:
    hint = info.hints.get(key)
    if hint is not None:
        return hint
    folded = {k.lower(): k for k in info.shown}  # a wrong case is a typo too
    import difflib  # noqa: PLC0415 - only when a key is unknown

    close = difflib.get_close_matches(key.lower(), list(folded), n=1)
    return info.shown[folded[close[0]]] if close else None


def _model_class(model_cls: type) -> type[BaseModel]:
    snapshot = getattr(model_cls, "__snapshot__", None)  # a ReloadableSettings class: its snapshot model
    return snapshot if isinstance(snapshot, type) and issubclass(snapshot, BaseModel) else model_cls


# --------------------------------------------------------------------------- the file walk

_Found = list[tuple[tuple[Any, ...], str | None]]  # (key path, suggestion)
_NOTHING: Any = object()


def _walk(shape: _Shape, value: Any, parts: tuple[Any, ...], out: _Found, fold: bool = False) -> None:
    if type(value) is Packed:  # a packed section (see _packed): walked once, what it held remembered on it
        memo = value.memo
        if memo is None or memo[0] is not shape or memo[1] != parts or memo[2] != fold:
            found: _Found = []
            _walk(shape, value.value(), parts, found, fold)
            memo = value.memo = (shape, parts, fold, tuple(found))
        out.extend(memo[3])
        return
    if isinstance(shape, _ModelShape):
        _walk_model(shape.cls, value, parts, out, fold)
    elif isinstance(shape, _MapShape):
        if isinstance(value, Mapping) and not isinstance(shape.value, (_Anything, _Leaf)):
            for key, child in value.items():
                _walk(shape.value, child, (*parts, key), out)
    elif isinstance(shape, _SeqShape):
        if isinstance(value, (list, tuple)) and not isinstance(shape.item, (_Anything, _Leaf)):
            for index, child in enumerate(value):
                _walk(shape.item, child, (*parts, index), out)
    elif isinstance(shape, _TupleShape):
        if isinstance(value, (list, tuple)):
            for index, (item, child) in enumerate(zip(shape.items, value)):
                _walk(item, child, (*parts, index), out)
    elif isinstance(shape, _UnionShape):
        _walk_union(shape, value, parts, out)


def _walk_model(cls: type[BaseModel], value: Any, parts: tuple[Any, ...], out: _Found, fold: bool) -> None:
    info = _info(cls, fold)
    if info.opaque or not isinstance(value, Mapping):
        return
    chosen: dict[int, tuple[int, Any]] = {}  # field index -> (priority, key): the input pydantic uses
    for key in value:
        hit = info.keys.get(key.lower() if fold and isinstance(key, str) else key)
        if hit is not None and (hit[0] not in chosen or hit[1] < chosen[hit[0]][0]):
            chosen[hit[0]] = (hit[1], key)
    used = {key for _, key in chosen.values()}
    for key, child in value.items():
        folded = key.lower() if fold and isinstance(key, str) else key
        hit = info.keys.get(folded)
        if hit is None:
            if info.extra is None:  # an explicit rule (ignore, allow, forbid) is the model's own
                out.append(((*parts, key), _suggest(info, folded) if isinstance(folded, str) else None))
        elif key in used:  # another input of the same field that pydantic does not read: left alone
            _walk(hit[2], child, (*parts, key), out)


def _walk_union(shape: _UnionShape, value: Any, parts: tuple[Any, ...], out: _Found) -> None:
    if shape.discriminator is not None:
        member = _pick(shape, value)
        if member is not None:
            _walk(member, value, parts, out)
        return  # no member matches the tag: validation rejects the value anyway
    kinds = (_ModelShape, _MapShape) if isinstance(value, Mapping) else (_SeqShape, _TupleShape)
    found: list[_Found] = []
    for member in shape.members:
        if not isinstance(member, (*kinds, _UnionShape)):
            continue  # a scalar or a list member does not take a mapping (and so on)
        sub: _Found = []
        _walk(member, value, parts, sub)
        if not sub:
            return  # a member accepts every key
        found.append(sub)
    if found:  # ambiguous: a key is unknown only if no member accepts it
        common = set.intersection(*({p for p, _ in sub} for sub in found))
        out.extend(item for item in found[0] if item[0] in common)


def _pick(shape: _UnionShape, value: Any) -> _Shape | None:
    """The member a discriminated union validates ``value`` as, or ``None`` if none matches."""
    rule = shape.discriminator
    if callable(rule):
        try:
            tag = rule(value)
        except Exception:  # noqa: BLE001 - the user's function; validation will report it
            return None
        return next((m for m, t in zip(shape.members, shape.tags) if t is not None and t == tag), None)
    if not isinstance(value, Mapping):
        return None
    for member in _flat(shape.members):
        if not isinstance(member, _ModelShape):
            continue
        field = member.cls.model_fields.get(str(rule))
        if field is None:
            continue
        inputs = _info(member.cls, False).inputs.get(str(rule), ())
        raw = next((value[key] for key in inputs if key in value), _NOTHING)
        if raw is not _NOTHING and _tag_matches(field.annotation, raw):
            return member
    return None


def _flat(members: tuple[_Shape, ...]) -> list[_Shape]:
    flat: list[_Shape] = []
    for member in members:
        flat.extend(_flat(member.members) if isinstance(member, _UnionShape) else [member])
    return flat


def _tag_matches(annotation: Any, raw: Any) -> bool:
    for lit in _literals(annotation):
        if lit == raw or (isinstance(lit, enum.Enum) and lit.value == raw):
            return True
    return False


def _literals(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return list(typing.get_args(annotation))
    if origin is typing.Annotated:
        return _literals(typing.get_args(annotation)[0])
    if origin in _UNION_ORIGINS:
        return [lit for a in typing.get_args(annotation) for lit in _literals(a)]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return list(annotation)
    return []


def find_unknown(
    model_cls: type,
    data: Mapping[str, Any] | None,
    *,
    source: str,
    fmt: str,
    raw: bytes | None,
    at: Sequence[str] = (),
) -> tuple[UnknownKey, ...]:
    """The keys in ``data`` (one parsed file) that no field of ``model_cls`` accepts, in file order.

    Args:
        model_cls: the settings model (a snapshot model, a ``ReloadableSettings`` class, or any
            pydantic model).
        data: the file's parsed content (the part that sits under ``at``).
        source: the file, as it should be shown.
        fmt: ``"yaml"``, ``"toml"`` or ``"json"``: how ``raw`` is located.
        raw: the file's bytes, to find line and column (of the first ``MAX_LOCATED`` keys);
            ``None`` leaves them out.
        at: the keys above ``data`` in the file (a YAML source's ``yaml_config_section``).

    Returns:
        One [UnknownKey][livesettings._unknown.UnknownKey] per unknown key (nothing below it).
    """
    cls = _model_class(model_cls)
    if not data:
        return ()
    fold = issubclass(cls, BaseSettings) and not cls.model_config.get("case_sensitive", False)
    found: _Found = []
    _walk(_ModelShape(cls), data, (), found, fold)
    result = []
    for n, (parts, suggestion) in enumerate(found):
        # locate() re-reads the document each time (44 ms for a 200 KB YAML file): bound the cost
        located = raw is not None and n < MAX_LOCATED
        pos = _parsers.locate(fmt, raw, [*at, *parts], key=True) if located and raw is not None else None
        line, column = pos if pos is not None else (None, None)
        result.append(UnknownKey(".".join(map(str, parts)), source, line, column, suggestion))
    return tuple(result)


def _section(data: Mapping[str, Any], section: str) -> tuple[tuple[str, ...], Any] | None:
    """``(keys, value)`` of ``section`` in ``data``, resolved like pydantic-settings' YAML source
    (the longest literal key first, then splitting at dots); ``None`` if it is not there."""
    if not isinstance(data, Mapping):
        return None
    if section in data:
        return (section,), data[section]
    parts = section.split(".")
    for i in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in data:
            rest = _section(data[prefix], ".".join(parts[i:]))
            return None if rest is None else ((prefix, *rest[0]), rest[1])
    return None


def find_unknown_in_load(
    model_cls: type, ctx: LoadContext, cache: dict[Any, tuple[UnknownKey, ...]] | None = None
) -> tuple[UnknownKey, ...]:
    """The unknown keys of every YAML, TOML and JSON file one load read, source by source.

    ``.env`` files and the environment are not checked: unrelated variables are normal there.
    A YAML source's ``yaml_config_section`` is honoured: only the keys under it are checked.
    ``cache`` (kept by the caller for one model class) skips files whose bytes did not change.
    """
    found: list[UnknownKey] = []
    seen: set[tuple[Path, str | None]] = set()
    for record in ctx.records:
        if record.label not in _FILE_FORMATS:
            continue
        for path in record.files:
            state = ctx.files.get(path)
            if state is None or not state.parsed or (path, record.section) in seen:
                continue
            seen.add((path, record.section))
            data: Any = state.parsed
            at: tuple[str, ...] = ()
            if record.section:
                hit = _section(data, record.section)
                if hit is None:
                    continue
                at, data = hit
            if isinstance(data, Mapping):
                key = (path, record.section, state.digest)
                hit_keys = cache.get(key) if cache is not None else None
                if hit_keys is None:
                    hit_keys = find_unknown(model_cls, data, source=str(path), fmt=state.fmt, raw=state.data, at=at)
                    if cache is not None:
                        if len(cache) > 256:
                            cache.clear()
                        cache[key] = hit_keys
                found.extend(hit_keys)
    return tuple(found)


# --------------------------------------------------------------------------- handler paths

_CHECKED: dict[tuple[type, bool], set[str]] = {}


def check_path(model_cls: type, path: str, *, aliases: bool = True) -> None:
    """Reject a dotted ``path`` (for ``@on_change``, ``watch()``, ``override()``) no field can reach.

    ``""`` is everything. Paths name what a snapshot holds: field names (and, unless
    ``aliases=False``, their aliases), keys of ``dict`` fields, indices of ``list`` fields.
    Below an ``Any`` field or a model with ``extra="allow"`` anything goes; a union accepts what
    any member accepts. Accepted paths are cached per model class, so registering thousands of
    handlers costs one dict lookup each.

    Args:
        model_cls: the snapshot model or the ``ReloadableSettings`` class.
        path: the dotted path.
        aliases: accept aliases too. ``testing.override()`` writes the snapshot's dump by field
            name, where an alias would land as an unknown key: it passes ``False``.

    Raises:
        ValueError: the path cannot exist, naming the closest field, e.g.
            ``no field 'databse' in AppSettings (did you mean 'database'?)``.
    """
    cls = _model_class(model_cls)
    checked = _CHECKED.get((cls, aliases))
    if checked is not None and path in checked:
        return
    if path.strip("."):
        _check_parts(cls, path.strip(".").split("."), aliases)
    if checked is None:
        if len(_CHECKED) > 1024:
            _CHECKED.clear()
        checked = _CHECKED[(cls, aliases)] = set()
    if len(checked) < 65536:
        checked.add(path)


def _check_parts(cls: type[BaseModel], parts: list[str], aliases: bool) -> None:
    shapes: list[_Shape] = [_ModelShape(cls)]
    for depth, part in enumerate(parts):
        nxt: list[_Shape] = []
        failures: list[tuple[str, str | None]] = []  # (where, closest) per shape that refuses part
        for shape in _expand(shapes):
            if isinstance(shape, _Anything):
                return
            if isinstance(shape, _ModelShape):
                info = _info(shape.cls, False)
                known = info.aliases if aliases else info.names
                child = known.get(part)
                if child is not None:
                    nxt.append(child)
                elif info.extra == "allow":
                    return
                else:
                    import difflib  # noqa: PLC0415 - only when a key is unknown

                    matches = difflib.get_close_matches(part, list(known), n=1)
                    failures.append((f"no field {part!r} in {info.name}", matches[0] if matches else None))
            elif isinstance(shape, _MapShape):
                nxt.append(shape.value)
            elif isinstance(shape, (_SeqShape, _TupleShape)) and part.lstrip("-").isdigit():
                if isinstance(shape, _SeqShape):
                    nxt.append(shape.item)
                elif -len(shape.items) <= int(part) < len(shape.items):
                    nxt.append(shape.items[int(part)])
                else:
                    failures.append((f"no index {part} in a tuple of {len(shape.items)}", None))
            elif isinstance(shape, (_SeqShape, _TupleShape)):
                failures.append((f"{part!r} is not a list index", None))
            else:
                failures.append((f"no field {part!r}: the value is not a model or mapping", None))
        if not nxt:
            where, close = next((f for f in failures if f[1] is not None), failures[0])
            above = ".".join(parts[:depth])
            message = where + (f" at {above!r}" if above else "")
            raise ValueError(message + (f" (did you mean {close!r}?)" if close else ""))
        shapes = nxt


def _expand(shapes: list[_Shape]) -> list[_Shape]:
    out: list[_Shape] = []
    for shape in shapes:
        out.extend(_expand(list(shape.members)) if isinstance(shape, _UnionShape) else [shape])
    return out
