"""Validation of a candidate config: stages, results, and secret-safe error messages.

The stages of the brief — syntax → types → ranges → cross-field → change rules — map onto
what actually checks them: our strict parsers (syntax), pydantic (types, ranges, cross-field
validators) and the field policies (change rules: ``Frozen``). A pydantic ``ValidationError`` is
re-rendered here: each problem gets its dotted field path, the file/line/column (or environment
variable) the value came from, and never the raw input of a secret.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from . import _homes
from . import _parsers
from ._merge import appended_item
from ._packed import opened
from ._model import Plan
from ._redact import field_is_secret, redact_text, safe_repr, secret_path, secret_strings
from ._sources import LoadContext
from .exceptions import ConfigValidationError, ErrorDetail, ReloadError

__all__ = [
    "STAGES", "ConfigChangeValidator", "ValidationPipeline", "ValidationResult", "mask_source_state",
    "render_validation_error",
]

STAGES = ("syntax", "types", "ranges", "cross-field", "change rules")

_RANGE_TYPES = frozenset(
    {
        "greater_than", "greater_than_equal", "less_than", "less_than_equal", "multiple_of",
        "too_short", "too_long", "string_too_short", "string_too_long", "finite_number",
        "decimal_max_digits", "decimal_max_places", "decimal_whole_digits", "string_pattern_mismatch",
    }
)
_SCALARS = (str, int, float, bool, type(None))
_MASK = "**********"


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of validating a candidate without applying it.

    Attributes:
        is_valid: whether the candidate would be accepted.
        errors: the problems found (empty when valid).
        stage: the first stage that failed (one of ``STAGES``), or ``None``.
        error: the full [ReloadError][livesettings.ReloadError], or ``None``.
        plan: for a valid candidate, what a reload would do with each change
            ([Plan][livesettings.Plan]: live, restart, shadowed).
        unknown_keys: keys in file sources that no field accepts (file, line, column, suggestion).
    """

    is_valid: bool
    errors: tuple[ErrorDetail, ...] = ()
    stage: str | None = None
    error: ReloadError | None = None
    plan: Plan | None = None
    unknown_keys: tuple[Any, ...] = ()

    def __bool__(self) -> bool:
        return self.is_valid

    @classmethod
    def from_error(cls, error: ReloadError) -> ValidationResult:
        """The result for a rejected candidate."""
        return cls(False, error.details, stage_of(error), error)


def stage_of(error: ReloadError) -> str:
    """Which validation stage rejected ``error``'s candidate (each error class knows its stage)."""
    return error.stage or "types"


def _lookup(data: Any, loc: Sequence[int | str], *, fold_case: bool = False) -> bool:
    node = data
    for part in loc:
        node = opened(node)  # a packed section (see _packed)
        if isinstance(node, Mapping):
            if part in node:
                node = node[part]
                continue
            if fold_case and isinstance(part, str):
                low = {str(k).lower(): v for k, v in node.items()}
                if part.lower() in low:
                    node = low[part.lower()]
                    continue
            return False
        if isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
            node = node[part]
            continue
        return False
    return True


def attribute(ctx: LoadContext | None, loc: Sequence[int | str]) -> tuple[str | None, int | None, int | None]:
    """Where the value at ``loc`` came from: (source, line, column), best effort."""
    if ctx is None or not loc:
        return None, None, None
    for record in ctx.records:
        if not _lookup(record.data, loc, fold_case=record.label in ("env", "dotenv")):
            continue
        if record.label == "env":
            name = record.env_prefix + (record.env_delimiter or "_").join(str(p) for p in loc)
            if not record.env_delimiter:
                name = record.env_prefix + str(loc[0])
            return f"environment variable {name.upper()}", None, None
        piece = appended_item(record.appended, loc) if record.appended else None
        if piece is not None:  # an item of a list several files were appended into: its own file
            state = ctx.files.get(piece[0])
            if state is not None and state.parsed is not None:
                pos = _parsers.locate(state.fmt, state.data, list(piece[1]))
                return str(piece[0]), pos[0] if pos else None, pos[1] if pos else None
        for path in reversed(record.files):
            state = ctx.files.get(path)
            if state is None or state.parsed is None:
                continue
            if record.label == "dotenv":
                name = record.env_prefix + (record.env_delimiter or "_").join(str(p) for p in loc)
                for candidate in (name, name.upper(), record.env_prefix + str(loc[0])):
                    pos = _parsers.locate("dotenv", state.data, [candidate])
                    if pos is not None:
                        return str(path), pos[0], pos[1]
                continue
            if _lookup(state.parsed, loc):
                if state.fmt == "secret":
                    return str(path), None, None
                pos = _parsers.locate(state.fmt, state.data, list(loc))
                return str(path), pos[0] if pos else None, pos[1] if pos else None
        return record.label, None, None
    return None, None, None


def _declared_secret_leaves(model: type[BaseModel], loc: tuple[int | str, ...], value: Any) -> list[str]:
    """Text of the leaves of a container input whose fields are declared secret (``SecretStr`` ...)."""
    found: list[str] = []
    stack: list[tuple[tuple[int | str, ...], Any]] = [(loc, value)]
    while stack and len(found) < 1000:
        at, node = stack.pop()
        if isinstance(node, Mapping):
            stack.extend(((*at, k), v) for k, v in node.items() if isinstance(k, str))
        elif isinstance(node, (list, tuple)):
            stack.extend(((*at, i), v) for i, v in enumerate(node))
        elif isinstance(node, (str, bytes)) and at != loc and field_is_secret(model, at):
            found.append(node.decode("utf-8", "replace") if isinstance(node, bytes) else node)
    return found


