"""Helpers for testing code that uses livesettings: drive changes and capture what handlers see.

Example:
    ```python
    from livesettings.testing import capture_changes, override

    def test_pool_resizes(settings):
        with capture_changes(settings) as diffs:
            override(settings, {"database.pool_size": 20})
        assert diffs[0].changes[0].new_value == 20
    ```

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ValidationError

from ._model import Diff, Version
from ._paths import assign
from ._freeze import freeze
from ._settings import ReloadableSettings
from ._validate import render_validation_error

__all__ = ["capture_changes", "override"]


def override(settings: ReloadableSettings, values: Mapping[str, Any]) -> Version | None:
    """Apply ``{dotted path: value}`` on top of the current snapshot as a new version.

    The candidate is validated like any other (types, validators, ``Frozen``/``Restart`` rules),
    handlers are called, and the version's ``source`` is ``"override"``. The files are not
    touched, so the next change of a file replaces the override as usual.

    Returns:
        The new version, or ``None`` if nothing changed.

    Raises:
        ReloadError: the overridden config is invalid.
    """
    engine = settings._ls_engine
    with engine._lock:
        current = engine.store.snapshot
        data = current.model_dump(by_alias=False)
        for path, value in values.items():
            assign(data, path, value)
        snapshot_cls: type[BaseModel] = type(current)
        try:
            # Validate the values alone. ``model_validate`` would not do: pydantic-core calls
            # BaseSettings' own __init__ from it, which would read every source again.
            candidate = snapshot_cls.__new__(snapshot_cls)
            BaseModel.__init__(candidate, **data)
        except ValidationError as exc:
            raise render_validation_error(exc, type(current), None, what=engine.name) from None
        freeze(candidate)
        version = engine._commit(candidate, "override", None)
    engine.deliver()
    return version


@contextmanager
def capture_changes(settings: ReloadableSettings, path: str = "") -> Iterator[list[Diff]]:
    """Collect the [Diff][livesettings.Diff] of every version applied inside the ``with`` block."""
    diffs: list[Diff] = []
    handle = settings.watch(path, diffs.append)
    try:
        yield diffs
    finally:
        handle.cancel()
