"""Strict, bounded parsers for config file bytes.

Every parser takes raw ``bytes``, enforces [ParseLimits][livesettings._parsers.ParseLimits] and turns every
problem into a [SourceError][livesettings.exceptions.SourceError] with a 1-based line and column. An *empty
document* (no bytes, only whitespace or comments, a YAML ``null``) returns ``None`` so the caller decides
whether empty is allowed; anything else returns a ``dict``. Nesting depth counts the containers on the path
from the top, the top-level mapping being depth 1.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import yaml
from dotenv import dotenv_values
from dotenv.parser import parse_stream
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from livesettings.exceptions import SourceError, UntrustedSourceError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

try:
    from yaml import CSafeLoader as _BaseLoader
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]  # same interface, pure Python

    _CParser = None  # type: ignore[assignment,misc]  # every document takes the strict loader

_log = logging.getLogger(__name__)
_STR, _VALUE = "tag:yaml.org,2002:str", "tag:yaml.org,2002:value"  # a `=` key is constructed as a str
_MERGE, _NULL = "tag:yaml.org,2002:merge", "tag:yaml.org,2002:null"
_Pairs = list[tuple[Node, Node]]
_Path = Sequence[str | int]


@dataclass(frozen=True)
class ParseLimits:
    """Upper bounds applied to every parse.

    Attributes:
        max_bytes: largest accepted input, checked on ``len(data)``.
        max_depth: deepest nesting of mappings/sequences (the top-level mapping is depth 1).
        max_aliases: most YAML alias references (``*ref``) in one document.
        max_nodes: most YAML nodes after alias expansion (the "billion laughs" guard).
    """

    max_bytes: int = 1_048_576
    max_depth: int = 64
    max_aliases: int = 100
    max_nodes: int = 1_000_000


_LIMITS = ParseLimits()


def _line_col(text: str, offset: int) -> tuple[int, int]:
    """Return the 1-based (line, column) of character ``offset`` in ``text``."""
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


def decode_text(data: bytes, source: str) -> str:
    """Decode config bytes: UTF-8 (BOM optional), or UTF-16/UTF-32 when a BOM says so.

    Args:
        data: the raw file content.
        source: name used in error messages.

    Returns:
        The text, without its BOM.

    Raises:
        SourceError: invalid encoding (line, column and byte offset of the bad byte) or a NUL character.
    """
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16: FF FE 00 00
        codec = "utf-32"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        codec = "utf-16"
    else:
        codec = "utf-8-sig"
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        prefix = data[: exc.start].decode(codec, errors="replace")
        line, col = _line_col(prefix, len(prefix))
        name, bad = codec.upper().replace("-SIG", ""), data[exc.start : exc.start + 1].hex()
        message = f"invalid {name}: byte 0x{bad} at byte offset {exc.start} ({exc.reason})"
        raise SourceError.at(source, message, line=line, column=col) from None
    if "\x00" in text:
        line, col = _line_col(text, text.index("\x00"))
        message = "NUL character is not allowed (a UTF-16/UTF-32 file needs a BOM)"
        raise SourceError.at(source, message, line=line, column=col)
    return text


def _prepare(data: bytes, source: str, limits: ParseLimits) -> str:
    if len(data) > limits.max_bytes:
        message = f"file is {len(data)} bytes, over the limit of {limits.max_bytes}"
        raise UntrustedSourceError.at(source, message)
    return decode_text(data, source)


def _value_error(exc: ValueError) -> str:
    return str(exc).partition("; use sys.set_int_max_str_digits")[0]  # not advice we want to pass on


@contextmanager
def _guard(source: str, fmt: str) -> Iterator[None]:
    """Turn what parsers raise on hostile input (deep nesting, 5000-digit ints) into SourceError."""
    try:
        yield
    except SourceError:
        raise
    except RecursionError:
        raise SourceError.at(source, f"invalid {fmt}: nesting too deep") from None
    except ValueError as exc:
        raise SourceError.at(source, f"invalid {fmt} value: {_value_error(exc)}") from None


# ---------------------------------------------------------------------------------------------- YAML


class _StrictConstructorMixin(SafeConstructor):
    """SafeConstructor rejecting duplicate and non-string keys; ValueErrors become marked errors."""

    def flatten_mapping(self, node: MappingNode) -> None:
        """Resolve ``<<``: own keys win, then earlier merge sources over later ones.

        Replaces PyYAML 6.0.4's version, which de-duplicates merged keys by ``id()`` of the key string and so
        lets a source's merged value beat that source's own override. Each node's own pairs are remembered
        first, because a parent's merge can flatten a node before the node itself is constructed.
        """
        if all(k.tag != _MERGE and k.tag != _VALUE for k, _ in node.value):
            return  # the common case: nothing to merge
        originals: dict[int, _Pairs] = self.__dict__.setdefault("_ls_originals", {})
        if id(node) in originals:
            return
        originals[id(node)] = list(node.value)
        merged: dict[object, tuple[Node, Node]] = {}
        own: _Pairs = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE:
                own.append((key_node, value_node))
                key_node.tag = _STR if key_node.tag == _VALUE else key_node.tag
                continue
            for src in value_node.value if isinstance(value_node, SequenceNode) else [value_node]:
                if not isinstance(src, MappingNode):
                    message = f"can only merge mappings, not a {src.id}"
                    raise ConstructorError(None, None, message, src.start_mark)
                self.flatten_mapping(src)
                last_wins = {(k.tag, k.value) if isinstance(k, ScalarNode) else id(k): (k, v)
                             for k, v in src.value}
                for key, pair in last_wins.items():
                    merged.setdefault(key, pair)
        node.value = [*merged.values(), *own]

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, MappingNode):  # `!!map x`, `!!set x`: PyYAML's own "expected a mapping node"
            return super().construct_mapping(node, deep=deep)
        seen: dict[str, Node] = {}
        for key_node, _ in self.__dict__.get("_ls_originals", {}).get(id(node), node.value):
            if key_node.tag == _MERGE:
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag not in (_STR, _VALUE):
                shown = key_node.value if isinstance(key_node, ScalarNode) else key_node.id
                raise ConstructorError(None, None, f"mapping key {shown!r} is not a string (quote it)",
                                       key_node.start_mark)
            first = seen.setdefault(key_node.value, key_node)
            if first is not key_node:
                first_line = first.start_mark.line + 1
                message = f"duplicate key {key_node.value!r} (first defined at line {first_line})"
                raise ConstructorError(None, None, message, key_node.start_mark)
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except ValueError as exc:  # a 5000-digit integer, an impossible date ...
            message = f"invalid value: {_value_error(exc)}"
            raise ConstructorError(None, None, message, node.start_mark) from exc
        except (KeyError, AttributeError, TypeError) as exc:
            # PyYAML's scalar constructors assume the implicit resolver matched: an explicit tag on a
            # value it does not fit (`!!bool :yes`, `!!timestamp soon`) fails with a bare KeyError
            # or AttributeError. Report it like any invalid value, at the node.
            shown = repr(node.value) if isinstance(node, ScalarNode) else f"a {getattr(node, 'id', 'node')}"
            message = f"invalid value for {node.tag.replace('tag:yaml.org,2002:', '!!')}: {shown}"
            raise ConstructorError(None, None, message, node.start_mark) from exc


class _StrictLoader(_StrictConstructorMixin, _BaseLoader):
    """The safe loader (C when available) with the strict constructor."""


YAML_LOADER: type = _StrictLoader


# The fast path: plain containers straight from libyaml's event stream, in one iterative pass. It decides
# nothing itself: whatever it does not handle the way the strict loader would (aliases and anchors, tags,
# merge keys, timestamps, duplicate or non-string keys, limits, errors, several documents, directives) makes it
# return _FALLBACK and the strict loader above parses the document again, so results and errors stay its own.

_FALLBACK: Any = object()
_INT, _FLOAT, _BOOL = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"
_Rules = tuple[tuple[str, "re.Pattern[str]"], ...]


def _implicit_rules() -> dict[str, _Rules] | None:
    """The loader's own implicit resolvers (PyYAML's regexes) by first character, as ``resolve`` looks them up.

    ``None`` (fast path off) when wildcard resolvers exist: then every first character would need them.
    """
    table = _StrictLoader.yaml_implicit_resolvers
    if table.get(None):
        return None  # pragma: no cover - PyYAML registers none
    return {first: tuple(rules) for first, rules in table.items() if first is not None}


_IMPLICIT = _implicit_rules()
_SAFE = SafeConstructor()  # only its stateless scalar constructors are used
_BOOLS: dict[str, bool] = SafeConstructor.bool_values


def _plain_scalar(value: str, rules: _Rules) -> Any:
    """A plain scalar whose first character has implicit resolvers: what SafeConstructor makes of it.

    Decimal ints and floats without ``_``, ``:``, ``.inf`` or ``.nan`` are converted here (the same numbers
    ``construct_yaml_int``/``construct_yaml_float`` return for them); other ints and floats go through those
    constructors; tags other than int, float, bool and null (timestamps, ``<<``, ``=``) return _FALLBACK.
    """
    for tag, regexp in rules:  # the first matching resolver wins, as in BaseResolver.resolve
        if regexp.match(value):
            break
    else:
        return value
    if tag == _INT:
        digits = value[1:] if value[0] in "+-" else value
        if digits.isascii() and digits.isdigit() and (digits[0] != "0" or digits == "0"):
            return int(value)  # ValueError past the int digit limit: the strict loader reports it
        return _SAFE.construct_yaml_int(ScalarNode(tag, value))
    if tag == _FLOAT:
        if "_" not in value and ":" not in value and value[-1] in "0123456789.":
            return float(value)
        return _SAFE.construct_yaml_float(ScalarNode(tag, value))
    if tag == _BOOL:
        return _BOOLS[value.lower()]
    return None if tag == _NULL else _FALLBACK


# Plain scalars that have implicit resolvers, as _plain_scalar resolved them (ints, floats, bools,
# None and strings: immutable, and a function of the text alone). A reload parses mostly the same
# scalars as the last one: a lookup instead of the resolver regexes.
_RESOLVED: dict[str, Any] = {}
_RESOLVED_MAX = 8192


def _fast_yaml(text: str, limits: ParseLimits, *, mapping: bool, layout: list[Any] | None = None) -> Any:
    """Build the document from libyaml's events, or return _FALLBACK for the strict loader to decide.

    Args:
        text: the decoded document.
        limits: ``max_depth`` and ``max_nodes`` (past either, the strict loader reports it).
        mapping: the top level must be a mapping or null (``parse_yaml``); else anything (``parse_yaml_value``).
        layout: if given, receives ``(offset, key, nodes before it)`` for each top-level key of a block
            mapping whose keys all start a line (else it is left empty); see ``_Layout``.
    """
    if _CParser is None or _IMPLICIT is None or YAML_LOADER is not _StrictLoader:  # no libyaml, or swapped
        return _FALLBACK
    rules_for = _IMPLICIT.get
    seen = _RESOLVED.get
    checked = "!" in text or "&" in text  # a tag needs a '!' and an anchor a '&': without both, no event has one
    max_depth = limits.max_depth
    parser = _CParser(text)
    get: Callable[[], Any] = parser.get_event  # events are told apart by exact type below
    try:
        get()  # StreamStartEvent
        event = get()
        if type(event) is StreamEndEvent:
            return None
        if type(event) is not DocumentStartEvent or event.version or event.tags:
            return _FALLBACK
        parents: list[tuple[Any, Any]] = []  # the enclosing containers, each with its pending key
        container: Any = None  # the container being filled; None at the document level
        key: Any = None  # in a mapping: the key waiting for its value
        root, nodes = _FALLBACK, 0
        while True:
            event = get()
            kind = type(event)
            if kind is ScalarEvent:
                if checked and (event.anchor is not None or event.tag is not None):
                    return _FALLBACK
                value = event.value
                if event.implicit[0]:  # plain: resolved as BaseResolver.resolve would
                    rules = rules_for(value[:1])
                    if rules is not None:
                        resolved = seen(value, _FALLBACK)
                        if resolved is _FALLBACK:
                            resolved = _plain_scalar(value, rules)
                            if resolved is _FALLBACK:
                                return _FALLBACK
                            if len(_RESOLVED) >= _RESOLVED_MAX:
                                _RESOLVED.clear()
                            _RESOLVED[value] = resolved
                        value = resolved
                nodes += 1
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if checked and (event.anchor is not None or event.tag is not None):
                    return _FALLBACK
                if len(parents) >= max_depth:  # this container's depth is len(parents) + 1
                    return _FALLBACK
                if layout is not None and not parents and (kind is SequenceStartEvent or event.flow_style):
                    layout = None  # a flow mapping, or not a mapping: no layout
                parents.append((container, key))
                container, key = ({} if kind is MappingStartEvent else []), None
                nodes += 1
                continue
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                value = container
                container, key = parents.pop()
            elif kind is DocumentEndEvent:
                break
            else:  # an alias
                return _FALLBACK
            if container is None:
                root = value
            elif type(container) is list:
                container.append(value)
            elif key is None:
                if type(value) is not str or value in container:  # not a string, or a duplicate
                    return _FALLBACK
                key = value
                if layout is not None and len(parents) == 1:  # a top-level key
                    mark = event.start_mark
                    if mark.column:
                        layout = None
                    else:
                        layout.append((mark.index, value, nodes - 1))
            else:
                container[key] = value
                key = None
        if type(get()) is not StreamEndEvent or nodes > limits.max_nodes:
            return _FALLBACK
        if layout is not None:
            layout.append((len(text), None, nodes))  # the end: the last entry's nodes and extent
    except Exception:  # noqa: BLE001 - syntax errors, huge ints ...: the strict loader reports them
        return _FALLBACK
    finally:
        parser.dispose()
    if mapping and root is not None and type(root) is not dict:
        return _FALLBACK
    return root


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, SequenceNode) else []


def _check_graph(root: Node, source: str, limits: ParseLimits) -> None:
    """Walk the node graph iteratively; enforce depth, alias count, no cycles and the expanded size."""

    def fail(node: Node, message: str) -> SourceError:
        mark = node.start_mark
        return SourceError.at(source, message, line=mark.line + 1, column=mark.column + 1)

    sizes: dict[int, int] = {}  # finished node id -> expanded node count
    heights: dict[int, int] = {}  # finished node id -> container levels at and below it
    active, aliases = {id(root)}, 0
    # frames: node, its depth, iterator over its children, [expanded size so far, height so far]
    stack: list[tuple[Node, int, Iterator[Node], list[int]]] = [(root, 1, iter(_children(root)), [1, 1])]
    while stack:
        node, depth, children, acc = stack[-1]
        if acc[0] > limits.max_nodes:
            raise fail(node, f"document expands to more than {limits.max_nodes} nodes (alias bomb?)")
        child = next(children, None)
        if child is None:
            stack.pop()
            active.discard(id(node))
            sizes[id(node)], heights[id(node)] = acc
            if stack:
                stack[-1][3][0] += acc[0]
                stack[-1][3][1] = max(stack[-1][3][1], acc[1] + 1)
        elif id(child) in active:
            raise fail(child, "recursive alias: a node contains itself")
        elif id(child) in sizes:  # reached before: an alias
            aliases += 1
            if aliases > limits.max_aliases:
                raise fail(child, f"more than {limits.max_aliases} alias references")
            if depth + heights[id(child)] > limits.max_depth:
                raise fail(child, f"nesting deeper than {limits.max_depth} levels (through an alias)")
            acc[0] += sizes[id(child)]
            acc[1] = max(acc[1], heights[id(child)] + 1)
        elif isinstance(child, ScalarNode):
            sizes[id(child)], heights[id(child)] = 1, 0
            acc[0] += 1
        elif depth + 1 > limits.max_depth:
            raise fail(child, f"nesting deeper than {limits.max_depth} levels")
        else:
            active.add(id(child))
            stack.append((child, depth + 1, iter(_children(child)), [1, 1]))


def _check_tree_depth(root: Node, source: str, limits: ParseLimits) -> None:
    """Depth check for a document without aliases (a tree): containers only, no bookkeeping."""
    stack: list[tuple[Node, int]] = [(root, 1)]
    limit = limits.max_depth
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            mark = node.start_mark
            raise SourceError.at(
                source, f"nesting deeper than {limit} levels", line=mark.line + 1, column=mark.column + 1
            )
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if not isinstance(value, ScalarNode):
                    stack.append((value, depth + 1))
                if not isinstance(key, ScalarNode):
                    stack.append((key, depth + 1))
        elif isinstance(node, SequenceNode):
            stack.extend((child, depth + 1) for child in node.value if not isinstance(child, ScalarNode))


def _yaml_error(exc: yaml.YAMLError, text: str, source: str) -> SourceError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if isinstance(exc, yaml.reader.ReaderError):
        (line, col), message = _line_col(text, exc.position), f"unacceptable character #x{exc.character:04x}"
    elif isinstance(exc, yaml.MarkedYAMLError) and mark is not None:
        line, col = mark.line + 1, mark.column + 1
        message = " ".join(p for p in (exc.problem, exc.context and f"({exc.context})") if p)
    else:
        return SourceError.at(source, f"invalid YAML: {exc}")
    return SourceError.at(source, f"invalid YAML: {message}", line=line, column=col)


def parse_yaml(
    data: bytes, source: str, limits: ParseLimits = _LIMITS, *, layouts: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Parse one YAML document whose top level is a mapping with string keys (safe loading only).

    Ordinary documents are built straight from libyaml's events; anything unusual (and every error) goes
    through the strict loader, whose composed node graph is checked against ``limits`` before any Python
    object is constructed. Both give the same result.

    ``layouts``: the caller's memo of the last document parsed per ``source`` (see ``_Layout``);
    with it, an edit inside one top-level entry of that document parses only that entry. The file
    reader of each settings object keeps one, so the memo lives and dies with the object.

    Raises:
        SourceError: syntax errors, duplicate or non-string keys, limits exceeded, non-mapping top level.
    """
    text = _prepare(data, source, limits)
    if layouts is None:
        result = _fast_yaml(text, limits, mapping=True)
        return _strict_mapping(text, data, source, limits) if result is _FALLBACK else result
    last = layouts.get(source)
    if last is not None and last.limits == limits:
        patched = last.patch(text)
        if patched is not None:
            layouts[source] = patched
            return patched.result  # type: ignore[no-any-return]
    found: list[Any] = []
    result = _fast_yaml(text, limits, mapping=True, layout=found)
    if result is _FALLBACK:
        layouts.pop(source, None)
        return _strict_mapping(text, data, source, limits)
    if type(result) is dict and found and found[-1][1] is None and len(found) == len(result) + 1:
        layouts[source] = _Layout(text, result, tuple(found), limits)
    else:
        layouts.pop(source, None)
    return result  # type: ignore[no-any-return]  # a mapping or None: _fast_yaml(mapping=True)


