"""Out-of-credit answers become attempt records, beside the relay.

The relay hands over each Credit-Control answer with the request it kept for it. The
answer is classified first (a few microseconds); only an out-of-credit answer costs a
walk of its request, number normalisation and a record for the recorder's queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from interceptor.detection import Detection
from interceptor.diameter.agent import Peer
from interceptor.numbers import NumberingConfig, PortabilityLookup, classify, normalise
from interceptor.storage.records import AttemptRecord
from interceptor.storage.vocabulary import AttemptStatus, CalleeClass

logger = logging.getLogger(__name__)


class AttemptSink(Protocol):
    def record(self, attempt: AttemptRecord) -> None: ...


class Blacklist(Protocol):
    def caller_blocked(self, e164: str) -> bool: ...

    def callee_blocked(self, e164: str) -> bool: ...


@dataclass
class DetectionCounters:
    answers_seen: int = 0
    out_of_credit: int = 0
    not_voice_initial: int = 0
    recorded: int = 0
    suppressed: int = 0


class OutOfCreditObserver:
    """A RelayObserver: records each out-of-credit voice call attempt."""

    def __init__(self, detection: Detection, numbering: NumberingConfig, sink: AttemptSink,
                 *, interceptor_host: str, blacklist: Blacklist | None = None,
                 portability: PortabilityLookup | None = None,
                 now: Callable[[], float]) -> None:
        self._classifier = detection.classifier
        self._extractor = detection.extractor
        self._numbering = numbering
        self._sink = sink
        self._blacklist = blacklist
        self._portability = portability
        self._interceptor_host = interceptor_host
        self._now = now
        self.counters = DetectionCounters()

    def answer_relayed(self, request: bytes, answer: bytes, origin: Peer,
                       target: Peer) -> None:
        self.counters.answers_seen += 1
        verdict = self._classifier.out_of_credit(answer)
        if verdict is None:
            return
        self.counters.out_of_credit += 1
        context = self._extractor.call_context(request)
        if context is None:  # data, CCR-Update/Terminate, other contexts, terminating leg
            self.counters.not_voice_initial += 1
            return
        attempt = self.attempt(context.session_id, context.caller_raw, context.callee_raw,
                               verdict.code, verdict.where, origin.name, target.name,
                               context.request_type, context.service_context,
                               context.problem)
        if attempt.status == AttemptStatus.SUPPRESSED.value:
            self.counters.suppressed += 1
        else:
            self.counters.recorded += 1
        self._sink.record(attempt)

    def attempt(self, session_id: str | None, caller_raw: str | None,
                callee_raw: str | None, result_code: int, where: str, client_peer: str,
                ocs_peer: str, request_type: int, service_context: str,
                problem: str | None) -> AttemptRecord:
        caller = normalise(caller_raw, self._numbering)
        callee = normalise(callee_raw, self._numbering)
        failures = [f"caller: {caller.reason}" if caller.reason else None,
                    f"callee: {callee.reason}" if callee.reason else None, problem]
        callee_class = CalleeClass.UNKNOWN.value
        if callee.e164 is not None:
            callee_class = classify(callee.e164, self._numbering,
                                    self._portability).number_class.value
        status, reason = AttemptStatus.RECORDED.value, None
        if self._blacklist is not None:
            if caller.e164 is not None and self._blacklist.caller_blocked(caller.e164):
                status, reason = AttemptStatus.SUPPRESSED.value, "blacklist:caller"
            elif callee.e164 is not None and self._blacklist.callee_blocked(callee.e164):
                status, reason = AttemptStatus.SUPPRESSED.value, "blacklist:callee"
        return AttemptRecord(
            occurred_at=datetime.fromtimestamp(self._now(), UTC),
            session_id=session_id or "",
            result_code=result_code,
            result_code_source=where,
            client_peer=client_peer,
            ocs_peer=ocs_peer,
            caller_raw=caller_raw,
            caller_e164=caller.e164,
            callee_raw=callee_raw,
            callee_e164=callee.e164,
            callee_class=callee_class,
            normalisation_failure="; ".join(f for f in failures if f) or None,
            cc_request_type=request_type,
            service_context_id=service_context,
            interceptor_host=self._interceptor_host,
            status=status,
            status_reason=reason,
        )
