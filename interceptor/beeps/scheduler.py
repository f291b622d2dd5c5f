"""From recorded attempts to beeps: the policy decides and claims due attempts in SQL,
the allowed ones go to the SIP emitter, each outcome is written back to the attempt's
row (with ``sms_status = queued`` when an SMS should follow).

Claiming goes through the database, so the same mechanism covers new attempts (poked as
soon as a batch is durable), attempts spooled while the database was down, deferred ones
(quiet hours) and those left unbeeped when the process stopped (picked up at start,
unless older than the age limit). While the beep circuit breaker is open nothing is
claimed: the attempts wait (and expire if the pause outlasts their age limit).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from twisted.application import service
from twisted.internet import defer, task

from interceptor.beeps.store import BeepResult, save_results
from interceptor.core.batching import BatchSaver, ScanTrigger
from interceptor.core.histogram import RING_BUCKETS, BucketCounts, Buckets
from interceptor.core.reactor import Clock
from interceptor.core.vocabulary import RANG_OUTCOMES, AttemptStatus, OutcomeKind, SmsStatus
from interceptor.policy.breaker import BreakerState, CircuitBreaker
from interceptor.policy.service import PolicyService
from interceptor.policy.store import Decision, DecisionBatch
from interceptor.policy.thresholds import Thresholds
from interceptor.sip import BeepEmitter, BeepOutcome, BeepRequest
from interceptor.sip.config import BeepLimits

logger = logging.getLogger(__name__)

# What says the SIP network itself is failing (the breaker counts these); busy or
# unavailable callees say it works.
_NETWORK_FAILURES = frozenset({OutcomeKind.NETWORK_ERROR, OutcomeKind.NO_RESPONSE})
_NOT_SENT = frozenset({OutcomeKind.REFUSED, OutcomeKind.EXPIRED, OutcomeKind.STOPPED})


class SmsRule(Protocol):
    """Which beep outcomes an SMS follows, per callee class (None: not beeped)."""

    def wanted(self, callee_class: str, beep_outcome: str | None) -> bool: ...


@dataclass
class BeepCounters:
    claimed: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)


@dataclass
class BeepFigures:
    """The counters, the emitter's queues and the ring times (for metrics and status)."""

    counters: BeepCounters = field(default_factory=BeepCounters)
    queued: int = 0
    active: int = 0
    ring_time: BucketCounts = field(default_factory=BucketCounts)


