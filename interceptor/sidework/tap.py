"""The relay's observer: a C-speed substring test on each Credit-Control answer; the few
that may be out of credit go, with their request, to the side-work process, which
classifies them exactly.

Callback attribution adds at most one cheap check per answer, and only while the side
work watches something (a recent beep): a voice CCR-Initial answered with success whose
Subscription-Id is a watched subscriber, or a CCR-Update/Terminate of a linked session,
is handed over too. The watch sets come from the side-work process (``set_watches``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from interceptor.detection.answer import OutOfCreditClassifier
from interceptor.diameter.agent import Peer
from interceptor.diameter.avpwalk import (
    CC_REQUEST_TYPE_INITIAL,
    RESULT_CODE_SUCCESS,
    session_id,
    watched_subscriber,
)
from interceptor.sidework.frames import (
    KIND_CALLBACK_START,
    KIND_CALLBACK_USAGE,
    encode_exchange,
)


class EventSink(Protocol):
    def next_sequence(self) -> int: ...

    def send(self, frame: bytes) -> None: ...


@dataclass
class TapCounters:
    candidates: int = 0  # answers handed over: they hold a configured code's bytes
    callback_starts: int = 0  # watched subscribers' successful voice CCR-Initials
    callback_usage: int = 0  # CCR-Update/Terminate of linked sessions


class SideWorkTap:
    """A RelayObserver. Everything beyond "is this answer out of credit?" (and "is this a
    watched callback?") happens in the side-work process: parsing the request, numbers,
    SQL, beeps."""

    def __init__(self, classifier: OutOfCreditClassifier, sink: EventSink,
                 now: Callable[[], float], voice_contexts: Sequence[str] = ()) -> None:
        self._may_be = classifier.may_be_out_of_credit
        # With one configured code (the usual 4012) the agent itself makes the test.
        needles = classifier.needles
        self._needle = needles[0] if len(needles) == 1 else None
        self.answer_filter = self._needle
        self._sink = sink
        self._now = now
        self._names: dict[str, bytes] = {}
        # Attempt ids: 8 random bytes for this run + a counter; unique without a syscall.
        self._run = os.urandom(8)
        self.counters = TapCounters()
        self._contexts = tuple(context.encode("utf-8") for context in voice_contexts)
        self.subscribers: set[bytes] = set()
        self.sessions: set[bytes] = set()
        self._watching = False

    # -- watches (from the side-work process) ----------------------------------------

    def set_watches(self, update: Any) -> None:
        """Apply a watch update: ``reset`` (the worker's full state follows), then
        ``add_keys``/``remove_keys`` and ``add_sessions``/``remove_sessions``."""
        if not isinstance(update, dict):
            return
        if update.get("reset"):
            self.subscribers.clear()
            self.sessions.clear()
        self.subscribers.update(_encoded(update.get("add_keys", ())))
        self.subscribers.difference_update(_encoded(update.get("remove_keys", ())))
        self.sessions.update(_encoded(update.get("add_sessions", ())))
        self.sessions.difference_update(_encoded(update.get("remove_sessions", ())))
        self._watching = bool(self.subscribers or self.sessions)
        # While watching, every Credit-Control answer comes here; otherwise only those
        # holding the out-of-credit code's bytes (the agent's own test).
        self.answer_filter = None if self._watching else self._needle

    # -- RelayObserver ----------------------------------------------------------------

    def answer_relayed(self, request: bytes, answer: bytes, origin: Peer,
                       target: Peer) -> None:
        if self._watching:
            # At most one cheap check per answer while something is watched.
            kind = 0
            if CC_REQUEST_TYPE_INITIAL in request:
                if self.subscribers and watched_subscriber(request, self.subscribers) \
                        and RESULT_CODE_SUCCESS in answer and (not self._contexts
                         or any(context in request for context in self._contexts)):
                    self.counters.callback_starts += 1
                    kind = KIND_CALLBACK_START
                    # Follow the session at once: its CCR-Update/Terminate may come
                    # before the side work has linked it (it removes it if not linked).
                    started = session_id(request)
                    if started is not None:
                        self.sessions.add(started)
            elif self.sessions and session_id(request) in self.sessions:
                self.counters.callback_usage += 1
                kind = KIND_CALLBACK_USAGE
            if kind:
                self._sink.send(encode_exchange(
                    self._sink.next_sequence(), self._now(), bytes(16),
                    self._name(origin.name), self._name(target.name), answer, request,
                    kind))
            if self._needle is not None and self._needle not in answer:
                return
        if self._needle is None and not self._may_be(answer):
            return
        self.counters.candidates += 1
        count = self.counters.candidates
        sink = self._sink
        sink.send(encode_exchange(
            sink.next_sequence(), self._now(), self._run + count.to_bytes(8, "big"),
            self._name(origin.name), self._name(target.name), answer, request))

    def _name(self, name: str) -> bytes:
        encoded = self._names.get(name)
        if encoded is None:
            encoded = self._names[name] = name.encode("utf-8")
        return encoded


def _encoded(values: Iterable[Any]) -> list[bytes]:
    return [value.encode("utf-8") for value in values if isinstance(value, str)]
