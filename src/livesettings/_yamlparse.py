"""The YAML parser: libyaml's event stream for ordinary documents, a strict safe loader for the rest.

[livesettings._parsers][] imports this module the first time it parses (or locates a value in) a YAML
document, so ``import livesettings`` does not import PyYAML (about 15 ms); a program with YAML
sources pays that on its first load, as it would with pydantic-settings' own YAML source.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, cast

import yaml
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

from livesettings._packed import PACK_FROM
from livesettings._parsebase import _LIMITS, ParseLimits, _guard, _line_col, _prepare, _value_error
from livesettings.exceptions import SourceError

try:
    from yaml import CSafeLoader as _BaseLoader
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]  # same interface, pure Python

    _CParser = None  # type: ignore[assignment,misc]  # every document takes the strict loader

__all__ = ["YAML_LOADER", "locate_yaml", "parse_yaml", "parse_yaml_value"]

# A parsed document of at least PACK_FROM bytes is not kept as its bytes: what is kept of it packs
# them (see ``_Layout``: a digest and a zlib copy per run of entries) and gives them back on demand.
# Below it the bytes are few (a packed copy would save little) and are kept as they are.

_BLOCK = 4096  # a packed layout groups consecutive entries into blocks of at least this many bytes

_STR, _VALUE = "tag:yaml.org,2002:str", "tag:yaml.org,2002:value"  # a `=` key is constructed as a str
_MERGE, _NULL = "tag:yaml.org,2002:merge", "tag:yaml.org,2002:null"
_Pairs = list[tuple[Node, Node]]
_Path = Sequence[str | int]


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

# Mapping keys as the fast path last made them: a config repeats the same keys in many sections and
# in every reload, and the parsed documents stay cached (here and by the sources), so each distinct
# key is one string (about 50 bytes each saved per repeat). A dict of our own, not sys.intern: that
# would keep every key any document ever had (CPython 3.12 makes interned strings immortal).
_KEYS: dict[str, str] = {}
_KEYS_MAX = 8192


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
    keys = _KEYS.get
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
                key = keys(value, None)
                if key is None:  # one str object per distinct key, shared by every mapping and reload
                    if len(_KEYS) >= _KEYS_MAX:
                        _KEYS.clear()
                    key = _KEYS[value] = value
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
        return _strict_mapping(text, data, source, limits) if result is _FALLBACK else cast("dict[str, Any] | None", result)
    last = layouts.get(source)
    if last is not None and last.limits == limits:
        patched = last.patch(text, data)
        if patched is not None:
            layouts[source] = patched
            return cast("dict[str, Any]", patched.result)
    found: list[Any] = []
    result = _fast_yaml(text, limits, mapping=True, layout=found)
    if result is _FALLBACK:
        layouts.pop(source, None)
        return _strict_mapping(text, data, source, limits)
    if type(result) is dict and found and found[-1][1] is None and len(found) == len(result) + 1:
        layouts[source] = _layout(text, data, result, tuple(found), limits)
    else:
        layouts.pop(source, None)
    return cast("dict[str, Any] | None", result)


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

    An ASCII document of ``PACK_FROM`` bytes or more is kept packed, not as its bytes (a settings
    object would otherwise keep every big file twice over: parsed and as bytes): its entries are
    grouped into blocks of at least ``_BLOCK`` bytes (an entry that big is a block of its own; the
    first block also holds what precedes the first key), and each block is kept as a digest and a
    zlib copy. An edit is then found by comparing the digests of the new bytes' blocks (at the old
    offsets up to the first block that differs, at the shifted ones after it) and, inside that
    block unless it is one entry, its unpacked bytes: the same comparisons as with the bytes kept,
    so the same entries are parsed or the whole text is. Only that block is packed again.
    ``document()`` gives the bytes back (for ``explain()``, an error's line).

    Attributes:
        text: the document: its bytes when they are its text (ASCII, no BOM: the same offsets) and
            fewer than ``PACK_FROM``, its text when not ASCII; ``None`` when packed.
        result: what it parsed to (shared: the reader hands out copies; the YAML source swaps a
            reusable section for the same value packed, see ``_packed``, and nothing else changes it).
        entries: ``(offset, key, nodes before it)`` per entry, then ``(len(text), None, nodes)``.
        limits: the limits it was parsed under.
        cuts: packed: block ``m`` ends at ``entries[cuts[m]][0]`` (the last at the end of the document).
        digests: packed: the 16-byte digest of each block's bytes, end to end.
        chunks: packed: each block's bytes, zlib-compressed (level 1), or as they are when that is not
            shorter (then a chunk's length is its block's: that is how the two are told apart).
    """

    text: str | bytes | None
    result: dict[str, Any]
    entries: tuple[tuple[int, str | None, int], ...]
    limits: ParseLimits
    cuts: tuple[int, ...] = ()
    digests: bytes = b""
    chunks: tuple[bytes, ...] = ()

    def restorer(self) -> Callable[[], bytes] | None:
        """What gives the document's bytes back when this layout keeps no bytes object of it (packed)."""
        return self.document if self.text is None else None

    def document(self) -> bytes:
        """The document's bytes (unpacked, when packed)."""
        if self.text is None:
            return b"".join(self._block(m) for m in range(len(self.cuts)))
        return self.text if isinstance(self.text, bytes) else self.text.encode()

    def _block(self, m: int) -> bytes:
        """The bytes of block ``m`` of a packed layout."""
        cuts, entries = self.cuts, self.entries
        size = entries[cuts[m]][0] - (entries[cuts[m - 1]][0] if m else 0)
        chunk = self.chunks[m]
        return chunk if len(chunk) == size else zlib.decompress(chunk)

    def patch(self, text: str, data: bytes) -> _Layout | None:
        """The layout of ``text`` (decoded from ``data``), parsing only the one entry it changed;
        ``None`` if it cannot."""
        if self.text is None:
            return self._patch_packed(text, data)
        old, entries = self.text, self.entries
        new: str | bytes = text
        if isinstance(old, bytes):  # an ASCII document kept as its bytes: compare bytes, same offsets
            if len(data) != len(text):
                return None
            new = data
        if new == old:
            return self
        head = entries[0][0]
        if new[:head] != old[:head]:
            return None
        k = 0  # the first entry that differs
        while k < len(entries) - 1 and new[entries[k][0]:entries[k + 1][0]] == old[entries[k][0]:entries[k + 1][0]]:
            k += 1
        if k == len(entries) - 1:  # all entries equal: only text past the end was added
            return None
        start = entries[k][0]
        tail = old[entries[k + 1][0]:]
        shift = len(new) - len(old)
        end = entries[k + 1][0] + shift  # where the unchanged rest starts in ``text``
        if end <= start or not new.endswith(tail) or (tail and text[end - 1] != "\n"):  # type: ignore[arg-type]
            return None
        patched = self._entry(text, k, end, shift)
        return None if patched is None else _layout(text, data, *patched, self.limits)

    def _patch_packed(self, text: str, data: bytes) -> _Layout | None:
        """``patch`` for a packed layout: the same decisions, made on the blocks' digests."""
        if len(data) != len(text):
            return None  # not ASCII any more: the offsets differ (as ``patch`` decides for kept bytes)
        entries, cuts, digests = self.entries, self.cuts, self.digests
        view = memoryview(data)
        begin = 0  # where block ``m`` begins
        for m, cut in enumerate(cuts):
            stop = entries[cut][0]
            if _digest(view[begin:stop]) != digests[m * 16:m * 16 + 16]:
                break
            begin = stop
        else:  # every block as it was: the same document, or text added past its end
            return self if len(data) == entries[-1][0] else None
        k, last = (cuts[m - 1] if m else 0), cuts[m]  # the entries of block ``m``: the first that differs
        old: bytes | None = None
        if last - k != 1 or entries[k][0] != begin:  # not a block of one entry (that one differs): unpack it
            old = self._block(m)
            head = entries[0][0]
            if begin < head and data[:head] != old[:head]:  # only the first block holds the head
                return None
            while k < last and data[entries[k][0]:entries[k + 1][0]] == old[entries[k][0] - begin:entries[k + 1][0] - begin]:
                k += 1
            if k == last:  # the block differs but none of its entries (a digest collision): be safe
                return None
        start, shift = entries[k][0], len(data) - entries[-1][0]
        end = entries[k + 1][0] + shift  # where the unchanged rest starts
        if end <= start or (k + 1 < len(entries) - 1 and data[end - 1] != 0x0A):  # the rest starts a line
            return None
        stop = entries[last][0]
        if old is not None and data[end:stop + shift] != old[entries[k + 1][0] - begin:]:  # the rest of block ``m``
            return None
        block_end = stop + shift
        for j in range(m + 1, len(cuts)):  # the blocks after it, shifted
            after = entries[cuts[j]][0]
            if _digest(view[stop + shift:after + shift]) != digests[j * 16:j * 16 + 16]:
                return None
            stop = after
        patched = self._entry(text, k, end, shift)
        if patched is None:
            return None
        if len(data) < PACK_FROM:
            return _layout(text, data, *patched, self.limits)
        piece = view[begin:block_end]  # block ``m`` as it is now: the only one packed again
        return _Layout(
            None, *patched, self.limits, cuts,
            digests[:m * 16] + _digest(piece) + digests[m * 16 + 16:],
            (*self.chunks[:m], _pack(piece), *self.chunks[m + 1:]),
        )

    def _entry(
        self, text: str, k: int, end: int, shift: int
    ) -> tuple[dict[str, Any], tuple[tuple[int, str | None, int], ...]] | None:
        """The result and entries of ``text``, where only entry ``k`` changed (it now ends at
        ``end``, the entries after it moved by ``shift``): that entry parsed alone; ``None`` if it cannot."""
        entries = self.entries
        start = entries[k][0]
        chunk = text[start:end]
        if chunk.startswith(("---", "...")) or any(mark in chunk for mark in _NOT_IN_ENTRY):
            return None  # a document marker (or an unusual line break or BOM): the whole text decides
        found: list[Any] = []
        value = _fast_yaml(chunk, self.limits, mapping=True, layout=found)
        if value is _FALLBACK or type(value) is not dict or len(value) != 1 or len(found) != 2:
            return None
        (key, entry), nodes = next(iter(value.items())), found[1][2] - 1  # less its own root mapping
        old_key = entries[k][1]
        if key != old_key and key in self.result:
            return None  # a duplicate key: the strict loader reports it
        total = entries[-1][2] - (entries[k + 1][2] - entries[k][2]) + nodes
        if total > self.limits.max_nodes:
            return None
        result = {(key if name == old_key else name): (entry if name == old_key else v) for name, v in self.result.items()}
        moved = tuple(
            (offset + shift, name, count - (entries[k + 1][2] - entries[k][2]) + nodes)
            for offset, name, count in entries[k + 1:]
        )
        return result, (*entries[:k], (start, key, entries[k][2]), *moved)


