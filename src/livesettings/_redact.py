"""Secret masking: the one rule for what may leave the process.

Secrets (``SecretStr``, ``SecretBytes``, any value with ``get_secret_value``, and values under
keys that look like credentials) never appear in a repr: they show as a short keyed fingerprint,
so a rotation stays visible (``<secret fp=1a2b3c4d>`` → ``<secret fp=9f8e7d6c>``). URL passwords
(``scheme://user:password@host``) are fingerprinted the same way.
"""

from __future__ import annotations

import hashlib
import os
import re
import typing
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from ._paths import join

__all__ = ["field_is_secret", "fingerprint", "is_secret", "mask_url_passwords", "safe_repr"]


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
            _emit(out, child, join(path, key) if key is not None else path)
        out.write(")")
    elif isinstance(value, Mapping):
        out.write("{" if type(value) is dict else f"{type(value).__name__}({{")
        for i, (key, child) in enumerate(value.items()):
            out.write(", " if i else "")
            out.write(f"{key!r}: ")
            _emit(out, child, join(path, key))
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




def _annotation_parts(annotation: Any) -> Iterator[Any]:
    """The annotation, its origin and every type argument inside it (``Optional[list[M]]`` → ... ``M``)."""
    stack = [annotation]
    while stack:
        ann = stack.pop()
        yield ann
        origin = typing.get_origin(ann)
        if origin is not None:
            yield origin
        stack.extend(typing.get_args(ann))


def _secret_annotation(annotation: Any) -> bool:
    return any(isinstance(a, type) and hasattr(a, "get_secret_value") for a in _annotation_parts(annotation))


def _models_anywhere(annotation: Any) -> list[type[BaseModel]]:
    """Model classes anywhere in an annotation, containers included (``list[M]``, ``dict[str, M]``)."""
    return [a for a in _annotation_parts(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]


def field_is_secret(model: type[BaseModel], loc: Sequence[int | str]) -> bool:
    """Whether the field at ``loc`` (or a field above it) is declared as a secret type.

    Parts of ``loc`` that name no field (list indices, dict keys) are stepped over.
    """
    classes: list[type[BaseModel]] = [model]
    for part in loc:
        nxt: list[type[BaseModel]] = []
        named = False
        for cls in classes:
            info = cls.model_fields.get(part) if isinstance(part, str) else None
            if info is None:
                continue
            named = True
            if _secret_annotation(info.annotation):
                return True
            nxt.extend(_models_anywhere(info.annotation))
        if named:
            if not nxt:
                return False
            classes = nxt
    return False
