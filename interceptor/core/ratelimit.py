"""A token bucket on the reactor clock: at most ``rate`` starts per second, with bursts
up to ``burst`` (beeps per second at the SIP emitter, submit_sm per second at the SMSC)."""

from __future__ import annotations

from interceptor.core.reactor import Clock


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; starts full."""

    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self._tokens = float(burst)
        self._stamp: float = clock.seconds()

    def _refill(self) -> None:
        now = self.clock.seconds()
        elapsed = now - self._stamp
        if elapsed > 0:
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._stamp = now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def try_take(self) -> bool:
        self._refill()
        # A hair of tolerance: float sums of elapsed * rate can land just under 1.0.
        if self._tokens >= 1.0 - 1e-9:
            self._tokens -= 1.0
            return True
        return False

    def wait_time(self) -> float:
        """Seconds until the next token (0 if one is there)."""
        self._refill()
        missing = 1.0 - self._tokens
        return max(0.0, missing / self.rate)
