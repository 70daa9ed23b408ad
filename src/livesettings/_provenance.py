"""Provenance: which source supplied each leaf of a snapshot, and which sources it shadowed.

A load leaves behind what every source returned (``LoadContext.records``, highest priority first,
in the order pydantic-settings called them) and the bytes of every file it read. ``build_provenance``
keeps references to those and computes nothing: an answer is worked out when it is asked for, by
following the path down the snapshot and down each source's output with pydantic-settings' merge
rule (a mapping merges into a mapping below it, anything else replaces what is below). So an
accepted reload pays nothing for provenance; ``explain`` pays for one path, ``leaves`` for a walk.

Locations: a file value is ``config.yaml:3:8`` (line and column of the key or value, relative to
the working directory when below it), an environment variable ``env APP_DB__PORT`` (the longest
variable that fed the leaf: ``APP_DB__PORT`` beats a JSON ``APP_DB``), a ``.env`` value
``.env:2``, a secrets file ``secrets/db_password``, an init value ``init``, a custom source its
class name, and a leaf no source set ``default``. Values are always masked
([safe_repr][livesettings._redact.safe_repr], and fingerprints for fields declared secret).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import AliasChoices, AliasPath, BaseModel

from . import _homes
from . import _parsebase, _parsers
from ._diff import _same_leaf
from ._packed import Packed
from ._paths import MISSING, entries, join
from ._paths import find as find_path
from ._redact import field_is_secret, fingerprint, is_secret, mask_url_passwords, safe_repr
from ._sources import FileState, LoadContext, SourceRecord

if TYPE_CHECKING:
    from yaml.nodes import Node

__all__ = ["Origin", "Provenance", "ShadowedEdit", "build_provenance", "explain_served", "shadowed_edits"]

_ENV_KINDS = frozenset({"env", "dotenv", "secrets"})  # values are text; names fold case unless told not to
_FILE_KINDS = frozenset({"yaml", "toml", "json"})
_UNSET = "<unset>"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the value at one path came from, and what it hid.

    Attributes:
        path: the dotted path (``"database.port"``).
        source: the kind of source: ``"init"``, ``"cli"`` (pydantic-settings' command line),
            ``"env"``, ``"dotenv"``, ``"secrets"``, ``"yaml"``, ``"toml"``, ``"json"``,
            ``"default"``, or a custom source's class name.
        location: where, for a human: ``config.yaml:3:8``, ``env APP_DB__PORT``, ``.env:2``,
            ``secrets/db_password``, ``command line --db.port``, ``init``, ``default``.
        value: the value, masked (never a raw secret).
        file: the file it was read from, if any.
        line: 1-based line in ``file``, if known.
        column: 1-based column in ``file``, if known (a ``.env`` value has only a line).
        variable: the environment or ``.env`` variable that set it, if any.
        shadowed: the lower-priority sources that also set this path, highest first, each with
            its own (masked) value and location.
        appended: for a list whose items several files of one source supplied
            (``Merge("append")``), each of those files in order, with its own items (masked) and
            location; ``location`` and ``file`` name the last of them. Empty otherwise.

    Added in 0.2. Changed in 0.5: ``appended``; ``"cli"``.
    """

    path: str
    source: str
    location: str
    value: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    variable: str | None = None
    shadowed: tuple[Origin, ...] = ()
    appended: tuple[Origin, ...] = ()

    def __str__(self) -> str:
        text = f"{self.path} = {self.value} from {self.location}"
        if self.appended:
            text += " (appended: " + ", ".join(f"{o.location} = {o.value}" for o in self.appended) + ")"
        if self.shadowed:
            text += " (shadows " + ", ".join(f"{o.location} = {o.value}" for o in self.shadowed) + ")"
        return text


@dataclass(frozen=True, slots=True)
class ShadowedEdit:
    """An edit that changed nothing: a lower-priority source changed a path a higher one sets.

    Attributes:
        path: the dotted path.
        changed: the source that was edited, as it is now (as it was, if the edit removed the path).
        winner: the source whose value is in effect (unchanged).
        old_value: the edited source's value before, masked (``"<unset>"`` if it did not set it).
        new_value: its value now, masked (``"<unset>"`` if the edit removed it).

    Added in 0.2.
    """

    path: str
    changed: Origin
    winner: Origin
    old_value: str
    new_value: str

    def __str__(self) -> str:
        return (
            f"{self.path} changed in {self.changed.location} ({self.old_value} -> {self.new_value}) "
            f"but {self.winner.location} wins"
        )


# --------------------------------------------------------------------------- walking


class _Absent:
    """A record that has nothing at a path."""

    __slots__ = ()


_ABSENT: Any = _Absent()

_KEYS: dict[tuple[type, str], tuple[tuple[str | int, ...], ...]] = {}


