"""Per-field reload policies (``Restart``, ``Frozen``, ``Live``) and where they sit in a model.

Use them inside ``Annotated`` at any depth::

    class Database(BaseModel):
        url: Annotated[str, Restart]        # change reported in ``pending_restart``, not applied
        shard: Annotated[int, Frozen]       # change rejects the whole reload
        password: Annotated[SecretStr, Live]  # may change live even in production

In production (with the explicit opt-in) only fields at or under a ``Live`` marker change live;
every other change is treated as ``Restart``.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Iterator
from typing import Any, Union

from pydantic import BaseModel

from ._paths import prefixes

__all__ = ["Frozen", "Live", "Policy", "Restart", "collect_policies", "policy_for"]


class Policy(enum.Enum):
    """How a change to a field is treated at runtime."""

    HOT = "hot"
    LIVE = "live"
    RESTART = "restart"
    FROZEN = "frozen"


class _Marker:
    __slots__ = ("policy",)

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def __repr__(self) -> str:
        return self.policy.name.capitalize()


Restart: Any = _Marker(Policy.RESTART)
"""``Annotated[T, Restart]``: a change is kept in ``pending_restart`` and logged, not applied live."""

Frozen: Any = _Marker(Policy.FROZEN)
"""``Annotated[T, Frozen]``: a change at runtime rejects the whole reload with ``FrozenFieldError``."""


Live: Any = _Marker(Policy.LIVE)
"""``Annotated[T, Live]``: may change live in production too (ConfigMap updates, secret rotation)."""


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
    """Dotted path → policy for every field marked ``Restart``, ``Frozen`` or ``Live`` under ``model``."""
    found: dict[str, Policy] = {}
    stack: list[tuple[str, type[BaseModel], frozenset[type[BaseModel]]]] = [("", model, frozenset())]
    while stack:
        prefix, cls, seen = stack.pop()
        for name, info in cls.model_fields.items():
            path = f"{prefix}.{name}" if prefix else name
            for meta in info.metadata:
                if isinstance(meta, _Marker):
                    found[path] = meta.policy
            if found.get(path) in (Policy.RESTART, Policy.FROZEN):
                continue  # the whole sub-tree is covered
            for sub in _models_in(info.annotation):
                if sub not in seen:  # self-referencing models stop here
                    stack.append((path, sub, seen | {cls}))
    return found


def policy_for(
    path: str, policies: dict[str, Policy], *, production: bool = False, leaf: bool = True
) -> tuple[str, Policy] | None:
    """The marked field at or above dotted ``path`` and its policy, if any.

    In ``production`` an unmarked path counts as ``Restart``: of the leaf itself when ``leaf``
    (a value that changed in place), else of its top-level field (a key that appeared or went).
    """
    live: tuple[str, Policy] | None = None
    if policies:
        for prefix in prefixes(path):
            hit = policies.get(prefix) if prefix else None
            if hit is Policy.RESTART or hit is Policy.FROZEN:
                return prefix, hit  # the strictest marker on the path wins
            if hit is Policy.LIVE and live is None:
                live = (prefix, hit)
    if live is not None:
        return live
    if production:
        return (path if leaf else path.partition(".")[0]), Policy.RESTART
    return None
