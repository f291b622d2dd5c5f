"""Beep bookkeeping on the attempts table (plain synchronous functions for the DB thread).

An attempt is beeped at most once: it is *claimed* (``recorded`` -> ``beeping``) by a
conditional UPDATE before the INVITE leaves (:mod:`.policy` does it, with the policy's
counters, in one transaction), so several side-work processes sharing a database, or
one that restarts, never beep it twice. What was claimed but not finished
when a process died stays ``beeping`` and is not retried (at most once, never twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, update

from interceptor.core.vocabulary import AttemptStatus
from interceptor.sms.store import queued
from interceptor.storage.models import Attempt
from interceptor.storage.types import utcnow


@dataclass(frozen=True)
class BeepResult:
    """What a beep did, for its attempt's row."""

    attempt_id: str
    status: str  # beeped | failed | recorded (claim released unbeeped)
    outcome: str | None
    reason: str | None
    sip_code: int | None
    call_id: str | None
    presented_as: str | None
    started_at: datetime | None
    first_provisional_at: datetime | None
    rang_at: datetime | None
    cancel_sent_at: datetime | None
    ended_at: datetime | None
    ring_time_ms: int | None
    sms_status: str | None = None  # queued: the SMS rule wants one after this outcome

    @property
    def notified_at(self) -> datetime | None:
        """When B was notified (it rang, else the INVITE left); None if no INVITE left."""
        if self.started_at is None or self.status == AttemptStatus.RECORDED:
            return None
        return self.rang_at or self.started_at


def save_results(engine: Engine, results: Sequence[BeepResult]) -> None:
    now = utcnow()
    with engine.begin() as connection:
        for result in results:
            sms = queued(now) if result.sms_status is not None else {}
            connection.execute(
                update(Attempt)
                .where(Attempt.attempt_id == result.attempt_id)
                .values(**sms, status=result.status, status_reason=result.reason,
                        beep_outcome=result.outcome, beep_sip_code=result.sip_code,
                        beep_call_id=result.call_id, beep_presented_as=result.presented_as,
                        beep_started_at=result.started_at,
                        first_provisional_at=result.first_provisional_at,
                        rang_at=result.rang_at, cancel_sent_at=result.cancel_sent_at,
                        beep_ended_at=result.ended_at, ring_time_ms=result.ring_time_ms,
                        updated_at=now))
