"""The pure plan: what a candidate would do to the running config, change by change.

``plan(old, candidate, changes, rules)`` classifies every leaf change as

* ``live``: applied at commit;
* ``restart``: held (the running value stays; the change waits in ``pending_restart``): a
  ``Restart`` field, or in guarded production anything not marked ``Live``;
* ``refused``: a ``Frozen`` field would change: the whole candidate is rejected;
* ``shadowed``: the edited source lost to a higher-priority one, so the edit has no effect.

It reads nothing and calls no user code, so the commit, ``check()`` and the command line's ``plan``
can all call it and agree. The snapshot it returns is the one a commit would serve: the candidate
with every held path kept at its running value (copy-on-write, nothing published is mutated).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._fields import Policy, policy_for
from ._model import Change, ChangeType, Effect, Plan, PlannedChange
from ._paths import MISSING, find, prefixes, set_path, under

__all__ = ["Rules", "plan"]


@dataclass(frozen=True)
class Rules:
    """The change rules of one settings object: its field policies and whether production guards it."""

    policies: Mapping[str, Policy]
    guarded: bool = False


def _anchor(path: str, old: Any, new: Any) -> str:
    """Where to keep the running value for a held change under ``path``.

    Normally ``path`` itself; but when a section above it appears or disappears (absent or
    ``None`` on one side), the whole section is held, so the snapshot never mixes a new section
    with old values of its held fields.
    """
    for prefix in prefixes(path):
        if not prefix or prefix == path:
            continue
        for tree in (old, new):
            value = find(tree, prefix)
            if value is MISSING or value is None:
                return prefix
    return path


def plan(
    old: Any,
    candidate: Any,
    changes: Iterable[Change],
    rules: Rules,
    *,
    shadowed: Iterable[tuple[Change, str]] = (),
) -> Plan:
    """Classify ``changes`` (the diff from ``old`` to ``candidate``) under ``rules``.

    Args:
        old: the running snapshot.
        candidate: the validated candidate snapshot.
        changes: the leaf changes from ``old`` to ``candidate``.
        rules: the field policies and the production guard.
        shadowed: edits of losing sources, each with a reason (from provenance).

    Returns:
        The [Plan][livesettings.Plan]; ``plan.snapshot`` is ``candidate`` with held paths kept.
    """
    changes = tuple(changes)
    policies, guarded = rules.policies, rules.guarded
    planned: list[PlannedChange] = []
    keep: set[str] = set()
    if not policies and not guarded:
        planned = [PlannedChange(c, Effect.LIVE) for c in changes]
    else:
        table = dict(policies)
        verdicts: list[tuple[Change, tuple[str, Policy] | None]] = []
        for change in changes:
            hit = policy_for(change.path, table, production=guarded, leaf=change.type is ChangeType.MODIFY)
            verdicts.append((change, hit))
            if hit is not None and hit[1] is Policy.RESTART:
                keep.add(_anchor(hit[0], old, candidate))
        for change, hit in verdicts:
            if hit is not None and hit[1] is Policy.FROZEN:
                planned.append(PlannedChange(change, Effect.REFUSED, f"{hit[0]} is Frozen and cannot change at runtime"))
                continue
            anchor = next((k for k in sorted(keep) if under(change.path, k)), None)
            if anchor is None:  # everything under a kept point waits, so the snapshot stays whole
                planned.append(PlannedChange(change, Effect.LIVE))
                continue
            if hit is not None and table.get(hit[0]) is Policy.RESTART:
                reason = f"{hit[0]} is a Restart field"
            elif guarded and hit is not None and hit[1] is Policy.RESTART:
                reason = "not marked Live (guarded production)"
            else:
                reason = f"{anchor} is held for a restart"
            planned.append(PlannedChange(change, Effect.RESTART, reason))
    planned.extend(PlannedChange(change, Effect.SHADOWED, reason) for change, reason in shadowed)
    snapshot = candidate
    for path in sorted(keep):
        snapshot = set_path(snapshot, path.split("."), find(old, path))
    return Plan(tuple(planned), snapshot)
