"""Whether a beep that found B busy or unavailable is tried again, and when."""

from __future__ import annotations

from dataclasses import dataclass

from interceptor.core.vocabulary import OutcomeKind
from interceptor.sip.config import RetryConfig


@dataclass(frozen=True)
class RetryPolicy:
    config: RetryConfig

    @property
    def enabled(self) -> bool:
        return self.config.count > 0

    def delay(self, kind: OutcomeKind, attempts: int) -> float | None:
        """Seconds to wait before attempt ``attempts + 1``, or None: do not retry.
        ``attempts`` counts the INVITEs already sent for the request."""
        if kind.value not in self.config.outcomes:
            return None
        if attempts > self.config.count:
            return None
        return self.config.delay
