"""Exceptions raised by livesettings.

One root, a few branches::

    LivesettingsError
    ├── ReloadError (ValueError)          a candidate config was rejected; the current one keeps serving
    │   ├── ConfigValidationError         the values failed validation (also pydantic's ``ValidationError``)
    │   ├── SettingsSourceError           a pydantic-settings source failed (also its ``SettingsError``)
    │   ├── SourceError                   a source could not be read or parsed (file, line, column)
    │   ├── SourceMissingError            a source that was loaded before is gone (deleted, emptied)
    │   ├── UntrustedSourceError          a file failed a trust check (outside allowed roots, writable by others, too big)
    │   └── FrozenFieldError              a field marked ``Frozen`` would change at runtime
    ├── VersionNotFoundError (LookupError) no version with that id, or nothing earlier to roll back to
    ├── ProductionReloadError (RuntimeError) hot reload asked for in production without the explicit opt-in
    └── ClosedError (RuntimeError)        the settings object (or manager) was closed

Errors carry their context as attributes (``source``, ``line``, ``column``, ``field``), not only in
the message. Messages never contain the raw value of a secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import PydanticCustomError
from pydantic_core import ValidationError as _PydanticValidationError
from pydantic_settings import SettingsError as _SettingsError

__all__ = [
    "ClosedError",
    "ConfigValidationError",
    "ErrorDetail",
    "FrozenFieldError",
    "LivesettingsError",
    "ProductionReloadError",
    "ReloadError",
    "SettingsSourceError",
    "SourceError",
    "SourceMissingError",
    "UntrustedSourceError",
    "VersionNotFoundError",
]


class LivesettingsError(Exception):
    """Root of every exception this library raises on purpose."""


@dataclass(frozen=True)
class ErrorDetail:
    """One problem inside a rejected config.

    Attributes:
        field: dotted field path (``"database.pool_size"``), or ``None`` for a whole-source problem.
        message: what is wrong, without the raw input of secret fields.
        source: the file (or ``"environment variable APP_X"``) the offending value came from, if known.
        line: 1-based line in ``source``, if known.
        column: 1-based column in ``source``, if known.
    """

    field: str | None
    message: str
    source: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.source is not None:
            where = f" ({self.source}"
            if self.line is not None:
                where += f", line {self.line}"
                if self.column is not None:
                    where += f", column {self.column}"
            where += ")"
        head = f"{self.field}: " if self.field else ""
        return f"{head}{self.message}{where}"


class ReloadError(LivesettingsError, ValueError):
    """A candidate configuration was rejected; the last good configuration keeps serving.

    Raised by ``reload()`` and at start-up (where there is no last good config yet), and kept in
    ``last_error``. The first detail's location is mirrored in the ``source``, ``line``, ``column``
    and ``field`` attributes for convenience.

    Attributes:
        details: every problem found, each an [ErrorDetail][livesettings.exceptions.ErrorDetail].
        source: file (or env var) of the first problem, if known.
        line: 1-based line of the first problem, if known.
        column: 1-based column of the first problem, if known.
        field: dotted field path of the first problem, if known.
        stage: the validation stage that rejected it: ``"syntax"``, ``"types"``, ``"ranges"``,
            ``"cross-field"`` or ``"change rules"``.
    """

    stage: str | None = None

    def __init__(self, summary: str, details: Sequence[ErrorDetail] = ()) -> None:
        self.summary = summary
        self.details: tuple[ErrorDetail, ...] = tuple(details)
        first = self.details[0] if self.details else None
        self.source: str | None = first.source if first else None
        self.line: int | None = first.line if first else None
        self.column: int | None = first.column if first else None
        self.field: str | None = first.field if first else None
        super().__init__(self._render())

    def _render(self) -> str:
        if not self.details:
            return self.summary
        lines = [self.summary]
        lines.extend(f"  {d}" for d in self.details)
        return "\n".join(lines)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.summary, self.details))


class ConfigValidationError(ReloadError, _PydanticValidationError):
    """The config's values failed validation: a [ReloadError][livesettings.ReloadError] that is also
    pydantic's ``ValidationError``, so code written for pydantic-settings (``except ValidationError``)
    catches it where pydantic-settings would raise one.

    ``str()`` is livesettings' message (field paths, file/line/column, secrets hidden);
    ``errors()``, ``error_count()`` and ``title`` are pydantic's, with the input of secret fields
    replaced by ``"**********"``.

    Added in 0.4.
    """

    stage = "types"
    _ls_pydantic: tuple[str, tuple[dict[str, Any], ...]] = ("", ())

    def __new__(cls, *args: Any, **kwargs: Any) -> ConfigValidationError:
        if _reload_error_args(args, kwargs):  # ConfigValidationError(summary, details): no line errors
            return super().__new__(cls, args[0], [])
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """``(summary, details)`` as for any ``ReloadError``, or pydantic-core's arguments (``build``
        then fills in livesettings' part)."""
        if _reload_error_args(args, kwargs):
            ReloadError.__init__(self, *args)

    @classmethod
    def build(
        cls, summary: str, details: Sequence[ErrorDetail], title: str, errors: Sequence[Mapping[str, Any]]
    ) -> ConfigValidationError:
        """An error with livesettings' ``summary``/``details`` and pydantic's line ``errors``."""
        line_errors: list[Any] = [
            {"type": e["type"], "loc": tuple(e["loc"]), "input": e.get("input"), **({"ctx": e["ctx"]} if "ctx" in e else {})}
            for e in errors
        ]
        try:
            error = cls.from_exception_data(title, line_errors)
        except (TypeError, KeyError, ValueError):  # a custom error type: keep its type name and message
            line_errors = [
                {"type": PydanticCustomError(e["type"], e["msg"]), "loc": tuple(e["loc"]), "input": e.get("input")}
                for e in errors
            ]
            error = cls.from_exception_data(title, line_errors)
        ReloadError.__init__(error, summary, details)
        error._ls_pydantic = (title, tuple(dict(e) for e in errors))  # for pickling
        return error

    def __str__(self) -> str:
        return self._render()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.summary!r}, {len(self.details)} details)"

    def __reduce__(self) -> tuple[object, ...]:
        title, errors = getattr(self, "_ls_pydantic", ("", ()))
        return (_rebuild_validation_error, (type(self), self.summary, self.details, title, errors))


