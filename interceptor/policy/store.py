"""The policy's counters, decided and counted in one step in the database.

For an attempt whose static rules pass, one transaction:

1. claims it (``recorded`` -> ``beeping``, conditional: nobody else has it);
2. asks the pair's last beep to move to now, *only if* it is at least the minimum
   interval old (``INSERT .. ON CONFLICT DO UPDATE .. WHERE .. RETURNING``);
3. asks each counter to go up by one, *only if* it is below its limit (same form).

If any step returns no row the transaction is rolled back (nothing counted) and the
attempt is suppressed with that rule's reason and the counters it saw. PostgreSQL locks
the conflicting row for the conditional update and re-checks the condition against the
committed value, so two processes counting the same caller at the same instant are
serialised: a limit holds exactly. Rows are locked in one fixed order (pair, then
counters sorted), so two such transactions never deadlock.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Integer, bindparam, delete, func, or_, select, update

from interceptor.core.vocabulary import AttemptStatus, OutcomeKind
from interceptor.policy.rules import CounterCheck, PairCheck, Plan
from interceptor.storage.dialect import table_of, upsert_insert_for
from interceptor.storage.models import Attempt, PairLastBeep, PolicyCounter
from interceptor.storage.types import UTCDateTime, utcnow


@dataclass(frozen=True)
class Candidate:
    attempt_id: str
    caller_e164: str
    callee_e164: str
    callee_class: str
    occurred_at: datetime
    due_at: datetime  # occurred_at, or the end of a deferral (quiet hours)


@dataclass(frozen=True)
class Decision:
    """A claimed attempt and what it may have (a beep, an SMS, or both)."""

    candidate: Candidate
    beep: bool
    sms: bool
    detail: str


@dataclass
class DecisionBatch:
    claimed: list[Decision] = field(default_factory=list)
    suppressed: dict[str, int] = field(default_factory=dict)  # by reason
    deferred: int = 0
    lost: int = 0  # another process claimed them first


Planner = Callable[[Candidate, datetime], Plan]


def candidates(connection: Connection, cutoff: datetime, now: datetime,
               limit: int) -> list[Candidate]:
    """Recorded attempts due by ``now`` (not deferred past it) that became due after
    ``cutoff``: a deferred attempt's age counts from the end of its deferral."""
    due = func.coalesce(Attempt.not_before, Attempt.occurred_at, type_=UTCDateTime())
    query = (select(Attempt.attempt_id, Attempt.caller_e164, Attempt.callee_e164,
                    Attempt.callee_class, Attempt.occurred_at, due.label("due_at"))
             .where(Attempt.status == AttemptStatus.RECORDED.value,
                    due >= cutoff,
                    Attempt.caller_e164.is_not(None),
                    Attempt.callee_e164.is_not(None),
                    or_(Attempt.not_before.is_(None), Attempt.not_before <= now))
             .order_by(Attempt.occurred_at)
             .limit(limit))
    with connection.begin():
        return [Candidate(row.attempt_id, str(row.caller_e164), str(row.callee_e164),
                          row.callee_class, row.occurred_at, row.due_at)
                for row in connection.execute(query)]


