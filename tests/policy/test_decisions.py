"""The counting rules against real databases (SQLite and PostgreSQL), table-driven on
explicit instants: interval edges, hour and day limits at the operator's midnight, the
per-callee limit, refusals that count nothing, deferral, and counters that outlive the
process (they are rows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, insert, select

from interceptor.core.vocabulary import SuppressionReason
from interceptor.policy import store as policy_sql
from interceptor.policy.rules import plan
from interceptor.policy.service import decide_due
from interceptor.policy.thresholds import SPECS, Thresholds
from interceptor.storage.engine import make_engine
from interceptor.storage.models import Attempt, PolicyCounter

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
A, A2, B, B2, B3 = "84912000001", "84912000009", "84987000002", "84987000003", "84987000004"
T0 = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)  # 12:00 in Ho Chi Minh City




class Policy:
    """Thresholds (quiet hours off unless given) and a clock the test sets."""

    def __init__(self, engine: Engine, **values: str) -> None:
        self.engine = engine
        parsed = {"quiet_hours.window": None, **{
            key.replace("__", "."): SPECS[key.replace("__", ".")].parse(value)
            for key, value in values.items()}}
        self.thresholds = Thresholds(parsed)
        self.count = 0

    def attempt(self, caller: str, callee: str, at: datetime,
                callee_class: str = "on_net") -> str:
        self.count += 1
        attempt_id = f"t{self.count}"
        with self.engine.begin() as connection:
            connection.execute(insert(Attempt).values(
                attempt_id=attempt_id, occurred_at=at, session_id=attempt_id,
                result_code=4012, result_code_source="top_level", client_peer="ctf",
                caller_e164=caller, callee_e164=callee, callee_class=callee_class,
                status="recorded"))
        return attempt_id

    def decide(self, at: datetime, max_age: float = 600.0) -> policy_sql.DecisionBatch:
        def planner(candidate: policy_sql.Candidate, now: datetime) -> Any:
            return plan(self.thresholds, HCM, caller=candidate.caller_e164,
                        callee=candidate.callee_e164, callee_class=candidate.callee_class,
                        now=now)
        return decide_due(self.engine, planner, at - timedelta(seconds=max_age), at, 1000)

    def row(self, attempt_id: str) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(
                select(Attempt).where(Attempt.attempt_id == attempt_id)).one()

    def outcome(self, attempt_id: str) -> tuple[str, str | None]:
        row = self.row(attempt_id)
        return row.status, row.status_reason


def beep(policy: Policy, caller: str, callee: str, at: datetime) -> tuple[str, str | None]:
    attempt_id = policy.attempt(caller, callee, at)
    policy.decide(at)
    return policy.outcome(attempt_id)


CLAIMED = ("beeping", None)


@pytest.mark.parametrize(("gap", "expected"), [
    (599.0, ("suppressed", SuppressionReason.PAIR_INTERVAL)),
    (600.0, CLAIMED),  # exactly the interval: allowed
    (601.0, CLAIMED),
])
def test_pair_interval_edges(engine: Engine, gap: float, expected: tuple[str, str]) -> None:
    policy = Policy(engine, pair__min_interval="600")
    assert beep(policy, A, B, T0) == CLAIMED
    assert beep(policy, A, B, T0 + timedelta(seconds=gap)) == expected
    assert beep(policy, A, B2, T0 + timedelta(seconds=1)) == CLAIMED  # another B


def test_a_burst_to_one_callee_makes_one_beep_with_the_reason_and_detail(
        engine: Engine) -> None:
    policy = Policy(engine)  # defaults: pair interval 600 s
    ids = [policy.attempt(A, B, T0 + timedelta(seconds=i)) for i in range(10)]
    batch = policy.decide(T0 + timedelta(seconds=12))
    assert len(batch.claimed) == 1 and batch.suppressed == {SuppressionReason.PAIR_INTERVAL: 9}
    assert policy.outcome(ids[0]) == CLAIMED  # oldest first
    detail = policy.row(ids[1]).policy_detail
    assert detail == (f"pair {A}->{B}: last beep 0 s ago, minimum interval 600 s")


def test_caller_hourly_limit_resets_with_the_next_clock_hour(engine: Engine) -> None:
    policy = Policy(engine, caller__max_per_hour="2", pair__min_interval="off")
    assert beep(policy, A, B, T0) == CLAIMED
    assert beep(policy, A, B2, T0 + timedelta(minutes=30)) == CLAIMED
    third = policy.attempt(A, B3, T0 + timedelta(minutes=59, seconds=59))
    policy.decide(T0 + timedelta(minutes=59, seconds=59))
    assert policy.outcome(third) == ("suppressed", SuppressionReason.CALLER_HOURLY)
    assert policy.row(third).policy_detail == f"caller_hour {A} 2026-11-25T12+0700: 2/2"
    assert beep(policy, A, B3, T0 + timedelta(hours=1)) == CLAIMED
    assert beep(policy, A2, B3, T0 + timedelta(minutes=59)) == CLAIMED  # another caller


def test_caller_daily_limit_turns_at_the_operators_midnight(engine: Engine) -> None:
    policy = Policy(engine, caller__max_per_day="1", caller__max_per_hour="off",
                    pair__min_interval="off")
    before_midnight = datetime(2026, 11, 25, 16, 59, 0, tzinfo=UTC)  # 23:59 local
    assert beep(policy, A, B, before_midnight) == CLAIMED
    assert beep(policy, A, B2, before_midnight + timedelta(seconds=59)) == \
        ("suppressed", SuppressionReason.CALLER_DAILY)
    assert beep(policy, A, B3, before_midnight + timedelta(seconds=60)) == CLAIMED  # 00:00


def test_callee_daily_limit_counts_all_callers(engine: Engine) -> None:
    policy = Policy(engine, callee__max_per_day="2", pair__min_interval="off")
    assert beep(policy, A, B, T0) == CLAIMED
    assert beep(policy, A2, B, T0 + timedelta(minutes=1)) == CLAIMED
    assert beep(policy, "84912000077", B, T0 + timedelta(minutes=2)) == \
        ("suppressed", SuppressionReason.CALLEE_DAILY)


def test_a_refusal_counts_nothing(engine: Engine) -> None:
    """Refused by the caller's limit: the pair's time and B's counter stay untouched."""
    policy = Policy(engine, caller__max_per_hour="1", callee__max_per_day="5")
    assert beep(policy, A, B, T0) == CLAIMED
    assert beep(policy, A, B2, T0 + timedelta(seconds=5)) == \
        ("suppressed", SuppressionReason.CALLER_HOURLY)
    assert policy_sql.pair_last(engine, A, B2) is None
    with engine.connect() as connection:
        counts = dict(connection.execute(
            select(PolicyCounter.rule + ":" + PolicyCounter.subject, PolicyCounter.count)
        ).all())
    assert counts == {f"caller_hour:{A}": 1, f"caller_day:{A}": 1, f"callee_day:{B}": 1}


