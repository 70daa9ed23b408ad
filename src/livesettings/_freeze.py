"""Make every model inside a snapshot immutable, secret-safe to print, and picklable.

The snapshot model itself is frozen, but the user's section classes (``class Database(BaseModel)``)
usually are not: ``settings.database.pool_size = 3`` would silently edit a section that several
versions share. After validation, each section instance gets its class switched to a cached
frozen *twin* (a subclass with ``frozen=True``). ``isinstance`` still holds, and the twin
reports the original class as its origin so ``==`` against a plain instance still compares values.

A twin also masks secrets in its repr (``_redact``): a section that sits under a credential
name (``auth: Creds``) gets the twin that masks every leaf, since its own repr cannot know its
path. And a twin pickles as "the twin of ``Database``", so a snapshot survives a
multiprocessing hand-off and unpickles still frozen.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel, ConfigDict

from ._redact import masked_repr_args, secret_name

__all__ = ["freeze", "thaw"]

_lock = threading.Lock()
_twins: dict[tuple[type[BaseModel], bool], type[BaseModel]] = {}
_twin_classes: set[type[BaseModel]] = set()
_CONTAINER = (BaseModel, list, tuple, dict)


def _restore(cls: type[BaseModel], secret: bool, state: dict[str, Any]) -> BaseModel:
    """Unpickle a section: an instance of ``cls``'s twin (made in this process if need be)."""
    twin = _twin(cls, secret)
    obj = twin.__new__(twin)
    obj.__setstate__(state)
    return obj


def _twin(cls: type[BaseModel], secret: bool) -> type[BaseModel]:
    key = (cls, secret)
    twin = _twins.get(key)
    if twin is not None:
        return twin
    with _lock:
        twin = _twins.get(key)
        if twin is None:

            def __repr_args__(self: BaseModel) -> list[tuple[str | None, Any]]:
                return masked_repr_args(self, secret=secret)

            def __reduce__(self: BaseModel) -> tuple[Any, ...]:
                return (_restore, (cls, secret, self.__getstate__()))

            meta: Any = type(cls)
            twin = meta(
                cls.__name__,
                (cls,),
                {
                    "__module__": cls.__module__,
                    "__qualname__": cls.__qualname__,
                    "model_config": ConfigDict(frozen=True),
                    "__repr_args__": __repr_args__,
                    "__reduce__": __reduce__,
                },
            )
            # The same FieldInfo objects as the original (pydantic copies them for a subclass): code
            # that keys on them, such as pydantic-settings' CLI parser map, finds a twin's fields.
            twin.__pydantic_fields__ = cls.__pydantic_fields__
            origin = cls.__pydantic_generic_metadata__.get("origin") or cls
            twin.__pydantic_generic_metadata__ = {**cls.__pydantic_generic_metadata__, "origin": origin}
            _twins[key] = twin
            _twin_classes.add(twin)
    return twin


def freeze(tree: Any) -> None:
    """Switch every model instance under ``tree`` (not ``tree`` itself) to its frozen twin, in place.

    Call it on a freshly validated snapshot before anyone else can see it; the snapshot (the
    root) is frozen and masked by its own class. Sub-trees that are already twins (shared with
    the previous version) are skipped.
    """
    stack: list[tuple[Any, bool]] = []
    _push_children(stack, tree, False)
    while stack:
        node, secret = stack.pop()
        if isinstance(node, BaseModel):
            cls = type(node)
            if cls in _twin_classes:
                continue
            node.__class__ = _twin(cls, secret)
        _push_children(stack, node, secret)


def _push_children(stack: list[tuple[Any, bool]], node: Any, secret: bool) -> None:
    if isinstance(node, BaseModel):
        for items in (node.__dict__, node.__pydantic_extra__ or {}):
            stack.extend((v, secret or secret_name(k)) for k, v in items.items() if isinstance(v, _CONTAINER))
    elif isinstance(node, (list, tuple)):
        stack.extend((v, secret) for v in node if isinstance(v, _CONTAINER))
    elif isinstance(node, dict):
        stack.extend((v, secret or secret_name(k)) for k, v in node.items() if isinstance(v, _CONTAINER))


def thaw(node: Any) -> Any:
    """A mutable copy of ``node``: every section under it back in its own class (not the twin).

    For code that needs the user's classes themselves (pydantic-settings' CLI looks subcommands
    up by class) or edits what it is given (a subcommand's ``cli_cmd``); the snapshot is untouched.
    """
    if isinstance(node, BaseModel):
        cls = type(node)
        if cls in _twin_classes:
            cls = cls.__mro__[1]
        values = {key: thaw(value) for key, value in node.__dict__.items()}
        return cls.model_construct(_fields_set=set(node.model_fields_set), **values, **(node.__pydantic_extra__ or {}))
    if isinstance(node, list):
        return [thaw(item) for item in node]
    if isinstance(node, tuple) and not hasattr(node, "_fields"):
        return tuple(thaw(item) for item in node)
    if isinstance(node, dict):
        return {key: thaw(value) for key, value in node.items()}
    return node
