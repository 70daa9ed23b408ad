"""Make every model inside a snapshot immutable, so versions in the history cannot be changed.

The snapshot model itself is frozen, but the user's section classes (``class Database(BaseModel)``)
usually are not: ``settings.database.pool_size = 3`` would silently edit a section that several
versions share. After validation, each non-frozen section instance gets its class switched to a
cached frozen *twin* (a subclass with ``frozen=True``). ``isinstance`` still holds, and the twin
reports the original class as its origin so ``==`` against a plain instance still compares values.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["freeze"]

_lock = threading.Lock()
_twins: dict[type[BaseModel], type[BaseModel]] = {}
_twin_classes: set[type[BaseModel]] = set()


def _twin(cls: type[BaseModel]) -> type[BaseModel]:
    twin = _twins.get(cls)
    if twin is not None:
        return twin
    with _lock:
        twin = _twins.get(cls)
        if twin is None:
            meta: Any = type(cls)
            twin = meta(
                cls.__name__,
                (cls,),
                {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "model_config": ConfigDict(frozen=True)},
            )
            origin = cls.__pydantic_generic_metadata__.get("origin") or cls
            twin.__pydantic_generic_metadata__ = {**cls.__pydantic_generic_metadata__, "origin": origin}
            _twins[cls] = twin
            _twin_classes.add(twin)
    return twin


def freeze(tree: Any) -> None:
    """Switch every non-frozen model instance under ``tree`` to its frozen twin (in place).

    Call it on a freshly validated snapshot before anyone else can see it. Sub-trees that are
    already twins (shared with the previous version) are skipped.
    """
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, BaseModel):
            cls = type(node)
            if cls in _twin_classes:
                continue
            if not cls.model_config.get("frozen"):
                node.__class__ = _twin(cls)
            stack.extend(v for v in node.__dict__.values() if isinstance(v, (BaseModel, list, tuple, dict)))
            extra = node.__pydantic_extra__
            if extra:
                stack.extend(v for v in extra.values() if isinstance(v, (BaseModel, list, tuple, dict)))
        elif isinstance(node, (list, tuple)):
            stack.extend(v for v in node if isinstance(v, (BaseModel, list, tuple, dict)))
        elif isinstance(node, dict):
            stack.extend(v for v in node.values() if isinstance(v, (BaseModel, list, tuple, dict)))