# The sections unpacked for the question being answered: id -> (packed, its content). A big
# file's sections are kept packed (see _packed), and every leaf of one walks through its section:
# unpacking it per leaf made ``leaves()`` quadratic (seconds at 10,000 leaves). Only for the
# length of one question, so a provenance kept with the served load holds nothing unpacked.
_ASKED: contextvars.ContextVar[dict[int, tuple[Packed, Any]] | None] = contextvars.ContextVar(
    "livesettings_provenance_opened", default=None
)


def opened(value: Any) -> Any:
    """``value``, or what it holds if it is a packed section (read, never changed, here): unpacked
    once per question while one is being answered (see ``_asking``)."""
    if type(value) is not Packed:
        return value
    asked = _ASKED.get()
    if asked is None:
        return value.open()
    hit = asked.get(id(value))
    if hit is None or hit[0] is not value:
        hit = asked[id(value)] = (value, value.open())
    return hit[1]


@contextlib.contextmanager
def _asking() -> Iterator[None]:
    """One question (``explain``, ``leaves``, ``shadowed_edits``): each packed section is unpacked once."""
    token = _ASKED.set({}) if _ASKED.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _ASKED.reset(token)


def _field_keys(model: type[BaseModel], name: str) -> tuple[tuple[str | int, ...], ...]:
    """The keys a source may use for field ``name``, in pydantic's order (an ``AliasPath`` is several)."""
    hit = _KEYS.get((model, name))
    if hit is None:
        info = model.model_fields[name]
        keys: list[tuple[str | int, ...]] = []
        alias = info.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias] if alias is not None else []
        for choice in choices:
            keys.append(tuple(choice.path) if isinstance(choice, AliasPath) else (choice,))
        if info.alias is not None:
            keys.append((info.alias,))
        keys.append((name,))
        hit = tuple(dict.fromkeys(keys))
        if len(_KEYS) > 8192:
            _KEYS.clear()
        _KEYS[(model, name)] = hit
    return hit


def _get(raw: Any, key: str | int, fold: bool) -> Any:
    """``raw[key]`` for a mapping or list, tolerating non-string keys and (if ``fold``) case."""
    raw = opened(raw)  # a packed section (see _packed)
    if isinstance(raw, Mapping):
        if key in raw:
            return raw[key]
        if isinstance(key, str):
            if key.lstrip("-").isdigit() and int(key) in raw:  # ``1: x`` in YAML, ``limits.1`` as a path
                return raw[int(key)]
            if fold:  # environment-style names (small mappings)
                low = key.lower()
                return next((v for k, v in raw.items() if isinstance(k, str) and k.lower() == low), _ABSENT)
        return _ABSENT
    if isinstance(raw, list) and isinstance(key, int) and -len(raw) <= key < len(raw):
        return raw[key]
    return _ABSENT


def _descend(parent: Any, part: str, raw: Any, fold: bool) -> tuple[Any, tuple[str | int, ...]]:
    """The child of ``raw`` (a source's output) for snapshot child ``part`` of ``parent``, and its keys."""
    raw = opened(raw)  # a packed section (see _packed)
    if isinstance(raw, BaseModel):  # an init value given as a model instance: keyed by field name
        return entries(raw).get(part, _ABSENT), (part,)
    if not isinstance(raw, Mapping):
        return _ABSENT, ()
    model = type(parent)
    if isinstance(parent, BaseModel) and part in model.model_fields:
        for keys in _field_keys(model, part):
            node = raw
            for key in keys:
                node = _get(node, key, fold)
                if node is _ABSENT:
                    break
            if node is not _ABSENT:
                return node, tuple(str(k) if isinstance(k, str) else k for k in keys)
        return _ABSENT, ()
    node = _get(raw, part, fold)
    return node, (part,)


def _cli_flag(source: Any, keys: _Keys) -> str:
    """The option that sets ``keys`` on pydantic-settings' command line: ``--db.port``, with its
    ``cli_prefix`` and, under ``cli_kebab_case``, dashes for underscores."""
    dotted = ".".join(str(k) for k in keys if not isinstance(k, int))
    if getattr(source, "cli_kebab_case", False):
        dotted = dotted.replace("_", "-")
    return f"--{getattr(source, 'cli_prefix', '') or ''}{dotted}"


def _is_section(value: Any) -> bool:
    """Whether the diff walk descends into ``value`` (a model or dict with children)."""
    return isinstance(value, (BaseModel, dict)) and bool(entries(value))


class _Rec:
    """One source's output in a load, with what locating its values needs."""

    __slots__ = ("appended", "data", "files", "fold", "index", "kind", "source")

    def __init__(self, index: int, record: SourceRecord) -> None:
        self.index = index
        self.appended = record.appended
        self.kind = record.label
        self.data = record.data
        self.files = record.files
        self.source = record.source
        self.fold = self.kind in _ENV_KINDS and not getattr(record.source, "case_sensitive", False)


