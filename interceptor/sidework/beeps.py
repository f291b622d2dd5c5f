"""From recorded attempts to beeps: claim due attempts in SQL, hand them to the SIP
emitter, write each outcome back to the attempt's row.

Every recorded attempt with a valid A and B is beeped (the policy issue will add the
rules that refuse some). Claiming goes through the database, so the same mechanism
covers new attempts (poked as soon as a batch is durable), attempts spooled while the
database was down, and those left unbeeped when the process stopped (picked up at
start, unless older than the age limit).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from twisted.application import service
from twisted.internet import defer, task

from interceptor.reactor_types import Clock, DelayedCall
from interceptor.sip import BeepEmitter, BeepOutcome, BeepRequest, OutcomeKind
from interceptor.storage.beeps import (
    BeepResult,
    ClaimedAttempt,
    claim_due,
    expire_stale,
    save_results,
)
from interceptor.storage.runner import Runner
from interceptor.storage.vocabulary import AttemptStatus

logger = logging.getLogger(__name__)

_SUCCESS = frozenset({OutcomeKind.RANG, OutcomeKind.ANSWERED})


class SmsWanted(Protocol):
    """interceptor.sms.rules.SmsRule: which beep outcomes send the SMS."""

    def wanted(self, callee_class: str, beep_outcome: str | None) -> bool: ...


@dataclass
class BeepCounters:
    claimed: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    save_failures: int = 0


def _at(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def result_row(outcome: BeepOutcome, sms_status: str | None = None) -> BeepResult:
    times = outcome.times
    status = AttemptStatus.BEEPED if outcome.kind in _SUCCESS else AttemptStatus.FAILED
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


class BeepScheduler(service.Service):
    """Claims due attempts (at most what the emitter can take) and records outcomes."""

    name = "beep-scheduler"

    def __init__(self, emitter: BeepEmitter, engine: Any, runner: Runner, clock: Clock, *,
                 max_age: float, batch: int = 200, pickup_interval: float = 2.0,
                 sms_rule: SmsWanted | None = None) -> None:
        self.emitter = emitter
        self.sms_rule = sms_rule
        self.engine = engine
        self.runner = runner
        self.clock = clock
        self.max_age = max_age
        self.batch = batch
        self._poll = task.LoopingCall(self.poke)
        self._poll.clock = clock
        self._pickup_interval = pickup_interval
        self._scan_call: DelayedCall | None = None
        self._scanning = False
        self._rescan = False
        self._in_flight: set[defer.Deferred[Any]] = set()
        self._unsaved: list[BeepResult] = []
        self._saving = False
        self.counters = BeepCounters()

    def startService(self) -> None:
        super().startService()
        self.emitter.startService()
        self._poll.start(self._pickup_interval, now=True)  # picks up what a stop left

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        """Claim nothing more; the emitter CANCELs calls in progress; save every outcome."""
        super().stopService()
        if self._poll.running:
            self._poll.stop()
        if self._scan_call is not None and self._scan_call.active():
            self._scan_call.cancel()
        yield self.emitter.stopService()
        yield defer.DeferredList(list(self._in_flight))
        while self._unsaved or self._saving:
            yield self._save()
            if self._saving:
                yield task.deferLater(self.clock, 0.05, lambda: None)

    def poke(self) -> None:
        """New attempts may be due: scan soon (coalesced)."""
        if not self.running:
            return
        if self._scanning:
            self._rescan = True
        elif self._scan_call is None or not self._scan_call.active():
            self._scan_call = self.clock.callLater(0.01, self._scan)

    def _scan(self) -> None:
        self._scan_call = None
        room = self.batch - self.emitter.queued
        if room <= 0 or not self.running:
            return
        self._scanning = True
        cutoff = datetime.fromtimestamp(self.clock.seconds() - self.max_age, UTC)
        job = self.runner.run(_claim, self.engine, cutoff, room)
        job.addCallbacks(self._claimed, self._scan_failed)

    def _claimed(self, claimed: list[ClaimedAttempt]) -> None:
        self._scanning = False
        self.counters.claimed += len(claimed)
        for attempt in claimed:
            request = BeepRequest(attempt.attempt_id, attempt.caller_e164,
                                  attempt.callee_e164, attempt.callee_class,
                                  attempt.occurred_at.timestamp())
            beep = self.emitter.submit(request)
            self._in_flight.add(beep)
            beep.addCallback(self._finished)
            beep.addBoth(self._untrack, beep)
        if self._rescan or len(claimed) >= self.batch:
            self._rescan = False
            self.poke()

    def _scan_failed(self, failure: Any) -> None:
        self._scanning = False
        logger.warning("cannot claim attempts to beep: %s", failure.getErrorMessage())

    def _untrack(self, result: Any, beep: defer.Deferred[Any]) -> Any:
        self._in_flight.discard(beep)
        return result

    def _finished(self, outcome: BeepOutcome) -> None:
        by_outcome = self.counters.by_outcome
        by_outcome[outcome.kind.value] = by_outcome.get(outcome.kind.value, 0) + 1
        if not self.running and outcome.times.invite_sent is None:
            # Claimed, but we are stopping and no INVITE left: give it back, so the next
            # start beeps it (unless it has expired by then).
            self._unsaved.append(released_row(outcome.attempt_id))
        else:
            self._unsaved.append(result_row(outcome, self._sms_status(outcome)))
        if not self._saving:
            self.clock.callLater(0.05, self._save)

    def _sms_status(self, outcome: BeepOutcome) -> str | None:
        """"queued" when the SMS rule wants an SMS after this outcome (issue 6). A class
        without an enabled route was not beeped: the rule sees None."""
        if self.sms_rule is None:
            return None
        route = self.emitter.config.route(outcome.callee_class)
        kind = outcome.kind.value if route is not None and route.enabled else None
        return "queued" if self.sms_rule.wanted(outcome.callee_class, kind) else None

    def _save(self) -> defer.Deferred[None]:
        if self._saving or not self._unsaved:
            return defer.succeed(None)
        self._saving = True
        batch, self._unsaved = self._unsaved, []
        job = self.runner.run(save_results, self.engine, batch)

        def saved(_: object) -> None:
            self._saving = False
            if self._unsaved:
                self.clock.callLater(0.05, self._save)

        def failed(failure: Any) -> None:
            # Keep them and try again: an outcome is a fact worth a retry.
            self._saving = False
            self.counters.save_failures += 1
            self._unsaved[:0] = batch
            logger.warning("cannot save %d beep outcomes (%s); retrying",
                           len(batch), failure.getErrorMessage())
            self.clock.callLater(1.0, self._save)

        return job.addCallbacks(saved, failed)


def _claim(engine: Any, cutoff: datetime, limit: int) -> list[ClaimedAttempt]:
    expired = expire_stale(engine, cutoff)
    if expired:
        logger.warning("%d attempts expired before they could be beeped", expired)
    return claim_due(engine, cutoff, limit)