class _Layout(NamedTuple):
    """A parsed YAML document and where each of its top-level entries sits, to parse an edit of it
    by parsing only the entry that changed.

    A reload after a one-value edit would otherwise parse the whole file again. The document is a
    block mapping whose every key starts a line (``_fast_yaml`` records the entries); each entry
    runs from its key to the next key. An entry, parsed on its own, gives what the whole document
    gives for it: nothing outside it (no anchor, alias, tag or directive: the fast path has none)
    can change how it reads, and a line that starts at column 0 ends every block construct in it.
    So if a new text differs from the old one only inside one entry, that entry's new text alone
    is parsed (by the same fast path) and must be one top-level key that starts its line, with no
    document marker in it; anything else (two entries changed, an entry split or joined, a flow
    collection or quote left open, a limit) parses the whole text, as always.

    Attributes:
        text: the document.
        result: what it parsed to (shared, never changed: the reader hands out copies).
        entries: ``(offset, key, nodes before it)`` per entry, then ``(len(text), None, nodes)``.
        limits: the limits it was parsed under.
    """

    text: str
    result: dict[str, Any]
    entries: tuple[tuple[int, str | None, int], ...]
    limits: ParseLimits

    def patch(self, text: str) -> _Layout | None:
        """The layout of ``text``, parsing only the one entry it changed; ``None`` if it cannot."""
        old, entries = self.text, self.entries
        if text == old:
            return self
        head = entries[0][0]
        if text[:head] != old[:head]:
            return None
        k = 0  # the first entry that differs
        while k < len(entries) - 1 and text[entries[k][0]:entries[k + 1][0]] == old[entries[k][0]:entries[k + 1][0]]:
            k += 1
        if k == len(entries) - 1:  # all entries equal: only text past the end was added
            return None
        start = entries[k][0]
        tail = old[entries[k + 1][0]:]
        shift = len(text) - len(old)
        end = entries[k + 1][0] + shift  # where the unchanged rest starts in ``text``
        if end <= start or not text.endswith(tail) or (tail and text[end - 1] != "\n"):
            return None
        chunk = text[start:end]
        if chunk.startswith(("---", "...")) or any(mark in chunk for mark in _NOT_IN_ENTRY):
            return None  # a document marker (or an unusual line break or BOM): the whole text decides
        found: list[Any] = []
        value = _fast_yaml(chunk, self.limits, mapping=True, layout=found)
        if value is _FALLBACK or type(value) is not dict or len(value) != 1 or len(found) != 2:
            return None
        (key, new), nodes = next(iter(value.items())), found[1][2] - 1  # less its own root mapping
        old_key = entries[k][1]
        if key != old_key and key in self.result:
            return None  # a duplicate key: the strict loader reports it
        total = entries[-1][2] - (entries[k + 1][2] - entries[k][2]) + nodes
        if total > self.limits.max_nodes:
            return None
        result = {(key if name == old_key else name): (new if name == old_key else v) for name, v in self.result.items()}
        moved = tuple(
            (offset + shift, name, count - (entries[k + 1][2] - entries[k][2]) + nodes)
            for offset, name, count in entries[k + 1:]
        )
        return _Layout(text, result, (*entries[:k], (start, key, entries[k][2]), *moved), self.limits)