_Keys = tuple[str | int, ...]  # keys from the top of a source's output (or a file) to a value
_Node = tuple[Any, _Keys]  # a record at the current path: (its value there or _ABSENT, the keys it used)


def _step(
    parent: Any, part: str, recs: Sequence[_Rec], nodes: Sequence[_Node], live: Sequence[int]
) -> tuple[list[_Node], list[int]]:
    """Move every record one level down (to ``part``) and apply the merge rule to the live ones."""
    child_nodes: list[_Node] = []
    for rec, (raw, keys) in zip(recs, nodes):
        if raw is _ABSENT:
            child_nodes.append((_ABSENT, keys))
        else:
            node, used = _descend(parent, part, raw, rec.fold)
            # A packed section is opened once here, for everything below it (not once per leaf), and
            # is a mapping to the merge rule below; the walk holds it only while it runs.
            child_nodes.append((opened(node), keys + used))
    child_live: list[int] = []
    for i in live:
        node = child_nodes[i][0]
        if node is _ABSENT:
            continue
        if not child_live and not isinstance(node, dict):
            child_live.append(i)  # the highest source sets it to a non-mapping: it replaces everything below
            break
        if isinstance(node, dict):  # mappings merge; a lower non-mapping is replaced by the mapping above it
            child_live.append(i)
    return child_nodes, child_live


# --------------------------------------------------------------------------- locations


def _shown_path(path: Path) -> str:
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def _yaml_positions(text: str) -> dict[tuple[str | int, ...], tuple[int, int]]:
    """Every path of a YAML document -> (line, column), by the rules of ``_parsers.locate``, in one pass."""
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode  # noqa: PLC0415 - PyYAML on first use

    from . import _yamlparse  # noqa: PLC0415

    loader = _yamlparse.YAML_LOADER(text)
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    out: dict[tuple[str | int, ...], tuple[int, int]] = {}
    stack: list[tuple[tuple[str | int, ...], Node]] = [((), root)] if root is not None else []
    while stack:
        path, node = stack.pop()
        children: list[tuple[str | int, Node, Node | None]] = []
        if isinstance(node, MappingNode):
            pairs = list(node.value)
            for key_node, value_node in pairs:  # own keys first, then `<<` sources in order
                if key_node.tag == _yamlparse._MERGE:
                    sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                    pairs.extend(p for src in sources if isinstance(src, MappingNode) for p in src.value)
                elif isinstance(key_node, ScalarNode):
                    children.append((key_node.value, value_node, key_node))
        elif isinstance(node, SequenceNode):
            children = [(i, child, None) for i, child in enumerate(node.value)]
        for part, child, key in children:
            sub = (*path, part)
            if sub in out:
                continue
            block = not isinstance(child, ScalarNode) and not getattr(child, "flow_style", False)
            mark = (key if key is not None and block else child).start_mark
            out[sub] = (mark.line + 1, mark.column + 1)
            stack.append((sub, child))
    return out


def _json_positions(text: str) -> dict[tuple[str | int, ...], tuple[int, int]]:
    out: dict[tuple[str | int, ...], tuple[int, int]] = {}
    for path, key_off, value_off, container in _parsers._json_walk(text):
        offset = key_off if container and key_off is not None else value_off
        out.setdefault(path, _parsebase._line_col(text, offset))
    return out


def _dotenv_positions(text: str) -> dict[tuple[str | int, ...], tuple[int, int]]:
    out: dict[tuple[str | int, ...], tuple[int, int]] = {}
    for key, line, first, _ in _parsers._bindings(text):
        if key is not None:
            out.setdefault((key,), (line, max(first.find(key), 0) + 1))
    return out


_INDEXERS = {"yaml": _yaml_positions, "json": _json_positions, "dotenv": _dotenv_positions}


# --------------------------------------------------------------------------- provenance


