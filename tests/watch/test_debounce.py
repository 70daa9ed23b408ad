"""Pure tests of the Debouncer's open-write holds: explicit clock values, no threads or sleeps."""

from __future__ import annotations

from pathlib import Path

from livesettings.watch import Debouncer

A, B = Path("/c/a.yaml"), Path("/c/b.yaml")


def make() -> Debouncer:
    return Debouncer(debounce_s=0.1, max_wait_s=1.0, stabilize_s=0.05, open_write_s=30.0)


class TestOpenWriteHold:
    """A file open for writing holds every batch until it is closed, up to open_write_s."""

    def test_close_releases(self) -> None:
        """A write is not due before its close; after the close it is due after the quiet window."""
        d = make()
        d.add(A, 0.0, kind="write", key=str(A))
        assert d.pop_due(0.5) == (frozenset(), frozenset())
        d.add(A, 0.5, kind="close", key=str(A))
        assert d.due() == 0.6
        assert d.pop_due(0.6) == (frozenset({A}), frozenset())

    def test_late_close_fires_at_once(self) -> None:
        """A close after max_wait_s fires at once: the quiet window is capped from the first event."""
        d = make()
        d.add(A, 0.0, kind="write", key=str(A))
        assert d.pop_due(5.0) == (frozenset(), frozenset())
        d.add(A, 5.0, kind="close", key=str(A))
        assert d.pop_due(5.0) == (frozenset({A}), frozenset())

    def test_cap_from_first_write(self) -> None:
        """Further writes do not extend the hold: it ends open_write_s after the first one, reported unclosed."""
        d = make()
        d.add(A, 0.0, kind="write", key=str(A))
        d.add(A, 20.0, kind="write", key=str(A))
        assert d.due() == 30.0
        assert d.pop_due(30.0) == (frozenset({A}), frozenset({A}))

    def test_hold_covers_other_targets_and_priority(self) -> None:
        """While A is open, neither a normal nor a priority change of B fires (a reload would read A)."""
        d = make()
        d.add(A, 0.0, kind="write", key=str(A))
        d.add(B, 0.0, priority=True)
        assert d.pop_due(1.0) == (frozenset(), frozenset())
        d.add(A, 2.0, kind="close", key=str(A))
        assert d.pop_due(2.0) == (frozenset({A, B}), frozenset())

    def test_done_clears_a_write(self) -> None:
        """A rename over the file ends its open write (the content was replaced whole)."""
        d = make()
        d.add(A, 0.0, kind="write", key=str(A))
        d.add(A, 0.5, kind="done", key=None)
        assert not d.holding()
        assert d.pop_due(0.6) == (frozenset({A}), frozenset())

    def test_create_holds_briefly(self) -> None:
        """A newly created file (maybe linked in whole) holds only stabilize_s and is not reported unclosed."""
        d = make()
        d.add(A, 0.0, kind="create", key=str(A))
        assert d.due() == 0.1  # the quiet window is longer than the 50 ms create hold
        d = Debouncer(debounce_s=0.0, max_wait_s=0.0, stabilize_s=0.05)
        d.add(A, 0.0, kind="create", key=str(A))
        assert d.due() == 0.05
        assert d.pop_due(0.05) == (frozenset({A}), frozenset())

    def test_write_after_create_is_a_full_hold(self) -> None:
        """A created file that is then written holds until its close, not just stabilize_s."""
        d = make()
        d.add(A, 0.0, kind="create", key=str(A))
        d.add(A, 0.01, kind="write", key=str(A))
        assert d.due() == 30.01

    def test_touch_keeps_the_hold(self) -> None:
        """A metadata-only event says nothing about the open write."""
        d = make()
        d.add(A, 0.0, kind="write", key=str(A))
        d.add(A, 0.1, kind="touch")
        assert d.holding()
