"""The relay's observer: a C-speed substring test on each Credit-Control answer; the few
that may be out of credit go, with their request, to the side-work process, which
classifies them exactly."""

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
    candidates: int = 0  # answers handed over: they hold a configured code's bytes


class OutOfCreditTap:
    """A RelayObserver. Everything beyond "is this answer out of credit?" happens in the
    side-work process: parsing the request, numbers, SQL, beeps."""

    def __init__(self, classifier: OutOfCreditClassifier, sink: EventSink,
                 now: Callable[[], float]) -> None:
        self._may_be = classifier.may_be_out_of_credit
        # With one configured code (the usual 4012) the agent itself makes the test.
        needles = classifier.needles
        self.answer_filter = needles[0] if len(needles) == 1 else None
        self._sink = sink
        self._now = now
        self._names: dict[str, bytes] = {}
        # Attempt ids: 8 random bytes for this run + a counter; unique without a syscall.
        self._run = os.urandom(8)
        self.counters = TapCounters()

    def answer_relayed(self, request: bytes, answer: bytes, origin: Peer,
                       target: Peer) -> None:
        if self.answer_filter is None and not self._may_be(answer):
            return
        self.counters.candidates += 1
        count = self.counters.candidates
        sink = self._sink
        sink.send(encode_out_of_credit(
            sink.next_sequence(), self._now(), self._run + count.to_bytes(8, "big"),
            self._name(origin.name), self._name(target.name), answer, request))

    def _name(self, name: str) -> bytes:
        encoded = self._names.get(name)
        if encoded is None:
            encoded = self._names[name] = name.encode("utf-8")
        return encoded
