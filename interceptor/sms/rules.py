"""Which attempts get the SMS: per callee class, the beep outcomes that send it.

Default: always on-net (and off-net), never international. ``None`` as the outcome means
the attempt was not beeped (beeps off for that class): it matches ``not_beeped``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from interceptor.core.vocabulary import NOT_BEEPED


@dataclass(frozen=True)
class SmsRule:
    send_after: Mapping[str, tuple[str, ...]]  # class -> outcomes (config.SEND_AFTER_OUTCOMES)

    def wanted(self, callee_class: str, beep_outcome: str | None) -> bool:
        outcomes = self.send_after.get(callee_class, ())
        return (beep_outcome or NOT_BEEPED) in outcomes