def decide(connection: Connection, candidate: Candidate, plan: Plan, now: datetime,
           batch: DecisionBatch) -> None:
    """Apply ``plan`` to one attempt: suppress, defer, or claim and count atomically.

    Each outcome is its own short transaction on ``connection`` (one connection serves
    a whole batch: no checkout per attempt, and no lock is held past one attempt)."""
    if plan.refusal is not None:
        _suppress(connection, candidate.attempt_id, plan.refusal, plan.detail, now, batch)
        return
    if plan.defer_until is not None:
        with connection.begin():
            done = connection.execute(_DEFER, {
                "p_id": candidate.attempt_id, "p_not_before": plan.defer_until,
                "p_detail": plan.detail, "p_now": now}).rowcount
        if done == 1:
            batch.deferred += 1
        else:
            batch.lost += 1
        return
    refused: CounterCheck | PairCheck | None = None
    transaction = connection.begin()
    try:
        claim = {"p_id": candidate.attempt_id, "p_now": now}
        if connection.execute(_CLAIM, claim).rowcount != 1:
            transaction.rollback()
            batch.lost += 1
            return
        if plan.pair is not None and not _touch_pair(connection, plan.pair, now):
            refused = plan.pair
        else:
            for check in plan.counters:  # fixed rule order: caller_hour, caller_day, callee_day
                if not _count(connection, check):
                    refused = check
                    break
        if refused is not None:
            transaction.rollback()  # nothing claimed, nothing counted
        else:
            transaction.commit()
    except BaseException:
        if transaction.is_active:
            transaction.rollback()
        raise
    if refused is None:
        counted = [f"{check.rule} {check.period.label} (limit {check.limit})"
                   for check in plan.counters]
        if plan.pair is not None:
            counted.insert(0, f"pair interval {plan.pair.min_interval:g} s")
        batch.claimed.append(Decision(candidate, plan.beep, plan.sms,
                                      "counted: " + ", ".join(counted) if counted
                                      else "no counting rules"))
        return
    with connection.begin():
        detail = _describe_refusal(connection, refused, now)
    _suppress(connection, candidate.attempt_id, refused.reason, detail, now, batch)


_ATTEMPTS = table_of(Attempt)
_RECORDED = AttemptStatus.RECORDED.value
_CLAIM = (update(_ATTEMPTS)
          .where(_ATTEMPTS.c.attempt_id == bindparam("p_id"),
                 _ATTEMPTS.c.status == _RECORDED)
          .values(status=AttemptStatus.BEEPING.value, updated_at=bindparam("p_now"),
                  not_before=None))
_DEFER = (update(_ATTEMPTS)
          .where(_ATTEMPTS.c.attempt_id == bindparam("p_id"),
                 _ATTEMPTS.c.status == _RECORDED)
          .values(not_before=bindparam("p_not_before"),
                  policy_detail=bindparam("p_detail"), updated_at=bindparam("p_now")))
_SUPPRESS = (update(_ATTEMPTS)
             .where(_ATTEMPTS.c.attempt_id == bindparam("p_id"),
                    _ATTEMPTS.c.status == _RECORDED)
             .values(status=AttemptStatus.SUPPRESSED.value,
                     status_reason=bindparam("p_reason"), policy_detail=bindparam("p_detail"),
                     updated_at=bindparam("p_now")))


@functools.cache
def _pair_statement(dialect: str) -> Any:
    """Built once per backend; values go in as parameters (building the statement cost
    more than running it on SQLite)."""
    table = table_of(PairLastBeep)
    statement = upsert_insert_for(dialect, table).values(
        caller_e164=bindparam("p_caller"), callee_e164=bindparam("p_callee"),
        last_at=bindparam("p_now"))
    return statement.on_conflict_do_update(
        index_elements=["caller_e164", "callee_e164"],
        set_={"last_at": statement.excluded.last_at},
        where=table.c.last_at <= bindparam("p_earliest", type_=UTCDateTime()),
    ).returning(table.c.last_at)


@functools.cache
def _count_statement(dialect: str) -> Any:
    table = table_of(PolicyCounter)
    statement = upsert_insert_for(dialect, table).values(
        rule=bindparam("p_rule"), subject=bindparam("p_subject"),
        period=bindparam("p_period"), count=1, expires_at=bindparam("p_expires_at"))
    return statement.on_conflict_do_update(
        index_elements=["rule", "subject", "period"],
        set_={"count": table.c.count + 1},
        where=table.c.count < bindparam("p_limit", type_=Integer()),
    ).returning(table.c.count)


def _touch_pair(connection: Connection, check: PairCheck, now: datetime) -> bool:
    return connection.execute(_pair_statement(connection.dialect.name), {
        "p_caller": check.caller, "p_callee": check.callee, "p_now": now,
        "p_earliest": check.earliest_previous(now)}).first() is not None


