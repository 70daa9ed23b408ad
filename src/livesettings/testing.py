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

from ._model import Diff, Version
from ._settings import ReloadableSettings

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
    return settings._ls_engine.apply_values(values)


@contextmanager
def capture_changes(settings: ReloadableSettings, path: str = "") -> Iterator[list[Diff]]:
    """Collect the [Diff][livesettings.Diff] of every version applied inside the ``with`` block."""
    diffs: list[Diff] = []
    handle = settings.watch(path, diffs.append)
    try:
        yield diffs
    finally:
        handle.cancel()