class Provenance:
    """Where every value of one snapshot came from.

    Built (for free) after each accepted load by
    [build_provenance][livesettings._provenance.build_provenance]; the work happens when a
    question is asked, and a file's position index is kept once built.
    It holds the load's source outputs and file bytes: keep one for the current version (and the
    one before, for [shadowed_edits][livesettings._provenance.shadowed_edits]), not one per version
    in history.

    Thread-safety: answers may be computed from several threads at once; the caches it fills are
    only ever replaced by equal values.
    """

    def __init__(self, snapshot_cls: type[BaseModel], snapshot: Any, records: Sequence[SourceRecord],
                 files: Mapping[Path, FileState]) -> None:
        self.snapshot_cls = snapshot_cls
        self.snapshot = snapshot
        self.records = tuple(records)
        self.files = dict(files)
        self._recs = [_Rec(i, r) for i, r in enumerate(self.records)]
        self._positions: dict[Path, dict[tuple[str | int, ...], tuple[int, int]] | None] = {}
        self._paths_shown: dict[Path, str] = {}
        self._environ: dict[str, str] | None = None

    # -- questions -------------------------------------------------------------------------
    def explain(self, path: str) -> Origin:
        """The [Origin][livesettings._provenance.Origin] of the value at dotted ``path``.

        A section (``"database"``) has an origin when one source supplied everything in it (one
        file, one JSON variable, or defaults); when several did, this raises ``ValueError`` naming
        each leaf's origin, since no single answer is true.

        Raises:
            ValueError: ``path`` names no setting (the message names the closest one), or it is
                a section whose values come from several sources.
        """
        with _asking():
            parts, parent, node, nodes, live = self._follow(path)
            if not _is_section(node):
                return self._leaf(path, parts, parent, node, nodes, live)[0]
            return self._section(path, parts, parent, node, nodes, live)

    def leaves(self) -> Iterator[Origin]:
        """The origin of every leaf, in snapshot order (what ``livesettings show`` prints)."""
        with _asking():  # answered whole: a generator suspended inside it would leak the context
            found = [origin for origin, _ in self._under("", [], None, self.snapshot, self._roots(), self._root_live())]
        yield from found

    # -- building answers ------------------------------------------------------------------
    def _follow(self, path: str) -> tuple[list[str], Any, Any, list[_Node], list[int]]:
        """Walk ``path`` down the snapshot and every record: (parts, parent, value, nodes, live records)."""
        parts = path.split(".") if path else []
        parent, node, nodes, live = None, self.snapshot, self._roots(), self._root_live()
        for depth, part in enumerate(parts):
            if not _is_section(node):
                where = ".".join(parts[:depth])
                raise ValueError(f"unknown setting {path!r}: {where!r} is a value, not a section")
            items = entries(node)
            key = part if part in items else next((k for k in items if str(k) == part), MISSING)
            if key is MISSING:
                raise ValueError(self._unknown(path, parts[:depth], items))
            nodes, live = _step(node, part, self._recs, nodes, live)
            parent, node = node, items[key]
        return parts, parent, node, nodes, live

    def _under(self, path: str, parts: list[str], parent: Any, value: Any, nodes: list[_Node],
               live: list[int]) -> Iterator[tuple[Origin, int | None]]:
        """(origin, winning record) of every leaf at or under ``path``, in snapshot order."""
        stack = [(path, parts, parent, value, nodes, live)]
        while stack:
            p, ps, parent, node, ns, lv = stack.pop()
            if p and not _is_section(node):
                yield self._leaf(p, ps, parent, node, ns, lv)
                continue
            for key, child in reversed(list(entries(node).items())):
                sub_nodes, sub_live = _step(node, str(key), self._recs, ns, lv)
                stack.append((join(p, key), [*ps, str(key)], node, child, sub_nodes, sub_live))

    # -- building answers ------------------------------------------------------------------
    def _roots(self) -> list[_Node]:
        return [(r.data, ()) for r in self._recs]

    def _root_live(self) -> list[int]:
        return [r.index for r in self._recs if isinstance(r.data, Mapping)]

    def _unknown(self, path: str, found: list[str], items: Mapping[Any, Any]) -> str:
        prefix = ".".join(found)
        rest = path.split(".")[len(found) + 1:]
        candidates = [".".join([join(prefix, k), *rest]) for k in items]
        import difflib  # noqa: PLC0415 - only for an error message

        close = difflib.get_close_matches(path, candidates, n=1, cutoff=0.5)
        hint = close[0] if close else (candidates[0] if candidates else None)
        return f"unknown setting {path!r}" + (f"; did you mean {hint!r}?" if hint else "")

    def _shown(self, parent: Any, parts: list[str], value: Any, path: str) -> tuple[str, bool]:
        """The masked text of snapshot ``value`` and whether the field is a secret."""
        secret = _secret(parent, parts, value, path)
        return (safe_repr(value, path) if not secret or is_secret(value, path) else _masked(value)), secret

    def _leaf(self, path: str, parts: list[str], parent: Any, value: Any, nodes: list[_Node],
              live: list[int]) -> tuple[Origin, int | None]:
        shown, secret = self._shown(parent, parts, value, path)
        top = live[0] if live else None
        if top is None:
            winner = Origin(path, "default", "default", shown)
        else:
            winner = self._origin_at(self._recs[top], path, parts, nodes[top], shown, secret)
        lower = [r for r in self._recs if r.index != top and nodes[r.index][0] is not _ABSENT]
        if not lower:
            return winner, top
        shadowed = tuple(
            self._origin_at(r, path, parts, node, _shown_raw(node[0], path, secret, r.kind))
            for r in lower
            for node in (nodes[r.index],)
        )
        return _replace(winner, shadowed=shadowed), top

    def _section(self, path: str, parts: list[str], parent: Any, value: Any, nodes: list[_Node],
                 live: list[int]) -> Origin:
        found = list(self._under(path, parts, parent, value, nodes, live))
        owners = {(top, o.file, o.variable) for o, top in found}
        if len(owners) != 1:
            listed = ", ".join(f"{o.path} ({o.location})" for o, _ in found[:8])
            more = f" and {len(found) - 8} more" if len(found) > 8 else ""
            raise ValueError(
                f"{path!r} is a section whose values come from several sources; "
                f"explain one of them: {listed}{more}"
            )
        top = found[0][1]
        shown = safe_repr(_masked_tree(parent, parts, value, value, fold=False), path)
        if top is None:
            winner = Origin(path, "default", "default", shown)
        else:
            winner = self._origin_at(self._recs[top], path, parts, nodes[top], shown)
        shadowed = tuple(
            self._origin_at(r, path, parts, nodes[r.index],
                            safe_repr(_masked_tree(parent, parts, value, nodes[r.index][0], r.fold), path))
            for r in self._recs if r.index != top and nodes[r.index][0] is not _ABSENT
        )
        return _replace(winner, shadowed=shadowed)

    def _origin_at(
        self, rec: _Rec, path: str, parts: list[str], node: _Node, shown: str, secret: bool = True
    ) -> Origin:
        """The origin of ``rec``'s value at ``path`` (``node``: its raw value and raw key path)."""
        keys = node[1]
        kind = rec.kind
        if kind in _FILE_KINDS:
            pieces = rec.appended.get(keys) if rec.appended else None
            if pieces:
                last = self._file_origin(rec, path, parts, keys, shown)
                appended = tuple(
                    self._piece(file, path, parts, keys, kind, secret) for file, _ in pieces
                )
                return _replace_appended(last, appended)
            return self._file_origin(rec, path, parts, keys, shown)
        return self._other_origin(rec, path, parts, keys, shown)

    def _piece(self, file: Path, path: str, parts: list[str], keys: _Keys, kind: str, secret: bool) -> Origin:
        """One file's part of a concatenated list: its own items and where they are."""
        state = self.files.get(file)
        shown_file = self._shown_path(file)
        if state is None or state.parsed is None:
            return Origin(path, kind, shown_file, "<unknown>", str(file))
        found = self._keys_in(state.parsed, parts, keys) or keys
        raw: Any = state.parsed
        for key in found:
            raw = opened(raw)
            raw = raw.get(key) if isinstance(raw, Mapping) else None
        value = _shown_raw(raw, path, secret, kind)
        pos = self._position(state, found)
        if pos is None:
            return Origin(path, kind, shown_file, value, str(file))
        return Origin(path, kind, f"{shown_file}:{pos[0]}:{pos[1]}", value, str(file), pos[0], pos[1])

    def _file_origin(self, rec: _Rec, path: str, parts: list[str], keys: _Keys, shown: str) -> Origin:
        kind = rec.kind
        for file in reversed(rec.files):  # the last file that has it (files merge in order)
            state = self.files.get(file)
            if state is None or state.parsed is None:
                continue
            found = self._keys_in(state.parsed, parts, keys)
            if found is None:
                continue
            pos = self._position(state, found)
            shown_file = self._shown_path(file)
            if pos is None:
                return Origin(path, kind, shown_file, shown, str(file))
            return Origin(path, kind, f"{shown_file}:{pos[0]}:{pos[1]}", shown, str(file), pos[0], pos[1])
        return Origin(path, kind, kind, shown)

    def _other_origin(self, rec: _Rec, path: str, parts: list[str], keys: _Keys, shown: str) -> Origin:
        kind = rec.kind
        if kind in ("env", "dotenv"):
            name = _variable(rec, parts, keys, self.snapshot)
            if kind == "env":
                real = self._environ_name(name) if name else None
                return Origin(path, kind, f"env {real}" if real else "env", shown, variable=real)
            for file in reversed(rec.files):
                state = self.files.get(file)
                if state is None or state.parsed is None or name is None:
                    continue
                written = _find_name(state.parsed, name, rec.fold)
                if written is None:
                    continue
                pos = self._position(state, (written,))
                shown_file = self._shown_path(file)
                line = pos[0] if pos else None
                location = f"{shown_file}:{line}" if line else shown_file
                return Origin(path, kind, location, shown, str(file), line, pos[1] if pos else None, written)
            return Origin(path, kind, "dotenv", shown, variable=name)
        if kind == "secrets":
            secret_file = self._secret_file(rec, parts, keys)
            if secret_file is not None:
                return Origin(path, kind, self._shown_path(secret_file), shown, str(secret_file))
            return Origin(path, kind, "secrets", shown)
        if kind == "cli":
            return Origin(path, kind, f"command line {_cli_flag(rec.source, keys)}", shown)
        return Origin(path, kind, kind, shown)

    def _keys_in(self, data: Any, parts: list[str], hint: _Keys) -> _Keys | None:
        """The keys a file uses for snapshot path ``parts``: usually the record's ``hint``, but
        sources rename aliases, so look again when the file does not have those."""
        raw = data
        for key in hint:
            raw = opened(raw)  # a packed section (see _packed)
            raw = raw.get(key, _ABSENT) if isinstance(raw, dict) else _ABSENT
            if raw is _ABSENT:
                break
        else:
            return hint
        keys: tuple[str | int, ...] = ()
        node, raw = self.snapshot, data
        for part in parts:
            raw, used = _descend(node, part, raw, False)
            if raw is _ABSENT:
                return None
            keys += used
            node = entries(node).get(part) if isinstance(node, (BaseModel, dict)) else None
        return keys

    def _position(self, state: FileState, keys: tuple[str | int, ...]) -> tuple[int, int] | None:
        if state.fmt not in _INDEXERS:  # TOML: its locator is a line scan, fine per question
            return _parsers.locate(state.fmt, state.data, list(keys))
        index: Any = self._positions.get(state.path, MISSING)
        if index is MISSING:
            try:
                index = _INDEXERS[state.fmt](_parsers.decode_text(state.data, str(state.path)))
            except Exception:  # noqa: BLE001 - best effort, like _parsers.locate
                index = None
            self._positions[state.path] = index
        if index is None:
            return None
        found: tuple[int, int] | None = index.get(tuple(keys))
        return found

    def _shown_path(self, path: Path) -> str:
        hit = self._paths_shown.get(path)
        if hit is None:
            hit = self._paths_shown[path] = _shown_path(path)
        return hit

    def _environ_name(self, name: str) -> str:
        """The spelling of environment variable ``name`` in ``os.environ`` (sources fold case)."""
        if name in os.environ:
            return name
        if self._environ is None:
            self._environ = {k.lower(): k for k in os.environ}
        return self._environ.get(name.lower(), name.upper())

    def _secret_file(self, rec: _Rec, parts: list[str], keys: tuple[str | int, ...]) -> Path | None:
        if not parts:
            return None
        names = {str(keys[0]) if keys else parts[0]}
        source = rec.source
        field = self.snapshot_cls.model_fields.get(parts[0]) if parts else None
        if source is not None and field is not None and hasattr(source, "_extract_field_info"):
            names.update(env_name for _, env_name, _ in source._extract_field_info(field, parts[0]))
        prefix = getattr(source, "env_prefix", "") or ""
        names.update(prefix + n for n in list(names))
        folded = {n.lower() for n in names}
        candidates = list(rec.files) + [p for p, s in self.files.items() if s.fmt == "secret"]
        for file in candidates:
            if file.name in names or (rec.fold and file.name.lower() in folded):
                return file
        for directory in rec.files:  # a record may name its directories instead of its files
            for file in candidates:
                if file.parent == directory and file.name.lower() in folded:
                    return file
        return None


