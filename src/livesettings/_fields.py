"""Per-field reload policies (``Restart``, ``Frozen``) and where they sit in a model.

Use them inside ``Annotated`` at any depth::

    class Database(BaseModel):
        url: Annotated[str, Restart]        # change reported in ``pending_restart``, not applied
        shard: Annotated[int, Frozen]       # change rejects the whole reload
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Iterator
from typing import Any, Union

from pydantic import BaseModel

__all__ = ["Frozen", "Policy", "Restart", "collect_policies"]


class Policy(enum.Enum):
    """How a change to a field is treated at runtime."""

    HOT = "hot"
    RESTART = "restart"
    FROZEN = "frozen"


class _Marker:
    __slots__ = ("policy",)

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def __repr__(self) -> str:
        return "Restart" if self.policy is Policy.RESTART else "Frozen"


Restart: Any = _Marker(Policy.RESTART)
"""``Annotated[T, Restart]``: a change is kept in ``pending_restart`` and logged, not applied live."""

Frozen: Any = _Marker(Policy.FROZEN)
"""``Annotated[T, Frozen]``: a change at runtime rejects the whole reload with ``FrozenFieldError``."""


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """BaseModel classes reachable through ``Optional``/``Union``/``Annotated`` (not containers)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _models_in(typing.get_args(annotation)[0])
    elif origin is Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _models_in(arg)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation


def collect_policies(model: type[BaseModel]) -> dict[str, Policy]:
    """Dotted path → policy for every field marked ``Restart`` or ``Frozen`` under ``model``."""
    found: dict[str, Policy] = {}
    stack: list[tuple[str, type[BaseModel], frozenset[type[BaseModel]]]] = [("", model, frozenset())]
    while stack:
        prefix, cls, seen = stack.pop()
        for name, info in cls.model_fields.items():
            path = f"{prefix}.{name}" if prefix else name
            for meta in info.metadata:
                if isinstance(meta, _Marker):
                    found[path] = meta.policy
            if path in found:
                continue
            for sub in _models_in(info.annotation):
                if sub not in seen:  # self-referencing models stop here
                    stack.append((path, sub, seen | {cls}))
    return found


def policy_for(path: str, policies: dict[str, Policy]) -> tuple[str, Policy] | None:
    """The marked field at or above dotted ``path``, if any."""
    if not policies:
        return None
    parts = path.split(".")
    for i in range(1, len(parts) + 1):
        prefix = ".".join(parts[:i])
        hit = policies.get(prefix)
        if hit is not None:
            return prefix, hit
    return None