def _layout(
    text: str, data: bytes, result: dict[str, Any], entries: tuple[tuple[int, str | None, int], ...], limits: ParseLimits
) -> _Layout:
    """The layout to keep of a document (see ``_Layout``): packed from ``PACK_FROM`` bytes on, if ASCII."""
    if len(data) != len(text):
        return _Layout(text, result, entries, limits)
    if len(data) < PACK_FROM:
        return _Layout(data, result, entries, limits)  # ASCII: the bytes the reader keeps, same offsets
    view = memoryview(data)
    cuts: list[int] = []
    digests: list[bytes] = []
    chunks: list[bytes] = []
    begin, last = 0, len(entries) - 1
    for i, (offset, _, _) in enumerate(entries):
        # A block ends once it has _BLOCK bytes, and before an entry of that size: such an entry is a
        # block of its own, packed again alone when it is edited (and not unpacked to find the edit).
        if i == last or offset - begin >= _BLOCK or (offset > begin and entries[i + 1][0] - offset >= _BLOCK):
            piece = view[begin:offset]
            cuts.append(i)
            digests.append(_digest(piece))
            chunks.append(_pack(piece))
            begin = offset
    return _Layout(None, result, entries, limits, tuple(cuts), b"".join(digests), tuple(chunks))


def _digest(piece: memoryview) -> bytes:
    # SHA-256 cut to 16 bytes, not the package's content digest (BLAKE2b): these digests never leave
    # the process, and OpenSSL's SHA-256 (SHA extensions) hashed a 20 KiB document in 15 us against
    # 32 us here, once per reload of a big file.
    return hashlib.sha256(piece).digest()[:16]


def _pack(piece: memoryview) -> bytes:
    packed = zlib.compress(piece, 1)
    return packed if len(packed) < len(piece) else bytes(piece)


_NOT_IN_ENTRY = ("\n---", "\n...", "\r---", "\r...", "\x85", "\u2028", "\u2029", "\ufeff")


def _parse_yaml_strict(data: bytes, source: str, limits: ParseLimits = _LIMITS) -> dict[str, Any] | None:
    """[parse_yaml][livesettings._yamlparse.parse_yaml] through the strict loader only (the reference)."""
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
    """[parse_yaml_value][livesettings._yamlparse.parse_yaml_value] through the strict loader only."""
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


def locate_yaml(text: str, path: _Path, key: bool = False) -> tuple[int, int] | None:
    """1-based (line, column) of the value at ``path`` in YAML ``text`` (see [livesettings._parsers.locate][]); raises on bad YAML."""
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
