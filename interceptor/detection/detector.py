"""From a relayed CCR and its CCA to the attempt record, if they are an out-of-credit
voice call attempt (side-work process): the classifier's exact verdict, the call context,
the numbers and blacklists (:class:`AttemptFactory`). Plain values in, a record out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from interceptor.core.vocabulary import AttemptStatus
from interceptor.detection.answer import OutOfCreditClassifier
from interceptor.detection.attempts import AttemptFactory
from interceptor.detection.request import CallContextExtractor
from interceptor.storage.records import AttemptRecord


@dataclass
class DetectionCounters:
    events: int = 0  # answers the relay handed over as possibly out of credit
    not_voice_initial: int = 0  # or not out of credit after all, or our own beep
    recorded: int = 0
    suppressed: int = 0  # at detection: blacklists
    suppressed_by_reason: dict[str, int] = field(default_factory=dict)


class AttemptDetector:
    """``own_session(request)`` tells a session our own beep created (never beeped)."""

    def __init__(self, classifier: OutOfCreditClassifier, extractor: CallContextExtractor,
                 factory: AttemptFactory,
                 own_session: Callable[[bytes], bool] = lambda request: False) -> None:
        self.classifier = classifier
        self.extractor = extractor
        self.factory = factory
        self.own_session = own_session
        self.counters = DetectionCounters()

    def detect(self, request: bytes, answer: bytes, *, attempt_id: str, occurred_at: float,
               client_peer: str, ocs_peer: str) -> AttemptRecord | None:
        counters = self.counters
        counters.events += 1
        verdict = self.classifier.out_of_credit(answer)
        context = None if verdict is None else self.extractor.call_context(request)
        if verdict is None or context is None or self.own_session(request):
            # data, update/terminate, another context, terminating leg, or our own beep
            counters.not_voice_initial += 1
            return None
        attempt = self.factory.build(context, attempt_id=attempt_id, occurred_at=occurred_at,
                                     result_code=verdict.code, where=verdict.where,
                                     client_peer=client_peer, ocs_peer=ocs_peer)
        if attempt.status == AttemptStatus.SUPPRESSED:
            counters.suppressed += 1
            reason = attempt.status_reason or "unknown"
            counters.suppressed_by_reason[reason] = \
                counters.suppressed_by_reason.get(reason, 0) + 1
        else:
            counters.recorded += 1
        return attempt

