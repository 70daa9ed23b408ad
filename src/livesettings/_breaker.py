"""The circuit breaker: after N rejected reloads in a row, stop retrying for a cool-down.

A pure state machine with an explicit clock: the engine writes it only under its lock and asks it
what to do; the engine owns the timer that tries again (half-open) when the cool-down ends, so a
good file written during the cool-down is still applied without another event.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["BreakerState", "CircuitBreaker", "timer"]


def timer(delay: float, callback: Callable[[], None]) -> Any:
    """Run ``callback`` once after ``delay`` seconds on a daemon thread; returns the started timer."""
    handle = threading.Timer(delay, callback)
    handle.name, handle.daemon = "livesettings-breaker", True
    handle.start()
    return handle


class BreakerState(str, enum.Enum):
    """Where the breaker is: ``closed`` (reloads run), ``open`` (feed-triggered reloads wait),
    ``half-open`` (one try after the cool-down)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Counts consecutive rejections and opens after ``threshold`` of them for ``cooldown_s``.

    Not thread-safe: its owner (the engine) serialises every call under one lock.
    """

    # A plain class with slots, not a dataclass: generating dataclass methods costs import time.
    __slots__ = ("cooldown_s", "failures", "open_until", "retry", "state", "threshold")

    def __init__(self, threshold: int, cooldown_s: float) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.open_until = 0.0
        self.retry: Any = None  # the armed half-open retry (a timer with ``cancel()``), if any

    def __repr__(self) -> str:
        return (f"CircuitBreaker(threshold={self.threshold!r}, cooldown_s={self.cooldown_s!r}, state={self.state!r}, "
                f"failures={self.failures!r}, open_until={self.open_until!r})")

    def arm(self, delay: float, callback: Callable[[], None], schedule: Callable[[float, Callable[[], None]], Any]) -> None:
        """Schedule the half-open retry ``delay`` seconds from now, unless one is armed already."""
        if self.retry is None:
            self.retry = schedule(delay, callback)

    def disarm(self) -> Any:
        """Forget the armed retry and return it (the caller cancels and joins it)."""
        retry, self.retry = self.retry, None
        return retry

    def blocks(self, now: float) -> float | None:
        """Seconds until an open breaker lets a feed-triggered reload through, else ``None``."""
        if self.state is BreakerState.OPEN and now < self.open_until:
            return self.open_until - now
        return None

    def half_open(self) -> None:
        """The cool-down ended: let one attempt through."""
        if self.state is BreakerState.OPEN:
            self.state = BreakerState.HALF_OPEN

    def succeeded(self) -> None:
        """An attempt was accepted (or found nothing new): close."""
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.open_until = 0.0

    def failed(self, now: float) -> bool:
        """An attempt was rejected. Returns True when this rejection (re)opened the breaker."""
        self.failures += 1
        if self.failures < self.threshold:
            return False
        was_open = self.state is BreakerState.OPEN
        self.state = BreakerState.OPEN
        self.open_until = now + self.cooldown_s
        return not was_open
