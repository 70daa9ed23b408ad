"""Secret masking: the one rule for what may leave the process.

A value is *secret* when

* its type is a secret type (``SecretStr``, ``SecretBytes``, ``Secret[...]``: anything with
  ``get_secret_value``), or its field is declared with one (for raw inputs in error messages), or
* **any** segment of its dotted path looks like a credential name (``password``, ``token``,
  ``secret``, ``api_key``, ``auth`` ...): ``tokens.github``, ``passwords.db`` and ``api_tokens.0``
  are all secret, and so is every leaf under ``auth:`` (``None`` and booleans excepted), or
* it is the password of a URL (``scheme://user:password@host``), wherever the URL sits.

Secrets never appear in a repr, a log line or an error: they show as a short keyed fingerprint,
so a rotation stays visible (``<secret fp=1a2b3c4d>`` → ``<secret fp=9f8e7d6c>``). Every output
path of the package (reprs of settings, snapshots, sections, changes, diffs and versions; audit
lines; error messages) goes through this module; nothing else decides what is secret.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

__all__ = [
    "field_is_secret",
    "fingerprint",
    "is_secret",
    "mask_url_passwords",
    "masked_repr_args",
    "redact_text",
    "safe_repr",
    "secret_name",
    "secret_path",
]


# A per-process key: fingerprints are comparable within one process (and its logs) but cannot be
# used to brute-force a secret offline from a log line.
_FP_KEY = os.urandom(16)
# Searched over a whole dotted path: a match inside any segment makes the path secret. ``.`` is a
# segment boundary, so ``auth`` matches ``auth``, ``db.auth`` and ``basic_auth`` but not ``author``.
_SENSITIVE = re.compile(
    r"(pass(word|wd|phrase)|secret|token|api[_-]?key|private[_-]?key|credential|(^|[._-])auth($|[._-]))",
    re.IGNORECASE,
)
_MAX_REPR = 200
_MIN_SCRUB = 3  # shorter secrets are not searched for inside free text (they would match anything)
_CONTAINERS = (BaseModel, Mapping, list, tuple, set, frozenset)


def secret_name(name: object) -> bool:
    """Whether one key or field name looks like a credential name (``"api_token"``)."""
    return isinstance(name, str) and _secret_name(name)


@functools.lru_cache(maxsize=4096)  # the same field names are asked about on every reload
def _secret_name(name: str) -> bool:
    return _SENSITIVE.search(name) is not None


def secret_path(path: str | Sequence[int | str]) -> bool:
    """Whether any segment of a dotted path (or a ``loc`` tuple) looks like a credential name."""
    if not isinstance(path, str):
        path = ".".join(str(p) for p in path)
    return bool(path) and _SENSITIVE.search(path) is not None


def is_secret(value: object, path: str | Sequence[int | str] = "") -> bool:
    """Whether ``value`` (found at dotted ``path``) must be masked wherever it is shown.

    Containers are never secret themselves (their leaves are); ``None`` and booleans are never
    secret by path (they hold no credential, and ``auth.enabled: true`` should stay readable).
    """
    if hasattr(value, "get_secret_value"):
        return True
    if value is None or isinstance(value, (bool, *_CONTAINERS)):
        return False
    return secret_path(path)


def fingerprint(value: object) -> str:
    """A short keyed fingerprint of a (secret) value; stable within one process."""
    raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, key=_FP_KEY, digest_size=4).hexdigest()


class _Full(Exception):
    """Raised by ``_Writer`` once the repr is long enough to be cut."""


class _Writer:
    __slots__ = ("limit", "parts", "size")

    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.limit = limit

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > self.limit:
            raise _Full


def _secret_text(value: object) -> str:
    raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    return "<secret unset>" if raw in ("", b"") else f"<secret fp={fingerprint(value)}>"


def _emit(out: _Writer, value: object, secret: bool) -> None:
    """Write a secret-safe repr of ``value``; ``secret``: a segment of its path is a credential name.

    Containers are walked so nested secrets are masked too; a key that looks like a credential
    name makes everything below it secret.
    """
    if value is None:
        out.write("None")
    elif hasattr(value, "get_secret_value") or (secret and not isinstance(value, (bool, *_CONTAINERS))):
        out.write(_secret_text(value))
    elif isinstance(value, BaseModel):
        out.write(f"{type(value).__name__}(")
        # The base implementation on purpose: our models override ``__repr_args__`` to call us.
        for i, (key, child) in enumerate(BaseModel.__repr_args__(value)):
            out.write(", " if i else "")
            out.write(f"{key}=" if key is not None else "")
            _emit(out, child, secret or secret_name(key))
        out.write(")")
    elif isinstance(value, Mapping):
        out.write("{" if type(value) is dict else f"{type(value).__name__}({{")
        for i, (key, child) in enumerate(value.items()):
            out.write(", " if i else "")
            out.write(f"{key!r}: ")
            _emit(out, child, secret or secret_name(key))
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
            _emit(out, child, secret)  # elements of ``tokens: [...]`` are still under "tokens"
        out.write("," + closing if type(value) is tuple and len(value) == 1 else closing)
    else:
        out.write(mask_url_passwords(repr(value)))


_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s/:@'\"]*:)([^\s@/'\"]+)(?=@)")


def mask_url_passwords(text: str) -> str:
    """Replace the password of every ``scheme://user:password@host`` in ``text`` by its fingerprint."""
    if "://" not in text:
        return text
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}<secret fp={fingerprint(m.group(2))}>", text)


