"""Strict, bounded parsers for config file bytes.

Every parser takes raw ``bytes``, enforces [ParseLimits][livesettings._parsebase.ParseLimits] and turns every
problem into a [SourceError][livesettings.exceptions.SourceError] with a 1-based line and column. An *empty
document* (no bytes, only whitespace or comments, a YAML ``null``) returns ``None`` so the caller decides
whether empty is allowed; anything else returns a ``dict``. Nesting depth counts the containers on the path
from the top, the top-level mapping being depth 1.

The YAML parser lives in [livesettings._yamlparse][] and the TOML one is ``tomllib``: both are imported
the first time a document of theirs is parsed, so importing livesettings imports neither PyYAML nor
``tomllib`` (about 18 ms together).
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from livesettings._parsebase import _LIMITS, ParseLimits, _guard, _line_col, _prepare, _value_error, decode_text
from livesettings.exceptions import SourceError

__all__ = ["ParseLimits", "decode_text", "locate", "parse", "parse_dotenv", "parse_json", "parse_toml",
           "parse_yaml", "parse_yaml_value"]  # fmt: skip

_log = logging.getLogger(__name__)
_Path = Sequence[str | int]


def parse_yaml(
    data: bytes, source: str, limits: ParseLimits = _LIMITS, *, layouts: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Parse one YAML document whose top level is a mapping with string keys (safe loading only).

    Ordinary documents are built straight from libyaml's events; anything unusual (and every error) goes
    through the strict loader, whose composed node graph is checked against ``limits`` before any Python
    object is constructed. Both give the same result. See [livesettings._yamlparse.parse_yaml][].

    Raises:
        SourceError: syntax errors, duplicate or non-string keys, limits exceeded, non-mapping top level.
    """
    from livesettings import _yamlparse  # noqa: PLC0415 - PyYAML on first use, not at import

    return _yamlparse.parse_yaml(data, source, limits, layouts=layouts)


def parse_yaml_value(data: bytes, source: str, limits: ParseLimits = _LIMITS) -> Any:
    """Parse one YAML document of any kind (a scalar, a list or a mapping), under the same rules.

    For values that are not whole config files, such as an etcd key holding one setting.
    Empty input is ``None``.

    Raises:
        SourceError: syntax errors, duplicate or non-string keys, limits exceeded.
    """
    from livesettings import _yamlparse  # noqa: PLC0415 - PyYAML on first use, not at import

    return _yamlparse.parse_yaml_value(data, source, limits)


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


# Regular expressions are kept as text and compiled where used (re caches them): most are for errors
# and locations, and compiling them all at import took about a millisecond.
_TOML_AT = r"\s*\(at line (\d+), column (\d+)\)$"


# Strings and comments (skipped) or a decimal integer that is not part of a float, date or key.
_TOML_SCAN = (
    r'"""[\s\S]*?"""' r"|'''[\s\S]*?'''" r'|"(?:[^"\\\n]|\\.)*"' r"|'[^'\n]*'" r"|\#[^\n]*"
    r"|(?<![\w.:+-])(?P<int>[+-]?\d[\d_]*)(?![\w.:-])(?!\s*=)"
)


def _toml_huge_int(text: str) -> tuple[int, int, str | None] | None:
    """(line, column, dotted key) of the first TOML integer with more digits than CPython converts."""
    for match in re.finditer(_TOML_SCAN, text):
        if match["int"] and _too_many_digits(match["int"]):
            line, col = _line_col(text, match.start("int"))
            return line, col, _toml_key_before(text, line)
    return None


def _toml_key_before(text: str, line: int) -> str | None:
    """Best effort: the dotted key assigned last at or before ``line`` (its table included)."""
    table: list[str] = []
    key: list[str] | None = None
    header_rx, assign_rx = re.compile(_TOML_HEADER), re.compile(_TOML_ASSIGN)
    for content in text.splitlines()[:line]:
        header = header_rx.match(content)
        assign = None if header else assign_rx.match(content)
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
    if sys.version_info >= (3, 11):
        import tomllib  # noqa: PLC0415 - on first use, not at import
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # noqa: PLC0415
    text = _prepare(data, source, limits)
    with _guard(source, "TOML"):
        try:
            result: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line, col = getattr(exc, "lineno", None), getattr(exc, "colno", None)  # Python 3.14+
            message = str(getattr(exc, "msg", None) or exc)
            at = re.search(_TOML_AT, message)
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


_JSON_INT = r"-?\d+(?![\d.eE])"


def _json_huge_int(text: str) -> tuple[tuple[str | int, ...], int] | None:
    """(path, offset) of the first integer in valid JSON text with more digits than CPython converts."""
    for path, _key_off, value_off, _container in _json_walk(text):
        match = re.compile(_JSON_INT).match(text, value_off)
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
_NEWLINES = r"\r\n|\r|\n"
_QUOTE_START = r"""\s*(?:export\s+)?[^=\s]+\s*=\s*['"]"""


def _bindings(text: str) -> Iterator[tuple[str | None, int, str, bool]]:
    """Yield (key, line, first line text, error) per statement, the line skipping leading blank lines."""
    newlines = re.compile(_NEWLINES)
    for binding in parse_stream(io.StringIO(text)):
        raw = binding.original.string
        body = raw.lstrip()
        line = binding.original.line + len(newlines.findall(raw, 0, len(raw) - len(body)))
        yield binding.key, line, newlines.split(body, maxsplit=1)[0], binding.error


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
            what = "unclosed quote" if re.match(_QUOTE_START, first) else "expected NAME=value"
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
    from livesettings import _yamlparse  # noqa: PLC0415 - PyYAML on first use, not at import

    return _yamlparse.locate_yaml(text, path, key)


_JSON_TOKEN = r'(?s)\s*("(?:[^"\\]|\\.)*"|[^\s,:\[\]{}"]+|\S)'


def _json_walk(text: str) -> Iterator[tuple[tuple[str | int, ...], int | None, int, bool]]:
    """Yield (path, key offset, value offset, is container) for every value of valid JSON, in order."""
    path: list[str | int] = []
    containers: list[str] = []
    key_off: int | None = None
    want_key = False
    for match in re.finditer(_JSON_TOKEN, text):
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
_TOML_HEADER = rf"\s*(\[\[?)\s*({_TOML_KEY}(?:\s*\.\s*{_TOML_KEY})*)\s*\]"
_TOML_ASSIGN = rf"\s*({_TOML_KEY}(?:\s*\.\s*{_TOML_KEY})*)\s*="


def _locate_toml(text: str, path: _Path, _key: bool = False) -> tuple[int, int] | None:
    """Find ``key =`` (under the current table) or a ``[table]`` header; else the longest matching prefix."""
    target, table = list(path), []
    best: tuple[int, tuple[int, int]] | None = None
    header_rx, assign_rx = re.compile(_TOML_HEADER), re.compile(_TOML_ASSIGN)
    counts: dict[tuple[str | int, ...], int] = {}  # array-of-tables name -> entries seen
    in_string = False
    for number, line in enumerate(text.splitlines(), 1):
        was_in_string = in_string
        in_string ^= (line.count('"""') + line.count("'''")) % 2 == 1
        match = None if was_in_string else header_rx.match(line) or assign_rx.match(line)
        if match is None:
            continue
        header = match.re is header_rx
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