def test_a_limit_of_zero_refuses_everything(engine: Engine) -> None:
    policy = Policy(engine, callee__max_per_day="0")
    assert beep(policy, A, B, T0) == ("suppressed", SuppressionReason.CALLEE_DAILY)


def test_class_switch_and_sms_only(engine: Engine) -> None:
    policy = Policy(engine, beep__off_net="false", sms__off_net="true")
    intl = policy.attempt(A, "12025550100", T0, "international")
    off = policy.attempt(A, B, T0, "off_net")
    batch = policy.decide(T0)
    assert policy.outcome(intl) == ("suppressed", SuppressionReason.CLASS_OFF)
    [decision] = batch.claimed
    assert (decision.candidate.attempt_id, decision.beep, decision.sms) == (off, False, True)


def test_quiet_hours_defer_until_the_window_ends_then_the_age_limit_applies(
        engine: Engine) -> None:
    policy = Policy(engine, quiet_hours__window="22:00-07:00", quiet_hours__mode="defer")
    night = datetime(2026, 11, 25, 23, 50, tzinfo=UTC)  # 06:50 local
    window_end = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)  # 07:00 local
    on_time, late = policy.attempt(A, B, night), policy.attempt(A2, B2, night)
    assert policy.decide(night).deferred == 2
    row = policy.row(on_time)
    assert (row.status, row.not_before) == ("recorded", window_end)
    assert "quiet hours 22:00-07:00 Asia/Ho_Chi_Minh" in row.policy_detail
    assert policy.decide(night + timedelta(minutes=5)).claimed == []  # not due yet
    # The age limit counts from the window's end: 3 minutes after it, within 5 minutes.
    batch = policy.decide(window_end + timedelta(minutes=3), max_age=300)
    assert {d.candidate.attempt_id for d in batch.claimed} == {on_time, late}
    assert {d.candidate.due_at for d in batch.claimed} == {window_end}


