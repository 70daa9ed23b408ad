"""Point public names' ``__module__`` at the namespace users import them from (repr, docs).

``livesettings/__init__.py`` does it for the names it imports at once; a module imported on first use
(the engine side, loaded by the first settings object) calls [settle][livesettings._homes.settle] at
its end for the top-level names and the ``livesettings.components`` names it defines (so a class
reached through a settings object reports the same home whether or not its namespace was imported),
and ``livesettings.components`` / ``livesettings.watch`` for theirs when they are imported.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["settle"]

_PUBLIC = frozenset({"livesettings", "livesettings.components", "livesettings.watch"})


def settle(home: str, names: Iterable[str] | None = None, namespace: Mapping[str, Any] | None = None) -> None:
    """Set ``__module__ = home`` on each of ``names`` found in ``namespace`` that livesettings defines.

    ``names`` defaults to ``home``'s ``__all__``, ``namespace`` to ``home``'s globals. An alias
    (``ConfigChange = Change``) keeps its class's home; objects from other packages are left alone.
    """
    module = sys.modules.get(home)
    if names is None:
        names = getattr(module, "__all__", ())
    if namespace is None:
        namespace = vars(module) if module is not None else {}
    for name in names:
        obj = namespace.get(name)
        if obj is None:
            continue
        where = getattr(obj, "__module__", None)
        if not isinstance(where, str) or not where.startswith("livesettings") or where in _PUBLIC:
            continue  # another package's, or already homed (Debouncer: livesettings.watch, also in components)
        if getattr(obj, "__name__", name) != name:
            continue
        try:
            obj.__module__ = home
        except (AttributeError, TypeError):
            pass