def _at(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def result_row(outcome: BeepOutcome, sms_status: str | None = None) -> BeepResult:
    times = outcome.times
    status = AttemptStatus.BEEPED if outcome.kind in RANG_OUTCOMES else AttemptStatus.FAILED
    return BeepResult(
        attempt_id=outcome.attempt_id, status=status.value, outcome=outcome.kind.value,
        reason=None if status is AttemptStatus.BEEPED else outcome.reason,
        sip_code=outcome.final_code, call_id=outcome.call_id,
        presented_as=outcome.caller or None, started_at=_at(times.invite_sent),
        first_provisional_at=_at(times.first_provisional), rang_at=_at(times.ringing),
        cancel_sent_at=_at(times.cancel_sent), ended_at=_at(times.final),
        ring_time_ms=None if outcome.ring_time is None else round(outcome.ring_time * 1000),
        sms_status=sms_status)


def released_row(attempt_id: str) -> BeepResult:
    return BeepResult(attempt_id=attempt_id, status=AttemptStatus.RECORDED.value,
                      outcome=None, reason=None, sip_code=None, call_id=None,
                      presented_as=None, started_at=None, first_provisional_at=None,
                      rang_at=None, cancel_sent_at=None, ended_at=None, ring_time_ms=None)


def sms_only_row(attempt_id: str, sms_status: str | None) -> BeepResult:
    """Beeps are off for the callee's class but the SMS is on."""
    return BeepResult(attempt_id=attempt_id, status=AttemptStatus.SMS_ONLY.value,
                      outcome=None, reason="beeps off for the callee's class",
                      sip_code=None, call_id=None, presented_as=None, started_at=None,
                      first_provisional_at=None, rang_at=None, cancel_sent_at=None,
                      ended_at=None, ring_time_ms=None, sms_status=sms_status)


class BeepScheduler(service.Service):
    """Has the policy decide due attempts (at most what the emitter can take), beeps
    the allowed ones, records outcomes and queues the SMS the rule wants after them."""

    name = "beep-scheduler"
    STOP_SAVE_TIMEOUT = 10.0  # seconds a stop keeps retrying to save outcomes

    def __init__(self, emitter: BeepEmitter | None, policy: PolicyService, clock: Clock, *,
                 sms_rule: SmsRule | None = None, pickup_interval: float = 2.0) -> None:
        # No emitter (no sip section): nothing is beeped, the policy still decides and
        # the allowed attempts get their SMS.
        self.emitter = emitter
        self.policy = policy
        self.engine = policy.engine
        self.runner = policy.runner
        self.clock = clock
        self.sms_rule = sms_rule
        self.breaker: CircuitBreaker = policy.beep_breaker
        self.batch = 200 if emitter is None else emitter.config.limits.max_concurrent
        self._poll = task.LoopingCall(self.poke)
        self._poll.clock = clock
        self._pickup_interval = pickup_interval
        self.trigger = ScanTrigger(clock, self._scan)
        self._in_flight: set[defer.Deferred[Any]] = set()
        self._sms_allowed: dict[str, bool] = {}  # attempt id -> policy said SMS may go
        self.results: BatchSaver[BeepResult] = BatchSaver(
            self.runner, clock, lambda batch: save_results(self.engine, batch),
            "beep outcomes", saved=self._saved, identify=lambda row: row.attempt_id)
        self.counters = BeepCounters()
        self.ring_times = Buckets(RING_BUCKETS)
        # Called with each batch of outcomes once it is saved (callback watches, metrics).
        self.on_saved: list[Callable[[Sequence[BeepResult]], None]] = []

    def apply(self, thresholds: Thresholds) -> None:
        """Runtime thresholds: global rate, concurrency and age limits."""
        if self.emitter is None:
            self.batch = int(thresholds.number("global.max_concurrent_beeps") or 200)
            return
        limits = self.emitter.config.limits
        concurrent = int(thresholds.number("global.max_concurrent_beeps") or
                         limits.max_concurrent)
        self.emitter.apply_limits(BeepLimits(
            max_concurrent=concurrent,
            max_per_second=float(thresholds.number("global.max_beeps_per_second") or
                                 limits.max_per_second),
            burst=limits.burst, queue_size=limits.queue_size,
            max_age=self.policy.max_age))
        self.batch = concurrent

    def startService(self) -> None:
        super().startService()
        self.trigger.start()
        self.policy.on_change(self.apply)
        if self.emitter is not None:
            self.emitter.startService()
        self._poll.start(self._pickup_interval, now=True)  # picks up what a stop left

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        """Claim nothing more; the emitter CANCELs calls in progress; save every outcome."""
        super().stopService()
        if self._poll.running:
            self._poll.stop()
        self.trigger.stop()
        if self.emitter is not None:
            yield self.emitter.stopService()
        yield defer.DeferredList(list(self._in_flight))
        # What cannot be saved leaves its attempt "beeping": never beeped twice, but its
        # outcome is not recorded.
        yield self.results.drain(self.STOP_SAVE_TIMEOUT)

    def poke(self) -> None:
        """New attempts may be due: scan soon (coalesced)."""
        self.trigger.poke()

    def _scan(self) -> defer.Deferred[None] | None:
        queued = 0 if self.emitter is None else self.emitter.queued
        room = self.batch - queued - len(self._in_flight)
        if room <= 0 or not self.running:
            return None
        if self.breaker.state != BreakerState.CLOSED:
            if not self.breaker.allow():
                return None  # open: attempts wait; the poll looks again
            room = 1  # half-open: one probe
        job = self.policy.decide_due(room)
        return job.addCallbacks(self._decided, self._scan_failed)

    def _decided(self, batch: DecisionBatch) -> None:
        self.counters.claimed += len(batch.claimed)
        for decision in batch.claimed:
            if decision.beep and self.emitter is not None:
                self._beep(decision)
            else:
                self._queue_result(sms_only_row(decision.candidate.attempt_id,
                                                self._sms_status(decision, None)))
        if len(batch.claimed) >= self.batch:
            self.poke()

    def _beep(self, decision: Decision) -> None:
        attempt = decision.candidate
        self._sms_allowed[attempt.attempt_id] = decision.sms
        request = BeepRequest(attempt.attempt_id, attempt.caller_e164, attempt.callee_e164,
                              attempt.callee_class, attempt.due_at.timestamp())
        assert self.emitter is not None
        beep = self.emitter.submit(request)
        self._in_flight.add(beep)
        beep.addCallback(self._finished)
        beep.addBoth(self._untrack, beep)

    def _sms_status(self, decision: Decision | None, outcome: str | None,
                    callee_class: str | None = None, allowed: bool = False) -> str | None:
        if decision is not None:
            allowed, callee_class = decision.sms, decision.candidate.callee_class
        if not allowed or self.sms_rule is None or callee_class is None:
            return None
        return SmsStatus.QUEUED.value if self.sms_rule.wanted(callee_class, outcome) else None

    def _scan_failed(self, failure: Any) -> None:
        logger.warning("cannot claim attempts to beep: %s", failure.getErrorMessage())

    def _untrack(self, result: Any, beep: defer.Deferred[Any]) -> Any:
        self._in_flight.discard(beep)
        return result

    def _finished(self, outcome: BeepOutcome) -> None:
        by_outcome = self.counters.by_outcome
        by_outcome[outcome.kind.value] = by_outcome.get(outcome.kind.value, 0) + 1
        sms_allowed = self._sms_allowed.pop(outcome.attempt_id, False)
        if outcome.kind not in _NOT_SENT:
            self.breaker.record(outcome.kind not in _NETWORK_FAILURES)
        if not self.running and outcome.times.invite_sent is None:
            # Claimed, but we are stopping and no INVITE left: give it back, so the next
            # start beeps it (unless it has expired by then).
            self._queue_result(released_row(outcome.attempt_id))
        else:
            # A class without an enabled route was not beeped: the SMS rule sees None.
            route = None if self.emitter is None else \
                self.emitter.config.route(outcome.callee_class)
            beeped = route is not None and route.enabled
            sms = self._sms_status(None, outcome.kind.value if beeped else None,
                                   outcome.callee_class, sms_allowed)
            self._queue_result(result_row(outcome, sms))

    def _queue_result(self, row: BeepResult) -> None:
        self.results.add(row)

    def figures(self) -> BeepFigures:
        emitter = self.emitter
        return BeepFigures(counters=copy.deepcopy(self.counters),
                           queued=0 if emitter is None else emitter.queued,
                           active=0 if emitter is None else emitter.active,
                           ring_time=self.ring_times.counts_snapshot())

    def _saved(self, batch: list[BeepResult]) -> None:
        for result in batch:
            if result.ring_time_ms is not None:
                self.ring_times.observe(result.ring_time_ms / 1000)
        for listener in self.on_saved:
            try:
                listener(batch)
            except Exception:
                logger.exception("beep outcome listener failed")