def test_a_deferred_attempt_expires_when_not_beeped_within_the_age_limit_after_the_window(
        engine: Engine) -> None:
    policy = Policy(engine, quiet_hours__window="22:00-07:00", quiet_hours__mode="defer")
    night = datetime(2026, 11, 25, 23, 50, tzinfo=UTC)
    waits = policy.attempt(A, B, night)
    policy.decide(night)
    policy.decide(datetime(2026, 11, 26, 0, 10, tzinfo=UTC), max_age=300)  # 10 min > 5
    assert (policy.row(waits).status, policy.row(waits).beep_outcome) == ("failed", "expired")


@pytest.mark.parametrize(("max_delay", "expected"), [
    ("36000", ("recorded", None)),  # deferred: 8.5 h to wait
    ("3600", ("suppressed", SuppressionReason.QUIET_HOURS)),
])
def test_a_deferral_longer_than_max_delay_is_suppressed(
        engine: Engine, max_delay: str, expected: tuple[str, str | None]) -> None:
    policy = Policy(engine, quiet_hours__window="22:00-07:00", quiet_hours__mode="defer",
                    quiet_hours__max_delay=max_delay)
    evening = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)  # 22:30 local
    assert beep(policy, A, B, evening) == expected


def test_quiet_hours_in_suppress_mode(engine: Engine) -> None:
    policy = Policy(engine, quiet_hours__window="22:00-07:00", quiet_hours__mode="suppress")
    assert beep(policy, A, B, datetime(2026, 11, 25, 15, 0, tzinfo=UTC)) == \
        ("suppressed", SuppressionReason.QUIET_HOURS)  # 22:00 local


def test_counters_outlive_the_process(database_url: str, engine: Engine) -> None:
    policy = Policy(engine, caller__max_per_hour="1")
    assert beep(policy, A, B, T0) == CLAIMED
    engine.dispose()
    restarted = Policy(make_engine(database_url), caller__max_per_hour="1")
    restarted.count = policy.count
    assert beep(restarted, A, B2, T0 + timedelta(minutes=1)) == \
        ("suppressed", SuppressionReason.CALLER_HOURLY)
    restarted.engine.dispose()


def test_purge_removes_ended_periods_and_stale_pairs_only(engine: Engine) -> None:
    policy = Policy(engine)
    beep(policy, A, B, T0)
    beep(policy, A2, B2, T0 + timedelta(hours=2))
    removed = policy_sql.purge(engine, T0 + timedelta(hours=2),
                               pair_horizon=T0 + timedelta(hours=1))
    assert removed == 2  # A's hour counter and the pair A->B
    assert policy_sql.pair_last(engine, A, B) is None
    assert policy_sql.pair_last(engine, A2, B2) is not None