# --------------------------------------------------------------------------- helpers


_DECLARED: dict[tuple[type, str], bool] = {}


def _secret(parent: Any, parts: list[str], value: Any, path: str) -> bool:
    """Whether leaf ``value`` (field ``parts[-1]`` of ``parent``) is a secret: by value, name or type.

    A field above it declared secret would have been a leaf itself, so the parent's class decides.
    """
    if is_secret(value, path):
        return True
    if not parts or not isinstance(parent, BaseModel):
        return False
    key = (type(parent), parts[-1])
    hit = _DECLARED.get(key)
    if hit is None:
        if len(_DECLARED) > 8192:
            _DECLARED.clear()
        hit = _DECLARED[key] = field_is_secret(type(parent), parts[-1:])
    return hit


def _replace_appended(origin: Origin, appended: tuple[Origin, ...]) -> Origin:
    return Origin(origin.path, origin.source, origin.location, origin.value, origin.file, origin.line,
                  origin.column, origin.variable, origin.shadowed, appended)


def _replace(origin: Origin, *, shadowed: tuple[Origin, ...]) -> Origin:
    return Origin(origin.path, origin.source, origin.location, origin.value, origin.file, origin.line,
                  origin.column, origin.variable, shadowed, origin.appended)


def _masked(value: Any) -> str:
    raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    return "<secret unset>" if raw in ("", b"", None) else f"<secret fp={fingerprint(value)}>"


