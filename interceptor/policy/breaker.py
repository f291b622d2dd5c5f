"""A circuit breaker on the reactor clock: stop sending to a network that keeps failing.

Closed: everything goes; outcomes are kept for a sliding ``window`` of seconds. When at
least ``min_samples`` outcomes are in the window and the share of failures reaches
``failure_ratio``, it opens: nothing goes for ``cooldown`` seconds. Then it is half-open:
one probe at a time goes; a success closes it (with a fresh window), a failure opens it
again for another cool-down. Only network errors and timeouts are failures: a busy or
unreachable B says the network works.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from interceptor.core.reactor import Clock

logger = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerSettings:
    failure_ratio: float = 0.5
    window: float = 60.0
    min_samples: int = 20
    cooldown: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.failure_ratio <= 1:
            raise ValueError("failure_ratio must be in (0, 1]")
        if self.window <= 0 or self.cooldown <= 0 or self.min_samples < 1:
            raise ValueError("window and cooldown must be > 0, min_samples >= 1")


class CircuitBreaker:
    def __init__(self, name: str, clock: Clock,
                 settings: BreakerSettings | None = None) -> None:
        self.name = name
        self.clock = clock
        self.settings = settings or BreakerSettings()
        self._state = BreakerState.CLOSED
        self._outcomes: deque[tuple[float, bool]] = deque()
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.openings = 0
        self.on_change: Callable[[CircuitBreaker, BreakerState], None] | None = None

    @property
    def state(self) -> str:
        self._maybe_half_open()
        return self._state.value

    def update(self, settings: BreakerSettings) -> None:
        self.settings = settings

    def allow(self) -> bool:
        """May one more attempt go now? In half-open state only one probe at a time."""
        self._maybe_half_open()
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def record(self, ok: bool) -> None:
        """The outcome of an attempt that went (``ok=False``: network error, timeout)."""
        self._maybe_half_open()
        if self._state is BreakerState.HALF_OPEN:
            self._probing = False
            if ok:
                self._outcomes.clear()
                self._failures = 0
                self._set(BreakerState.CLOSED, "probe succeeded")
            else:
                self._open("probe failed")
            return
        if self._state is BreakerState.OPEN:
            return  # a straggler from before the opening; the cool-down decides
        now = self.clock.seconds()
        self._outcomes.append((now, ok))
        if not ok:
            self._failures += 1
        self._trim(now)
        total = len(self._outcomes)
        if total >= self.settings.min_samples and \
                self._failures >= self.settings.failure_ratio * total:
            self._open(f"{self._failures} of {total} failed in "
                       f"{self.settings.window:g} s")

    def ratio(self) -> tuple[int, int]:
        """(failures, outcomes) in the current window."""
        self._trim(self.clock.seconds())
        return self._failures, len(self._outcomes)

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 if it would now)."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.settings.cooldown - self.clock.seconds())

    def _trim(self, now: float) -> None:
        horizon = now - self.settings.window
        outcomes = self._outcomes
        while outcomes and outcomes[0][0] <= horizon:
            _, ok = outcomes.popleft()
            if not ok:
                self._failures -= 1

    def _open(self, why: str) -> None:
        self._opened_at = self.clock.seconds()
        self._probing = False
        self._outcomes.clear()
        self._failures = 0
        self.openings += 1
        self._set(BreakerState.OPEN, f"{why}; pausing {self.settings.cooldown:g} s")

    def _maybe_half_open(self) -> None:
        if self._state is BreakerState.OPEN and \
                self.clock.seconds() >= self._opened_at + self.settings.cooldown:
            self._set(BreakerState.HALF_OPEN, "cool-down over; probing")

    def _set(self, state: BreakerState, why: str) -> None:
        if state is self._state:
            return
        self._state = state
        log = logger.warning if state is BreakerState.OPEN else logger.info
        log("circuit breaker %s: %s (%s)", self.name, state.value, why)
        if self.on_change is not None:
            self.on_change(self, state)
