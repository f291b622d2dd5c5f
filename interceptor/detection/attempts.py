"""An out-of-credit call attempt as the attempts table records it (side-work process)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from interceptor.core.vocabulary import AttemptStatus, CalleeClass, SuppressionReason
from interceptor.detection.request import CallContext
from interceptor.numbers import NumberingConfig, PortabilityLookup, classify, normalise
from interceptor.storage.records import AttemptRecord


class Blacklist(Protocol):
    def caller_blocked(self, e164: str) -> bool: ...

    def callee_blocked(self, e164: str) -> bool: ...


class AttemptFactory:
    """Turns what a refused CCR said into an attempt record: numbers normalised, B
    classified, blacklists applied."""

    def __init__(self, numbering: NumberingConfig, *, interceptor_host: str,
                 blacklist: Blacklist | None = None,
                 portability: PortabilityLookup | None = None) -> None:
        self._numbering = numbering
        self._blacklist = blacklist
        self._portability = portability
        self._interceptor_host = interceptor_host

    def build(self, context: CallContext, *, attempt_id: str, occurred_at: float,
              result_code: int, where: str, client_peer: str,
              ocs_peer: str) -> AttemptRecord:
        caller = normalise(context.caller_raw, self._numbering)
        callee = normalise(context.callee_raw, self._numbering)
        failures = [f"caller: {caller.reason}" if caller.reason else None,
                    f"callee: {callee.reason}" if callee.reason else None, context.problem]
        callee_class = CalleeClass.UNKNOWN.value
        if callee.e164 is not None:
            callee_class = classify(callee.e164, self._numbering,
                                    self._portability).number_class.value
        status, reason = AttemptStatus.RECORDED.value, None
        if self._blacklist is not None:
            if caller.e164 is not None and self._blacklist.caller_blocked(caller.e164):
                status, reason = (AttemptStatus.SUPPRESSED.value,
                                  SuppressionReason.BLACKLIST_CALLER.value)
            elif callee.e164 is not None and self._blacklist.callee_blocked(callee.e164):
                status, reason = (AttemptStatus.SUPPRESSED.value,
                                  SuppressionReason.BLACKLIST_CALLEE.value)
        return AttemptRecord(
            attempt_id=attempt_id,
            occurred_at=datetime.fromtimestamp(occurred_at, UTC),
            session_id=context.session_id or "",
            result_code=result_code,
            result_code_source=where,
            client_peer=client_peer,
            ocs_peer=ocs_peer,
            caller_raw=context.caller_raw,
            caller_e164=caller.e164,
            callee_raw=context.callee_raw,
            callee_e164=callee.e164,
            callee_class=callee_class,
            normalisation_failure="; ".join(f for f in failures if f) or None,
            cc_request_type=context.request_type,
            service_context_id=context.service_context,
            interceptor_host=self._interceptor_host,
            status=status,
            status_reason=reason,
        )