def safe_repr(value: object, path: str = "", *, secret: bool = False, limit: int = _MAX_REPR) -> str:
    """``repr(value)`` with secrets (also inside sections and lists) replaced by a fingerprint, cut when long.

    Args:
        value: anything.
        path: the dotted path ``value`` sits at (decides the credential-name rule).
        secret: treat every leaf as secret (the value is known to sit under a credential name).
        limit: cut the text at about this many characters.
    """
    out = _Writer(limit)
    try:
        _emit(out, value, secret or secret_path(path))
    except _Full:
        pass
    text = "".join(out.parts)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Shown:
    """A value already rendered safely: its repr is the text (so pydantic, rich and devtools print it as is)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def masked_repr_args(model: BaseModel, *, secret: bool = False) -> list[tuple[str | None, Any]]:
    """``model.__repr_args__()`` with every value rendered by [safe_repr][livesettings._redact.safe_repr].

    The generated snapshot models and the frozen section twins return this from their own
    ``__repr_args__``, so ``repr``, ``str``, rich and devtools all show masked values.

    Args:
        model: the instance.
        secret: the model sits under a credential name: mask every leaf.
    """
    return [
        (key, _Shown(safe_repr(value, secret=secret or secret_name(key))))
        for key, value in BaseModel.__repr_args__(model)
    ]


def secret_strings(value: object, path: str | Sequence[int | str] = "", *, secret: bool = False) -> list[str]:
    """The secret leaves of ``value`` as text (for scrubbing free text such as a validator's message)."""
    found: list[str] = []
    stack: list[tuple[object, bool]] = [(value, secret or secret_path(path))]
    while stack and len(found) < 1000:
        node, under = stack.pop()
        if hasattr(node, "get_secret_value"):
            raw = node.get_secret_value()
            found.append(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))
        elif isinstance(node, BaseModel):
            stack.extend((v, under or secret_name(k)) for k, v in BaseModel.__repr_args__(node))
        elif isinstance(node, Mapping):
            stack.extend((v, under or secret_name(k)) for k, v in node.items())
        elif isinstance(node, (list, tuple, set, frozenset)):
            stack.extend((v, under) for v in node)
        elif under and node is not None and not isinstance(node, bool):
            found.append(node.decode("utf-8", "replace") if isinstance(node, bytes) else str(node))
    return found


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Free text (an error message) with each of ``secrets`` and every URL password fingerprinted.

    Secrets shorter than three characters are not searched for (they would match ordinary words).
    """
    for raw in sorted(set(secrets), key=len, reverse=True):
        if len(raw) >= _MIN_SCRUB and raw in text:
            text = text.replace(raw, f"<secret fp={fingerprint(raw)}>")
    return mask_url_passwords(text)


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