_NOT_IN_ENTRY = ("\n---", "\n...", "\r---", "\r...", "\x85", "\u2028", "\u2029", "\ufeff")

def _parse_yaml_strict(data: bytes, source: str, limits: ParseLimits = _LIMITS) -> dict[str, Any] | None:
    """[parse_yaml][livesettings._parsers.parse_yaml] through the strict loader only (the reference)."""
    return _strict_mapping(_prepare(data, source, limits), data, source, limits)


def _strict_mapping(text: str, data: bytes, source: str, limits: ParseLimits) -> dict[str, Any] | None:
    loader: Any = None
    try:
        with _guard(source, "YAML"):
            loader = YAML_LOADER(text)
            node = loader.get_single_node()
            if node is None or (isinstance(node, ScalarNode) and node.tag == _NULL):
                return None
            if not isinstance(node, MappingNode):
                kind = "a list" if isinstance(node, SequenceNode) else "a scalar"
                raise SourceError.at(source, f"the top level must be a mapping, not {kind}",
                                     line=node.start_mark.line + 1, column=node.start_mark.column + 1)
            if b"*" in data:  # an alias needs a '*': only then is the full graph check needed
                _check_graph(node, source, limits)
            else:
                _check_tree_depth(node, source, limits)
            result = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, source) from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(result, dict):  # e.g. `!!set {a, b}`
        raise SourceError.at(source, f"the top level must be a mapping, not {type(result).__name__}", line=1)
    return result


