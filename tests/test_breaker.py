"""Tests for livesettings._breaker: the circuit breaker's states on an explicit clock."""

from __future__ import annotations

from livesettings._breaker import BreakerState, CircuitBreaker


class TestCircuitBreaker:
    """Consecutive failures open it; a cool-down later one try is let through."""

    def test_opens_after_threshold_and_reports_the_opening_once(self) -> None:
        """``failed`` returns True exactly when the breaker opens; further failures keep it open."""
        b = CircuitBreaker(threshold=3, cooldown_s=10)
        assert [b.failed(0.0), b.failed(1.0)] == [False, False] and b.state is BreakerState.CLOSED
        assert b.failed(2.0) is True and b.state is BreakerState.OPEN
        assert b.failed(3.0) is False and b.open_until == 13.0

    def test_blocks_until_the_cool_down_ends(self) -> None:
        """``blocks`` gives the seconds left while open, then ``None``."""
        b = CircuitBreaker(threshold=1, cooldown_s=10)
        b.failed(5.0)
        assert b.blocks(6.0) == 9.0 and b.blocks(15.0) is None

    def test_half_open_then_success_closes(self) -> None:
        """The half-open try that succeeds closes the breaker and forgets the failures."""
        b = CircuitBreaker(threshold=1, cooldown_s=1)
        b.failed(0.0)
        b.half_open()
        assert b.state is BreakerState.HALF_OPEN and b.blocks(0.5) is None
        b.succeeded()
        assert (b.state, b.failures, b.open_until) == (BreakerState.CLOSED, 0, 0.0)

    def test_half_open_failure_reopens(self) -> None:
        """A failing half-open try opens the breaker again (and says so)."""
        b = CircuitBreaker(threshold=1, cooldown_s=1)
        b.failed(0.0)
        b.half_open()
        assert b.failed(2.0) is True and b.state is BreakerState.OPEN and b.open_until == 3.0

    def test_arm_schedules_one_retry(self) -> None:
        """``arm`` schedules at most one retry until it is disarmed."""
        calls: list[float] = []
        b = CircuitBreaker(threshold=1, cooldown_s=1)
        b.arm(2.0, lambda: None, lambda delay, cb: calls.append(delay) or "handle")
        b.arm(3.0, lambda: None, lambda delay, cb: calls.append(delay) or "other")
        assert calls == [2.0] and b.disarm() == "handle" and b.retry is None
