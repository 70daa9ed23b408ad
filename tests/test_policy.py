"""Tests for livesettings._policy: the pure plan that the commit, check() and the CLI share."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from livesettings import Change, ChangeType, Effect, Frozen, Live, Plan, Restart
from livesettings._diff import diff_snapshots
from livesettings._fields import collect_policies
from livesettings._policy import Rules, plan
from livesettings.exceptions import FrozenFieldError


class Db(BaseModel):
    url: Annotated[str, Restart] = "a"
    pool: int = 5
    shard: Annotated[int, Frozen] = 1


class Model(BaseModel):
    db: Db | None = Db()
    level: str = "INFO"
    token: Annotated[str, Live] = "t"


def planned(old: Model, new: Model, *, guarded: bool = False, **kw: Any) -> Plan:
    rules = Rules(collect_policies(Model), guarded)
    return plan(old, new, diff_snapshots(old, new, share=False), rules, **kw)


def effects(p: Plan) -> dict[str, Effect]:
    return {c.path: c.effect for c in p.changes}


class TestClassification:
    """Each change gets one effect, from the field markers and the production guard."""

    def test_unmarked_changes_are_live(self) -> None:
        """Without markers every change is live and the served snapshot is the candidate."""
        old, new = Model(), Model(level="DEBUG", db=Db(pool=9))
        p = planned(old, new)
        assert effects(p) == {"db.pool": Effect.LIVE, "level": Effect.LIVE}
        assert p.snapshot is new and p.valid and not p.holds_back

    def test_restart_field_is_held_with_its_running_value(self) -> None:
        """A Restart change is held: the served snapshot keeps the old value, the rest goes live."""
        old, new = Model(), Model(db=Db(url="b", pool=9))
        p = planned(old, new)
        assert effects(p) == {"db.url": Effect.RESTART, "db.pool": Effect.LIVE}
        assert p.snapshot.db.url == "a" and p.snapshot.db.pool == 9
        assert p.holds_back and "db.url is a Restart field" in p.changes[0].reason
        assert new.db is not None and new.db.url == "b"  # the candidate itself was not mutated

    def test_frozen_field_refuses_the_candidate(self) -> None:
        """A Frozen change is refused; the plan is invalid and its error names the field."""
        p = planned(Model(), Model(db=Db(shard=2)))
        assert effects(p) == {"db.shard": Effect.REFUSED} and not p.valid
        error = p.error("App")
        assert isinstance(error, FrozenFieldError) and error.field == "db.shard"

    def test_section_that_appears_is_held_whole(self) -> None:
        """When a section with a Restart field appears, the whole section waits (never half new)."""

        class Pool(BaseModel):
            url: Annotated[str, Restart] = "a"
            size: int = 5

        class Outer(BaseModel):
            pool: Pool | None = None

        old, new = Outer(), Outer(pool=Pool(url="b", size=9))
        rules = Rules(collect_policies(Outer))
        p = plan(old, new, diff_snapshots(old, new, share=False), rules)
        assert {c.path: c.effect for c in p.changes} == {"pool.url": Effect.RESTART, "pool.size": Effect.RESTART}
        assert p.snapshot.pool is None and p.changes[1].reason == "pool is held for a restart"

    def test_frozen_field_in_a_new_section_refuses_too(self) -> None:
        """A section that appears with a Frozen field in it is refused, like a changed one."""
        p = planned(Model(db=None), Model(db=Db()))
        assert effects(p)["db.shard"] is Effect.REFUSED and not p.valid

    def test_guarded_production_holds_everything_not_live(self) -> None:
        """In guarded production only Live fields change live; the rest waits for a restart."""
        old, new = Model(), Model(level="DEBUG", token="u")
        p = planned(old, new, guarded=True)
        assert effects(p) == {"level": Effect.RESTART, "token": Effect.LIVE}
        assert p.changes[0].reason == "not marked Live (guarded production)"
        assert p.snapshot.level == "INFO" and p.snapshot.token == "u"

    def test_shadowed_edits_are_listed_and_change_nothing(self) -> None:
        """Shadowed edits are planned as such, after the diff, and do not touch the snapshot."""
        edit = Change("level", ChangeType.MODIFY, "INFO", "ERROR")
        old = Model()
        p = planned(old, old, shadowed=[(edit, "level changed in .env:2 but env APP_LEVEL wins")])
        assert p.shadowed == (edit,) and p.live == () and p.snapshot is old
        assert "shadowed: level changed in .env:2" in p.describe()


class TestHoldAll:
    """A plan whose partial commit would not validate waits as a whole."""

    def test_hold_all_serves_the_old_snapshot(self) -> None:
        """hold_all turns every live change into a held one with the reason, and serves ``old``."""
        old, new = Model(), Model(db=Db(url="b", pool=9))
        held = planned(old, new).hold_all(old, "the combination fails validation")
        assert effects(held) == {"db.url": Effect.RESTART, "db.pool": Effect.RESTART}
        assert held.snapshot is old and held.note == "the combination fails validation"
        assert held.changes[1].reason == "the combination fails validation"

    @pytest.mark.parametrize("guarded", [False, True])
    def test_plan_is_pure(self, guarded: bool) -> None:
        """The same inputs give an equal plan, and nothing passed in is changed."""
        old, new = Model(), Model(db=Db(url="b", pool=9), level="X")
        before = (old.model_dump(), new.model_dump())
        assert planned(old, new, guarded=guarded) == planned(old, new, guarded=guarded)
        assert (old.model_dump(), new.model_dump()) == before