# parse_yaml_value's results that are immutable scalars, by the bytes parsed: an etcd prefix is
# decoded whole on every revision while most of its keys hold what they held before.
_VALUES: dict[bytes, Any] = {}
_VALUES_MAX = 8192
_VALUE_BYTES_MAX = 256  # longer values are not kept: bounded memory, and no long text outlives its key
_SCALAR_TYPES = (str, int, float, bool, type(None))
# One ASCII word that libyaml reads as a single plain scalar: no space, quote, comment, flow or
# block indicator, tag, anchor or alias; it starts with a letter, digit or `_`, or with a sign
# and one of those or `.` (`-5`, `+.inf`; never `--`, so never a `---` document marker).
_PLAIN_TOKEN = re.compile(r"(?:[A-Za-z0-9_]|[-+][A-Za-z0-9_.])[A-Za-z0-9_.+-]*")


def _plain_token(text: str) -> Any:
    """What the fast path makes of a one-word document matching ``_PLAIN_TOKEN`` (no libyaml call),
    or _FALLBACK. The same lookups as ``_fast_yaml``'s plain scalars."""
    rules = _IMPLICIT.get(text[:1]) if _IMPLICIT is not None else None
    if rules is None:
        return text if _IMPLICIT is not None else _FALLBACK
    resolved = _RESOLVED.get(text, _FALLBACK)
    if resolved is _FALLBACK:
        try:
            resolved = _plain_scalar(text, rules)
        except ValueError:  # an int past the digit limit: the strict loader reports it
            return _FALLBACK
        if resolved is _FALLBACK:
            return _FALLBACK
        if len(_RESOLVED) >= _RESOLVED_MAX:
            _RESOLVED.clear()
        _RESOLVED[text] = resolved
    return resolved


