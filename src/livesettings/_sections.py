"""Only what changed costs: top-level sections whose merged input did not change are not re-validated.

After the sources are merged, each top-level section (a field typed as a pydantic model) whose
input is the same as in the last successful validation gets that validation's instance instead
of its input. pydantic passes an instance of the field's class through untouched when the class
has ``revalidate_instances="never"`` (its default), so the section is neither validated again,
nor frozen again (``freeze`` skips frozen twins), nor diffed (``diff_snapshots`` stops at ``old is
new``), and the new snapshot shares it with the old one.

This keeps a reload equal to a cold start on the same inputs only under conditions checked once
per class (``eligible``); any field that fails them always takes the full path:

* the field is a plain model type (no ``Optional``, union, container or ``Annotated`` metadata),
  with no alias, whose class (and every model class under it) keeps ``revalidate_instances="never"``
  and has no ``before``/``wrap``/``plain`` validators (they could see the instance instead of the
  dict, or do something other than validate);
* the settings class has no ``mode="before"``/``"wrap"`` model validator and no ``before``/
  ``wrap``/``plain`` field validator on that field (``after`` validators still run: they get the
  reused instance, exactly as they would get a freshly validated equal one);
* validators are pure: the same input gives the same output (the documented assumption of hot
  reload anyway; a validator that reads the clock or a file is re-run only when its section's
  input changes).

"The same input" is strict: equal values of the same types in the same order (``1``, ``1.0`` and
``True`` are equal in Python but validate differently), compared after a cheap ``==`` rejects
changed sections first.
"""

from __future__ import annotations

import marshal
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from ._packed import Packed

__all__ = ["SectionReuse", "eligible"]

_BAD_FIELD_MODES = frozenset({"before", "wrap", "plain"})
_BAD_MODEL_MODES = frozenset({"before", "wrap"})
_ELIGIBLE: weakref.WeakKeyDictionary[type, frozenset[str]] = weakref.WeakKeyDictionary()
_ELIGIBLE_LOCK = threading.Lock()


def _validators_ok(cls: type[BaseModel], field: str | None) -> bool:
    """No validator of ``cls`` that could treat an instance differently from its input (for ``field``,
    or for any field when ``field`` is None)."""
    decorators = cls.__pydantic_decorators__
    if any(d.info.mode in _BAD_MODEL_MODES for d in decorators.model_validators.values()):
        return False
    for dec in decorators.field_validators.values():
        if dec.info.mode in _BAD_FIELD_MODES and (field is None or field in dec.info.fields or "*" in dec.info.fields):
            return False
    return True


def _section_ok(cls: type[BaseModel], seen: set[type]) -> bool:
    """``cls`` and every model class directly under it: reusable instances (see the module docstring)."""
    if cls in seen:
        return True
    seen.add(cls)
    if cls.model_config.get("revalidate_instances", "never") != "never" or not _validators_ok(cls, None):
        return False
    for info in cls.model_fields.values():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel) and not _section_ok(ann, seen):
            return False
    return True


def eligible(settings_cls: type[BaseModel]) -> frozenset[str]:
    """The top-level fields of ``settings_cls`` whose unchanged input may reuse the last instance."""
    hit = _ELIGIBLE.get(settings_cls)
    if hit is not None:
        return hit
    names: set[str] = set()
    if not any(d.info.mode in _BAD_MODEL_MODES for d in settings_cls.__pydantic_decorators__.model_validators.values()):
        for name, info in settings_cls.model_fields.items():
            ann = info.annotation
            if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
                continue
            if info.metadata or info.alias or info.validation_alias or not _validators_ok(settings_cls, name):
                continue
            if _section_ok(ann, set()):
                names.add(name)
    result = frozenset(names)
    with _ELIGIBLE_LOCK:
        _ELIGIBLE[settings_cls] = result
    return result


def _same(a: Any, b: Any) -> bool:
    """``a`` and ``b`` are equal with the same types throughout, dict keys in the same order.

    Parsed config is plain data, which ``marshal`` (format 0: no sharing or interning marks)
    writes with each value's exact type and a float's exact value, in order, in C: equal bytes
    say exactly this, five times faster than the walk below, which anything else takes.
    """
    if a is b:
        return True
    if type(a) is Packed or type(b) is Packed:  # equal bytes: the same input (see ``_packed``)
        return type(a) is type(b) and a == b
    try:
        return marshal.dumps(a, 0) == marshal.dumps(b, 0)
    except ValueError:  # not plain data (a subclass, an object ...): walk
        return _walk_same(a, b)


def _walk_same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            ka == kb and type(ka) is type(kb) and _walk_same(va, vb) for (ka, va), (kb, vb) in zip(a.items(), b.items())
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_walk_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


class SectionReuse:
    """The inputs and validated instances of the last successful load's sections (one per loader).

    ``discard`` starts each load (nothing pending), ``substitute`` runs inside it (after the merge,
    before validation), ``commit`` after it validated; a failed load commits nothing, so the last
    good load's sections stay the reference. The engine runs one load at a time.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[Any, Any]] = {}  # field -> (input, validated instance)
        self._pending: dict[str, Any] = {}
        self.reused = 0  # sections reused by the last load (for tests and the bench)

    def substitute(self, settings_cls: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` with each unchanged eligible section replaced by its last instance."""
        out = dict(values)
        fields = eligible(settings_cls)
        self._pending = {
            name: out[name] for name in fields if name in out and type(out[name]) in (dict, Packed)
        }
        self.reused = 0
        for name, value in self._pending.items():
            last = self._last.get(name)
            if last is not None and (last[0] is value or (last[0] == value and _same(last[0], value))):
                out[name] = last[1]
                self.reused += 1
            elif type(value) is Packed:  # a changed section: validated from what it holds
                out[name] = value.value()
        for name, value in out.items():  # packed but not reusable here (``_packed`` packs only eligible ones)
            if type(value) is Packed:
                out[name] = value.open()
        return out

    def commit(self, snapshot: BaseModel) -> None:
        """The load that called ``substitute`` validated into ``snapshot``: remember its sections."""
        self._last = {name: (value, getattr(snapshot, name)) for name, value in self._pending.items()}
        self._pending = {}

    def discard(self) -> None:
        """Forget anything pending (a load starts; an earlier one may have failed after ``substitute``)."""
        self._pending = {}