def _from_secret_file(ctx: LoadContext | None, source: str | None) -> bool:
    """Whether the offending value was read from a file in a secrets directory (always secret)."""
    if ctx is None or source is None:
        return False
    state = ctx.files.get(Path(source))
    return state is not None and state.fmt == "secret"


def _stage_for(error_type: str, loc: Sequence[int | str]) -> str:
    if not loc:
        return "cross-field"
    if error_type in _RANGE_TYPES:
        return "ranges"
    if error_type in ("value_error", "assertion_error"):
        return "cross-field"
    return "types"


def render_validation_error(
    exc: ValidationError, model: type[BaseModel], ctx: LoadContext | None, *, what: str
) -> ReloadError:
    """A [ReloadError][livesettings.ReloadError] for ``exc`` that names sources and hides secrets."""
    details: list[ErrorDetail] = []
    stages: list[str] = []
    line_errors: list[dict[str, Any]] = []  # pydantic's own, for ConfigValidationError.errors()
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or None
        value = err.get("input")
        source, line, column = attribute(ctx, loc)
        secret = (
            field_is_secret(model, loc)
            or secret_path(loc)
            or hasattr(value, "get_secret_value")
            or _from_secret_file(ctx, source)
        )
        # A validator's message may quote the input (or, for a cross-field check, any secret leaf of it).
        message = redact_text(
            err["msg"], [*secret_strings(value, loc, secret=secret), *_declared_secret_leaves(model, loc, value)]
        )
        if err["type"] == "missing":
            message = "required, but not set by any source"
        elif isinstance(value, _SCALARS) and not secret:
            message = f"{message} (got {safe_repr(value)})"
        details.append(ErrorDetail(field, message, source, line, column))
        stages.append(_stage_for(err["type"], loc))
        secret_free = {k: v for k, v in err.items() if k != "ctx"}  # a ctx error may quote the input
        base = loc[:-1] if err["type"] == "missing" else loc  # a missing field's input is its parent's
        shown = {**err, "input": _mask_input(model, base, value)}
        line_errors.append({**secret_free, "msg": message, "input": _MASK} if secret else shown)
    count = len(details)
    summary = f"invalid configuration for {what}: {count} error{'s' if count != 1 else ''}"
    error = ConfigValidationError.build(summary, details, exc.title, line_errors)
    error.stage = min(stages, key=STAGES.index) if stages else "types"
    return error


def _mask_input(model: type[BaseModel], base: tuple[Any, ...], value: Any, depth: int = 0) -> Any:
    """``value`` (the input at ``base``) with the values of secret fields under it masked."""
    if not isinstance(value, Mapping) or depth > 32:
        return value
    out: dict[Any, Any] = {}
    for key, item in value.items():
        path = (*base, key)
        if hasattr(item, "get_secret_value") or secret_path(path) or field_is_secret(model, path):
            out[key] = _MASK
        else:
            out[key] = _mask_input(model, path, item, depth + 1)
    return out


def mask_source_state(model: type[BaseModel], source: str, state: Mapping[str, Any]) -> dict[str, Any]:
    """What a source returned, with its secrets masked (for pydantic-settings' debug report).

    Everything a secrets source returned (``secrets_dir``, the cloud secret managers) is a
    secret; elsewhere, the values of fields declared or named secret.
    """
    state = {key: opened(value) for key, value in state.items()}  # packed sections shown as what they hold
    if "Secret" in source:
        return {key: _mask_all(value) for key, value in state.items()}
    return _mask_input(model, (), state)  # type: ignore[no-any-return]


def _mask_all(value: Any, depth: int = 0) -> Any:
    if isinstance(value, Mapping) and depth < 32:
        return {key: _mask_all(item, depth + 1) for key, item in value.items()}
    return None if value is None else _MASK


class ConfigChangeValidator:
    """Validates the sources as they are now against the running config, applying nothing.

    The brief's "Configuration Validator" and its ``ValidationPipeline``: ``load`` runs the
    syntax, types, ranges and cross-field stages (parsers + pydantic), ``plan`` the change rules
    (``Frozen`` fields refuse, ``Restart`` fields wait) against the running snapshot, with the
    same [plan][livesettings.Plan] a commit follows.

    Args:
        load: returns a freshly validated candidate (with ``.snapshot``) or raises ``ReloadError``.
        current: returns the running snapshot.
        plan: ``plan(running, candidate)`` returns the [Plan][livesettings.Plan] or raises
            ``ReloadError`` if a change rule refuses the candidate.
    """

    stages = STAGES

    def __init__(
        self,
        load: Callable[[], Any],
        current: Callable[[], Any],
        plan: Callable[[Any, Any], Plan],
    ) -> None:
        self._load = load
        self._current = current
        self._plan = plan

    def validate(self) -> ValidationResult:
        """Run every stage; the first failing stage is in ``result.stage``, the plan in ``result.plan``."""
        try:
            candidate = self._load()
            running = self._current()
            proposal = self._plan(running, candidate) if running is not None else None
        except ReloadError as exc:
            return ValidationResult.from_error(exc)
        return ValidationResult(True, plan=proposal, unknown_keys=tuple(getattr(candidate, "unknown_keys", ())))


ValidationPipeline = ConfigChangeValidator
"""The brief's name for the multi-stage validation; the same class."""


_homes.settle("livesettings", namespace=globals())  # imported on first use: point the public names home


_homes.settle("livesettings.components", ('ConfigChangeValidator', 'ValidationPipeline'), globals())  # a component class: its public home