def parse_yaml_value(data: bytes, source: str, limits: ParseLimits = _LIMITS) -> Any:
    """Parse one YAML document of any kind (a scalar, a list or a mapping), under the same rules.

    For values that are not whole config files, such as an etcd key holding one setting.
    Empty input is ``None``.

    Bytes parsed before to an immutable scalar give the same scalar again, and a single plain
    word (``5``, ``true``, ``web-1``) is resolved without running libyaml; both only while the
    strict loader is the one in place (the results are its own).

    Raises:
        SourceError: syntax errors, duplicate or non-string keys, limits exceeded.
    """
    # a scalar is one node (depth and aliases do not apply); past max_bytes _prepare reports it
    fast = _CParser is not None and YAML_LOADER is _StrictLoader and len(data) <= limits.max_bytes
    fast = fast and limits.max_nodes >= 1
    result: Any = _FALLBACK
    if fast:
        result = _VALUES.get(data, _FALLBACK)
        if result is not _FALLBACK:
            return result
        if data.isascii():
            text = data.decode("ascii")
            if _PLAIN_TOKEN.fullmatch(text):
                result = _plain_token(text)
    if result is _FALLBACK:
        text = _prepare(data, source, limits)
        result = _fast_yaml(text, limits, mapping=False)
        if result is _FALLBACK:
            result = _strict_value(text, data, source, limits)
    if fast and type(result) in _SCALAR_TYPES and len(data) <= _VALUE_BYTES_MAX:
        if len(_VALUES) >= _VALUES_MAX:
            _VALUES.clear()
        _VALUES[data] = result
    return result