def _reload_error_args(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
    return (
        not kwargs and len(args) in (1, 2) and isinstance(args[0], str)
        and (len(args) == 1 or all(isinstance(d, ErrorDetail) for d in args[1]))
    )


def _rebuild_validation_error(
    cls: type[ConfigValidationError], summary: str, details: Sequence[ErrorDetail], title: str,
    errors: Sequence[Mapping[str, Any]],
) -> ConfigValidationError:
    return cls.build(summary, details, title, errors)


class SettingsSourceError(ReloadError, _SettingsError):
    """A pydantic-settings source failed (an environment value that is not valid JSON for a complex
    field, a source raising ``SettingsError``): also pydantic-settings' ``SettingsError``, as it
    would raise in the same situation.

    Added in 0.4.
    """

    stage = "syntax"


class SourceError(ReloadError):
    """A source could not be read or parsed (syntax error, bad encoding, duplicate key, alias bomb ...).

    Every OS error met while reading a source (permission denied, a symlink loop, an I/O error)
    is one too, naming the file.
    """

    stage = "syntax"

    @classmethod
    def at(
        cls,
        source: str,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
    ) -> SourceError:
        """Build an error for one location in one source."""
        detail = ErrorDetail(field=field, message=message, source=source, line=line, column=column)
        return cls(f"cannot load {source}", [detail])


class SourceMissingError(SourceError):
    """A source that was loaded before has disappeared or become empty; the last good config stays."""


class UntrustedSourceError(SourceError):
    """A file failed a trust check: outside the allowed roots, not a regular file, writable by someone
    it should not be (world-writable; group-writable and owned by another user; under a
    world-writable directory), or over the size limit. See the security model page.
    """


class FrozenFieldError(ReloadError):
    """A field marked ``Frozen`` would change at runtime; the whole candidate is rejected."""

    stage = "change rules"


class VersionNotFoundError(LivesettingsError, LookupError):
    """No version with the requested id is in the history, or there is nothing earlier to roll back to."""


class ProductionReloadError(LivesettingsError, RuntimeError):
    """Hot reload was requested in a production environment without the explicit opt-in."""


class ClosedError(LivesettingsError, RuntimeError):
    """The settings object or manager has been closed."""
