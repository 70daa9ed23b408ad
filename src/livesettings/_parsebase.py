"""What every config parser shares: the limits, decoding, and turning hostile-input errors into SourceError.

A module of its own so the YAML parser ([livesettings._yamlparse][]) can use it without importing
[livesettings._parsers][] (which imports the YAML parser only when a YAML document is parsed: PyYAML
costs about 15 ms to import).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from livesettings.exceptions import SourceError, UntrustedSourceError

__all__ = ["ParseLimits", "decode_text"]


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