def _parse_yaml_value_strict(data: bytes, source: str, limits: ParseLimits = _LIMITS) -> Any:
    """[parse_yaml_value][livesettings._parsers.parse_yaml_value] through the strict loader only."""
    return _strict_value(_prepare(data, source, limits), data, source, limits)


def _strict_value(text: str, data: bytes, source: str, limits: ParseLimits) -> Any:
    loader: Any = None
    try:
        with _guard(source, "YAML"):
            loader = YAML_LOADER(text)
            node = loader.get_single_node()
            if node is None:
                return None
            if b"*" in data:
                _check_graph(node, source, limits)
            else:
                _check_tree_depth(node, source, limits)
            return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, source) from None
    finally:
        if loader is not None:
            loader.dispose()


# --------------------------------------------------------------------------------------- TOML, JSON


def _check_depth(fmt: str, obj: object, text: str, source: str, limits: ParseLimits) -> None:
    """Reject a parsed result nested deeper than ``limits.max_depth`` (iterative), locating the culprit."""
    stack: list[tuple[object, int, list[str | int]]] = [(obj, 1, [])]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limits.max_depth:
                line, col = _LOCATORS[fmt](text, path, False) or (None, None)
                raise SourceError.at(source, f"nesting deeper than {limits.max_depth} levels",
                                     line=line, column=col, field=".".join(map(str, path)))
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((child, depth + 1, [*path, key]) for key, child in items)


_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


# Strings and comments (skipped) or a decimal integer that is not part of a float, date or key.
_TOML_SCAN = re.compile(
    r'"""[\s\S]*?"""' r"|'''[\s\S]*?'''" r'|"(?:[^"\\\n]|\\.)*"' r"|'[^'\n]*'" r"|\#[^\n]*"
    r"|(?<![\w.:+-])(?P<int>[+-]?\d[\d_]*)(?![\w.:-])(?!\s*=)"
)


def _toml_huge_int(text: str) -> tuple[int, int, str | None] | None:
    """(line, column, dotted key) of the first TOML integer with more digits than CPython converts."""
    for match in _TOML_SCAN.finditer(text):
        if match["int"] and _too_many_digits(match["int"]):
            line, col = _line_col(text, match.start("int"))
            return line, col, _toml_key_before(text, line)
    return None


def _toml_key_before(text: str, line: int) -> str | None:
    """Best effort: the dotted key assigned last at or before ``line`` (its table included)."""
    table: list[str] = []
    key: list[str] | None = None
    for content in text.splitlines()[:line]:
        header = _TOML_HEADER.match(content)
        assign = None if header else _TOML_ASSIGN.match(content)
        found = header or assign
        if found is None:
            continue
        keys = [k[1:-1] if k[0] in "\"'" else k for k in re.findall(_TOML_KEY, found[2 if header else 1])]
        if header:
            table, key = keys, None
        else:
            key = keys
    return ".".join([*table, *key]) if key else None


def parse_toml(data: bytes, source: str, limits: ParseLimits = _LIMITS) -> dict[str, Any] | None:
    """Parse a TOML document with ``tomllib``; a document without any key is empty (``None``).

    Raises:
        SourceError: syntax errors (with line and column), oversized input, nesting beyond the limit.
    """
    text = _prepare(data, source, limits)
    with _guard(source, "TOML"):
        try:
            result: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line, col = getattr(exc, "lineno", None), getattr(exc, "colno", None)  # Python 3.14+
            message = str(getattr(exc, "msg", None) or exc)
            at = _TOML_AT.search(message)
            if at:
                message, line, col = message[: at.start()], line or int(at[1]), col or int(at[2])
            raise SourceError.at(source, f"invalid TOML: {message}", line=line, column=col) from None
        except ValueError as exc:  # an integer over CPython's digit limit: tomllib gives no position
            found = _toml_huge_int(text)
            if found is None:
                raise
            line, col, key = found
            raise SourceError.at(source, f"invalid TOML value: {_value_error(exc)}", line=line, column=col,
                                 field=key) from None
    if not result:
        return None
    _check_depth("toml", result, text, source, limits)
    return result


class _JsonReject(Exception):
    """Raised from json hooks for valid syntax we refuse: duplicate keys, NaN and Infinity."""


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _JsonReject
    return result


def _json_constant(name: str) -> Any:
    raise _JsonReject


def _too_many_digits(token: str) -> bool:
    limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    return limit > 0 and len(token.lstrip("+-").replace("_", "")) > limit


_JSON_INT = re.compile(r"-?\d+(?![\d.eE])")


def _json_huge_int(text: str) -> tuple[tuple[str | int, ...], int] | None:
    """(path, offset) of the first integer in valid JSON text with more digits than CPython converts."""
    for path, _key_off, value_off, _container in _json_walk(text):
        match = _JSON_INT.match(text, value_off)
        if match and _too_many_digits(match[0]):
            return path, value_off
    return None