def _shown_raw(raw: Any, path: str, secret: bool, kind: str) -> str:
    """A source's raw value for display: masked; environment text shown as written (no quotes)."""
    if secret and raw is not None:
        return _masked(raw)
    if kind in _ENV_KINDS and isinstance(raw, str) and not is_secret(raw, path):
        text = mask_url_passwords(raw)
        return text if len(text) <= 200 else text[:197] + "..."
    return safe_repr(raw, path)


class _Shown:
    """A masked stand-in inside a section's value, so ``safe_repr`` prints it as is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _masked_tree(parent: Any, parts: list[str], guide: Any, raw: Any, fold: bool) -> Any:
    """``raw`` (a source's value for a section) with every value of a secret field masked."""
    if not _is_section(guide):
        path = ".".join(parts)
        return _Shown(_masked(raw)) if _secret(parent, parts, guide, path) and raw is not None else raw
    if not isinstance(raw, (Mapping, BaseModel)):
        return raw
    out: dict[Any, Any] = {}
    for key, child in entries(guide).items():
        node, used = _descend(guide, str(key), raw, fold)
        if node is not _ABSENT:
            shown_key = used[0] if len(used) == 1 else key
            out[shown_key] = _masked_tree(guide, [*parts, str(key)], child, node, fold)
    return out


def _find_name(values: Mapping[str, Any], name: str, fold: bool) -> str | None:
    """How ``name`` is written among a ``.env`` file's variables."""
    if name in values:
        return name
    if fold:
        low = name.lower()
        return next((k for k in values if k.lower() == low), None)
    return None


def _segments(model: Any, part: str, raw_key: str | int | None) -> set[str]:
    """The spellings a nested environment variable may use for ``part`` of ``model``."""
    names = {part}
    if raw_key is not None:
        names.add(str(raw_key))
    if isinstance(model, BaseModel) and part in type(model).model_fields:
        for keys in _field_keys(type(model), part):
            if len(keys) == 1:
                names.add(str(keys[0]))
    return names


def _variable(rec: _Rec, parts: list[str], keys: tuple[str | int, ...], snapshot: Any) -> str | None:
    """The variable (as the source knows it) that set ``parts``: the longest one that matches.

    Top-level names come from the source itself (prefix, aliases, case); nested ones are the
    field's name or aliases joined by ``env_nested_delimiter``.
    """
    source = rec.source
    if source is None or not parts:
        return None
    env_vars: Mapping[str, Any] = getattr(source, "env_vars", {}) or {}
    delimiter = getattr(source, "env_nested_delimiter", None)
    field = source.settings_cls.model_fields.get(parts[0])
    if field is not None:
        tops = [env_name for _, env_name, _ in source._extract_field_info(field, parts[0])]
    else:  # an extra key (``extra="allow"``)
        name = (source.env_prefix or "") + parts[0]
        tops = [name if source.case_sensitive else name.lower()]
    fold = rec.fold
    alternatives: list[set[str]] = []
    node = snapshot
    raw_parts = list(keys[1:]) if len(keys) == len(parts) else [None] * (len(parts) - 1)
    for depth, part in enumerate(parts):
        if depth:
            spellings = _segments(node, part, raw_parts[depth - 1])
            alternatives.append({s.lower() for s in spellings} if fold else spellings)
        node = entries(node).get(part) if isinstance(node, (BaseModel, dict)) else None
    best: tuple[int, int, str] | None = None
    for name in env_vars:
        for rank, top in enumerate(tops):
            if name == top:
                depth = 0
            elif delimiter and name.startswith(top + delimiter):
                segments = name[len(top) + len(delimiter):].split(delimiter)
                if len(segments) > len(alternatives):
                    continue
                if not all((s.lower() if fold else s) in alternatives[i] for i, s in enumerate(segments)):
                    continue
                depth = len(segments)
            else:
                continue
            if best is None or (depth, -rank) > (best[0], best[1]):
                best = (depth, -rank, name)
    return best[2] if best else None


def build_provenance(snapshot_cls: type[BaseModel], ctx: LoadContext, snapshot: Any) -> Provenance:
    """The [Provenance][livesettings._provenance.Provenance] of ``snapshot``, loaded through ``ctx``.

    Cheap: it keeps references to the load's records and files; answers are computed on demand.
    """
    return Provenance(snapshot_cls, snapshot, ctx.records, ctx.files)


# --------------------------------------------------------------------------- shadowed edits


def _record_key(records: Sequence[SourceRecord]) -> dict[tuple[str, tuple[Path, ...], int], int]:
    seen: dict[tuple[str, tuple[Path, ...]], int] = {}
    out: dict[tuple[str, tuple[Path, ...], int], int] = {}
    for i, record in enumerate(records):
        base = (record.label, record.files)
        n = seen[base] = seen.get(base, -1) + 1
        out[(record.label, record.files, n)] = i
    return out


def _changed_leaves(prov: Provenance, index: int, old_data: Any) -> Iterator[list[str]]:
    """Snapshot paths of ``prov`` where record ``index`` now holds something other than ``old_data``."""
    rec = prov._recs[index]
    stack: list[tuple[list[str], Any, Any, Any]] = [([], prov.snapshot, rec.data, old_data)]
    while stack:
        parts, node, new_raw, old_raw = stack.pop()
        if new_raw is old_raw:
            continue
        try:
            if type(new_raw) is type(old_raw) and new_raw == old_raw:
                continue
        except Exception:  # noqa: BLE001, S112 - an exotic __eq__: treat as changed
            pass
        if parts and not _is_section(node):
            yield parts
            continue
        for key, child in entries(node).items():
            new_child = _descend(node, str(key), new_raw, rec.fold)[0] if new_raw is not _ABSENT else _ABSENT
            old_child = _descend(node, str(key), old_raw, rec.fold)[0] if old_raw is not _ABSENT else _ABSENT
            if new_child is _ABSENT and old_child is _ABSENT:
                continue
            stack.append(([*parts, str(key)], child, new_child, old_child))


def shadowed_edits(old: Provenance, new: Provenance) -> tuple[ShadowedEdit, ...]:
    """The paths where a lower-priority source changed between two loads but the value in effect did not.

    The classic trap: ``.env`` is edited while an environment variable sets the same key. Only the
    sources whose output changed are walked, and only where it changed, so this is cheap to call on
    every accepted reload. Both locations are in each [ShadowedEdit][livesettings._provenance.ShadowedEdit].
    """
    with _asking():
        return _shadowed_edits(old, new)


def _shadowed_edits(old: Provenance, new: Provenance) -> tuple[ShadowedEdit, ...]:
    old_keys = _record_key(old.records)
    out: list[ShadowedEdit] = []
    for key, index in _record_key(new.records).items():
        old_index = old_keys.get(key)
        old_data = old.records[old_index].data if old_index is not None else {}
        if old_data is new.records[index].data:
            continue
        if not any(r.data for r in new.records[:index]):
            continue  # no higher-priority source holds anything: nothing can shadow this edit
        for parts in _changed_leaves(new, index, old_data):
            path = ".".join(parts)
            parts, parent, after_value, nodes, live = new._follow(path)
            if not live or live[0] >= index:
                continue  # nothing set it above the edited source: the edit is in effect (or lost to nothing)
            before_value = _lookup_snapshot(old.snapshot, parts)
            if before_value is MISSING or not _same_leaf(before_value, after_value):
                continue  # the value in effect changed too: not a shadowed edit
            rec = new._recs[index]
            shown, secret = new._shown(parent, parts, after_value, path)
            winner = new._origin_at(new._recs[live[0]], path, parts, nodes[live[0]], shown)
            now_raw = nodes[index][0]
            was_raw: Any = _ABSENT
            changed: Origin | None = None
            if now_raw is not _ABSENT:
                now_shown = _shown_raw(now_raw, path, secret, rec.kind)
                changed = new._origin_at(rec, path, parts, nodes[index], now_shown)
            if old_index is not None:
                try:
                    old_nodes = old._follow(path)[3]
                except ValueError:
                    old_nodes = []
                if old_nodes:
                    was_raw = old_nodes[old_index][0]
                    if changed is None and was_raw is not _ABSENT:
                        old_rec = old._recs[old_index]
                        changed = old._origin_at(old_rec, path, parts, old_nodes[old_index],
                                                 _shown_raw(was_raw, path, secret, old_rec.kind))
            if changed is None:
                continue
            out.append(ShadowedEdit(
                path, changed, winner,
                _UNSET if was_raw is _ABSENT else _shown_raw(was_raw, path, secret, rec.kind),
                _UNSET if now_raw is _ABSENT else _shown_raw(now_raw, path, secret, rec.kind),
            ))
    return tuple(out)


def _lookup_snapshot(tree: Any, parts: list[str]) -> Any:
    node = tree
    for part in parts:
        if not isinstance(node, (BaseModel, dict)):
            return MISSING
        items = entries(node)
        key = part if part in items else next((k for k in items if str(k) == part), MISSING)
        if key is MISSING:
            return MISSING
        node = items[key]
    return node


def explain_served(provenance: Provenance, loaded: Any, served: Any, path: str, *, source: str, target: str) -> Origin:
    """The origin of the value *served* at ``path``, which may not be what the sources hold.

    ``loaded`` is the snapshot the sources gave (``provenance`` describes it); ``served`` the one
    in effect. Where they differ, a rollback or an override is serving (``source``, with the id
    it restored or made in ``target``), or a ``Restart`` field holds the running value: that is
    the origin, and what the sources say is its one shadowed entry.
    """
    origin = provenance.explain(path)
    now, read = find_path(served, path), find_path(loaded, path)
    if now is read or now is MISSING or (type(now) is type(read) and now == read):
        return origin
    kind = source if source in ("rollback", "override") else "restart"
    where = {"rollback": f"rollback to {target}", "override": f"override {target}"}.get(kind, "held until a restart")
    return Origin(path, kind, where, safe_repr(now, path), shadowed=(origin,))


_homes.settle("livesettings", namespace=globals())  # imported on first use: point the public names home
