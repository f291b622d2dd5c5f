"""The relay's observer: classify each Credit-Control answer (microseconds, pre-filtered)
and hand the out-of-credit ones, with their request, to the side-work process."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from interceptor.detection.answer import OutOfCreditClassifier
from interceptor.diameter.agent import Peer
from interceptor.sidework.events import encode_out_of_credit


class EventSink(Protocol):
    def next_sequence(self) -> int: ...

    def send(self, frame: bytes) -> None: ...


@dataclass
class TapCounters:
    answers_seen: int = 0
    out_of_credit: int = 0


class OutOfCreditTap:
    """A RelayObserver. Everything beyond "is this answer out of credit?" happens in the
    side-work process: parsing the request, numbers, SQL, beeps."""

    def __init__(self, classifier: OutOfCreditClassifier, sink: EventSink,
                 now: Callable[[], float]) -> None:
        self._classify = classifier.out_of_credit
        self._sink = sink
        self._now = now
        self._names: dict[str, bytes] = {}
        # Attempt ids: 8 random bytes for this run + a counter; unique without a syscall.
        self._run = os.urandom(8)
        self._count = 0
        self.counters = TapCounters()

    def answer_relayed(self, request: bytes, answer: bytes, origin: Peer,
                       target: Peer) -> None:
        self.counters.answers_seen += 1
        verdict = self._classify(answer)
        if verdict is None:
            return
        self.counters.out_of_credit += 1
        self._count += 1
        sink = self._sink
        sink.send(encode_out_of_credit(
            sink.next_sequence(), self._now(), self._run + self._count.to_bytes(8, "big"),
            verdict.code, verdict.where, self._name(origin.name), self._name(target.name),
            request))

    def _name(self, name: str) -> bytes:
        encoded = self._names.get(name)
        if encoded is None:
            encoded = self._names[name] = name.encode("utf-8")
        return encoded