def parse_json(data: bytes, source: str, limits: ParseLimits = _LIMITS) -> dict[str, Any] | None:
    """Parse a JSON object, rejecting duplicate keys and ``NaN``/``Infinity``.

    Raises:
        SourceError: syntax errors, duplicate keys, non-object top level, limits exceeded.
    """
    text = _prepare(data, source, limits)
    if not text.strip():
        return None
    with _guard(source, "JSON"):
        try:
            result = json.loads(text, object_pairs_hook=_json_pairs, parse_constant=_json_constant)
        except json.JSONDecodeError as exc:
            message = f"invalid JSON: {exc.msg}"
            raise SourceError.at(source, message, line=exc.lineno, column=exc.colno) from None
        except ValueError as exc:  # an integer over CPython's digit limit: json gives no position
            found = _json_huge_int(text)
            if found is None:
                raise
            path, offset = found
            line, col = _line_col(text, offset)
            raise SourceError.at(source, f"invalid JSON value: {_value_error(exc)}", line=line, column=col,
                                 field=".".join(map(str, path)) or None) from None
        except _JsonReject:
            seen: set[tuple[str | int, ...]] = set()
            for path, key_off, value_off, _ in _json_walk(text):  # the first offender in document order
                constant = re.match(r"NaN|-?Infinity", text[value_off : value_off + 9])
                if key_off is not None and path in seen or constant:
                    line, col = _line_col(text, value_off if constant else key_off or 0)
                    what = f"{constant[0]} is not valid JSON" if constant else f"duplicate key {path[-1]!r}"
                    raise SourceError.at(source, f"invalid JSON: {what}", line=line, column=col,
                                         field=None if constant else ".".join(map(str, path))) from None
                seen.add(path)
            raise  # pragma: no cover - the walker always finds what the hooks rejected
    if not isinstance(result, dict):
        raise SourceError.at(source, f"the top level must be an object, not {type(result).__name__}", line=1)
    _check_depth("json", result, text, source, limits)
    return result


# -------------------------------------------------------------------------------------------- dotenv

_DOTENV_LOCK = threading.Lock()
_NEWLINES = re.compile(r"\r\n|\r|\n")
_QUOTE_START = re.compile(r"""\s*(?:export\s+)?[^=\s]+\s*=\s*['"]""")


def _bindings(text: str) -> Iterator[tuple[str | None, int, str, bool]]:
    """Yield (key, line, first line text, error) per statement, the line skipping leading blank lines."""
    for binding in parse_stream(io.StringIO(text)):
        raw = binding.original.string
        body = raw.lstrip()
        line = binding.original.line + len(_NEWLINES.findall(raw, 0, len(raw) - len(body)))
        yield binding.key, line, _NEWLINES.split(body, maxsplit=1)[0], binding.error


def parse_dotenv(
    data: bytes, source: str, *, interpolate: bool = True, limits: ParseLimits = _LIMITS
) -> dict[str, str | None] | None:
    """Parse a ``.env`` file with python-dotenv, treating every statement it would skip as an error.

    Args:
        data: the raw file content.
        source: name used in error messages.
        interpolate: expand ``${VAR}`` references (python-dotenv semantics, also inside single quotes).
        limits: only ``max_bytes`` applies.

    Returns:
        ``{name: value}`` (``None`` for a bare ``NAME`` without ``=``), or ``None`` if nothing is defined.

    Raises:
        SourceError: unparsable statements, unclosed quotes, duplicate names, bad encoding, oversized input.
    """
    text = _prepare(data, source, limits)
    seen: dict[str, int] = {}
    for key, line, first, error in _bindings(text):
        if error:
            what = "unclosed quote" if _QUOTE_START.match(first) else "expected NAME=value"
            raise SourceError.at(source, f"invalid .env statement: {what}", line=line, column=1)
        if key is not None and key in seen:
            raise SourceError.at(source, f"duplicate variable {key!r} (first defined at line {seen[key]})",
                                 line=line, column=max(first.find(key), 0) + 1, field=key)
        if key is not None:
            seen[key] = line
    if not seen:
        return None
    # python-dotenv only *logs* skipped statements: capture this thread's records instead of emitting them.
    me, skipped = threading.get_ident(), []

    def capture(record: logging.LogRecord) -> bool:
        if record.thread != me or record.levelno < logging.WARNING:
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        skipped.append(args[0] if args and isinstance(args[0], int) else None)
        return False

    logger = logging.getLogger("dotenv.main")
    with _DOTENV_LOCK:
        level, disabled = logger.level, logger.disabled
        logger.disabled = False
        if not logger.isEnabledFor(logging.WARNING):
            logger.setLevel(logging.WARNING)
        logger.addFilter(capture)
        try:
            values = dotenv_values(stream=io.StringIO(text), interpolate=interpolate)
        finally:
            logger.removeFilter(capture)
            logger.setLevel(level)
            logger.disabled = disabled
    if skipped:  # belt and braces: the scan above already rejects what python-dotenv skips
        raise SourceError.at(source, "invalid .env statement", line=skipped[0])
    return dict(values)


_PARSERS: dict[str, Callable[..., dict[str, Any] | None]] = {
    "yaml": parse_yaml, "toml": parse_toml, "json": parse_json, "dotenv": parse_dotenv,
}


def parse(
    fmt: str, data: bytes, source: str, limits: ParseLimits = _LIMITS, **kw: Any
) -> dict[str, Any] | None:
    """Parse ``data`` with the parser for ``fmt`` (``"yaml"``, ``"toml"``, ``"json"`` or ``"dotenv"``).

    Raises:
        ValueError: unknown format (a programming error, not a SourceError).
        SourceError: whatever that parser raises.
    """
    if fmt not in _PARSERS:
        raise ValueError(f"unknown config format {fmt!r}; expected one of {sorted(_PARSERS)}")
    return _PARSERS[fmt](data, source, limits=limits, **kw)


# -------------------------------------------------------------------------------------------- locate