def _count(connection: Connection, check: CounterCheck) -> bool:
    if check.limit <= 0:
        return False
    return connection.execute(_count_statement(connection.dialect.name), {
        "p_rule": check.rule, "p_subject": check.subject, "p_period": check.period.label,
        "p_expires_at": check.period.ends_at, "p_limit": check.limit}).first() is not None


def _suppress(connection: Connection, attempt_id: str, reason: str, detail: str | None,
              now: datetime, batch: DecisionBatch) -> None:
    with connection.begin():
        done = connection.execute(_SUPPRESS, {"p_id": attempt_id, "p_reason": reason,
                                              "p_detail": detail, "p_now": now}).rowcount
    if done == 1:
        batch.suppressed[reason] = batch.suppressed.get(reason, 0) + 1
    else:
        batch.lost += 1


def decide_batch(engine: Engine, planner: Planner, cutoff: datetime, now: datetime,
                 limit: int) -> DecisionBatch:
    """Decide up to ``limit`` due attempts on one connection."""
    batch = DecisionBatch()
    with engine.connect() as connection:
        for candidate in candidates(connection, cutoff, now, limit):
            decide(connection, candidate, planner(candidate, now), now, batch)
    return batch


# -- Reading, for refusals' detail and `beepcall policy explain` ---------------------------


def _counter_value(connection: Connection, check: CounterCheck) -> int:
    value = connection.execute(
        select(PolicyCounter.count).where(
            PolicyCounter.rule == check.rule, PolicyCounter.subject == check.subject,
            PolicyCounter.period == check.period.label)).scalar_one_or_none()
    return int(value or 0)


def _pair_last(connection: Connection, caller: str, callee: str) -> datetime | None:
    last: datetime | None = connection.execute(
        select(PairLastBeep.last_at).where(PairLastBeep.caller_e164 == caller,
                                           PairLastBeep.callee_e164 == callee)
    ).scalar_one_or_none()
    return last


def counter_value(engine: Engine, check: CounterCheck) -> int:
    with engine.connect() as connection:
        return _counter_value(connection, check)


def pair_last(engine: Engine, caller: str, callee: str) -> datetime | None:
    with engine.connect() as connection:
        return _pair_last(connection, caller, callee)


def _describe_refusal(connection: Connection, refused: CounterCheck | PairCheck,
                      now: datetime) -> str:
    if isinstance(refused, PairCheck):
        last = _pair_last(connection, refused.caller, refused.callee)
        ago = "never" if last is None else f"{(now - last).total_seconds():.0f} s ago"
        return (f"pair {refused.caller}->{refused.callee}: last beep {ago}, minimum "
                f"interval {refused.min_interval:g} s")
    return refused.describe(_counter_value(connection, refused))


def purge(engine: Engine, now: datetime, pair_horizon: datetime) -> int:
    """Delete counters of ended periods and pair entries too old to refuse anything.
    No decision touches those rows, so the deletes never wait on one."""
    with engine.begin() as connection:
        removed = connection.execute(
            delete(PolicyCounter).where(PolicyCounter.expires_at <= now)).rowcount
        removed += connection.execute(
            delete(PairLastBeep).where(PairLastBeep.last_at < pair_horizon)).rowcount
    return int(removed or 0)


def expire_stale(engine: Engine, cutoff: datetime) -> int:
    """Attempts that waited longer than the age limit are failed as ``expired``; a
    deferred one's age counts from the end of its deferral (``not_before``)."""
    with engine.begin() as connection:
        result = connection.execute(
            update(Attempt)
            .where(Attempt.status == AttemptStatus.RECORDED.value,
                   func.coalesce(Attempt.not_before, Attempt.occurred_at,
                                 type_=UTCDateTime()) < cutoff,
                   Attempt.caller_e164.is_not(None),
                   Attempt.callee_e164.is_not(None))
            .values(status=AttemptStatus.FAILED.value, beep_outcome=OutcomeKind.EXPIRED.value,
                    status_reason="not beeped within the age limit", updated_at=utcnow()))
        return int(result.rowcount or 0)