def _locate_yaml(text: str, path: _Path, key: bool = False) -> tuple[int, int] | None:
    loader = YAML_LOADER(text)
    try:
        node, mark = loader.get_single_node(), None
        for part in path:
            found: tuple[Node, Node | None] | None = None
            if isinstance(node, MappingNode):
                pairs: _Pairs = list(node.value)
                for key_node, value_node in pairs:  # own keys first, then `<<` sources in order
                    if key_node.tag == _MERGE:
                        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                        pairs.extend(p for src in sources if isinstance(src, MappingNode) for p in src.value)
                    elif found is None and isinstance(key_node, ScalarNode) and key_node.value == str(part):
                        found = (value_node, key_node)
            elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                found = (node.value[part], None)
            if found is None:
                return None
            node, found_key = found
            block = not isinstance(node, ScalarNode) and not getattr(node, "flow_style", False)
            mark = (found_key if found_key is not None and (block or key) else node).start_mark
        return None if mark is None else (mark.line + 1, mark.column + 1)
    finally:
        loader.dispose()


_JSON_TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|[^\s,:\[\]{}"]+|\S)', re.DOTALL)


def _json_walk(text: str) -> Iterator[tuple[tuple[str | int, ...], int | None, int, bool]]:
    """Yield (path, key offset, value offset, is container) for every value of valid JSON, in order."""
    path: list[str | int] = []
    containers: list[str] = []
    key_off: int | None = None
    want_key = False
    for match in _JSON_TOKEN.finditer(text):
        token, offset = match[1], match.start(1)
        if want_key and token.startswith('"'):
            path[-1], key_off, want_key = json.loads(token), offset, False
        elif token == ",":
            want_key, key_off = containers[-1] == "{", None
            if not want_key:
                path[-1] = int(path[-1]) + 1
        elif token in ("}", "]"):
            containers.pop()
            path.pop()
            want_key, key_off = False, None
        elif token != ":":
            yield tuple(path), key_off, offset, token in ("{", "[")
            if token in ("{", "["):
                containers.append(token)
                path.append(0)
                key_off, want_key = None, token == "{"


def _locate_json(text: str, path: _Path, key: bool = False) -> tuple[int, int] | None:
    for found, key_off, value_off, container in _json_walk(text):
        if found == tuple(path):
            return _line_col(text, key_off if (container or key) and key_off is not None else value_off)
    return None


_TOML_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_TOML_HEADER = re.compile(rf"\s*(\[\[?)\s*({_TOML_KEY}(?:\s*\.\s*{_TOML_KEY})*)\s*\]")
_TOML_ASSIGN = re.compile(rf"\s*({_TOML_KEY}(?:\s*\.\s*{_TOML_KEY})*)\s*=")


def _locate_toml(text: str, path: _Path, _key: bool = False) -> tuple[int, int] | None:
    """Find ``key =`` (under the current table) or a ``[table]`` header; else the longest matching prefix."""
    target, table = list(path), []
    best: tuple[int, tuple[int, int]] | None = None
    counts: dict[tuple[str | int, ...], int] = {}  # array-of-tables name -> entries seen
    in_string = False
    for number, line in enumerate(text.splitlines(), 1):
        was_in_string = in_string
        in_string ^= (line.count('"""') + line.count("'''")) % 2 == 1
        match = None if was_in_string else _TOML_HEADER.match(line) or _TOML_ASSIGN.match(line)
        if match is None:
            continue
        header = match.re is _TOML_HEADER
        keys = [k[1:-1] if k[0] in "\"'" else k for k in re.findall(_TOML_KEY, match[2 if header else 1])]
        if header:
            table = keys
            if match[1] == "[[":
                counts[tuple(keys)] = counts.get(tuple(keys), -1) + 1
                table = [*keys, counts[tuple(keys)]]
            keys = table
        else:
            keys = [*table, *keys]
        if keys == target:
            return number, match.start(1) + 1
        if keys and target[: len(keys)] == keys and (best is None or len(keys) > best[0]):
            best = (len(keys), (number, match.start(1) + 1))
    return best[1] if best else None


def _locate_dotenv(text: str, path: _Path, _key: bool = False) -> tuple[int, int] | None:
    for key, line, first, _ in _bindings(text):
        if len(path) == 1 and key == str(path[0]):
            return line, max(first.find(key), 0) + 1
    return None


_LOCATORS: dict[str, Callable[[str, _Path, bool], tuple[int, int] | None]] = {
    "yaml": _locate_yaml, "toml": _locate_toml, "json": _locate_json, "dotenv": _locate_dotenv,
}


def locate(fmt: str, data: bytes, path: _Path, *, key: bool = False) -> tuple[int, int] | None:
    """Best-effort 1-based (line, column) of the value at ``path``, to enrich validation errors. Never raises.

    Scalars point at the value; mappings and lists reached through a key point at that key. TOML points at
    the key, the table header or the closest enclosing key; dotenv at the variable's definition.

    Args:
        fmt: ``"yaml"``, ``"toml"``, ``"json"`` or ``"dotenv"``.
        data: the raw file content that was parsed.
        path: keys and list indices from the top, e.g. ``["servers", 0, "port"]``.
        key: point at the key that holds the value, scalars too (to report an unknown key);
            a list item has no key and still points at the value.

    Returns:
        ``(line, column)``, or ``None`` when the path cannot be found.
    """
    try:
        return _LOCATORS[fmt](decode_text(data, "<locate>"), path, key)
    except Exception:  # noqa: BLE001 - best effort by contract
        _log.debug("cannot locate %r in %s data", path, fmt, exc_info=True)
        return None
