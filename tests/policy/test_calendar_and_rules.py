"""The static rules, table-driven: periods in the operator's time zone, quiet hours across
midnight, class switches, and which counting checks a plan asks for."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from interceptor.core.vocabulary import SuppressionReason
from interceptor.policy.calendar import day_of, hour_of, quiet_until
from interceptor.policy.rules import plan
from interceptor.policy.thresholds import SPECS, QuietHours, Thresholds

HCM = ZoneInfo("Asia/Ho_Chi_Minh")  # UTC+7, no DST
NEW_YORK = ZoneInfo("America/New_York")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("instant", "zone", "label"), [
    ("2026-11-25T16:59:59", HCM, "2026-11-25"),  # 23:59:59 local
    ("2026-11-25T17:00:00", HCM, "2026-11-26"),  # local midnight: a new day
    ("2026-11-25T23:30:00", UTC, "2026-11-25"),
    ("2026-03-08T04:59:59", NEW_YORK, "2026-03-07"),  # 23:59:59 EST
    ("2026-03-08T05:00:00", NEW_YORK, "2026-03-08"),
])
def test_days_turn_at_the_operators_midnight(instant: str, zone: ZoneInfo,
                                             label: str) -> None:
    assert day_of(at(instant), zone).label == label


def test_a_day_ends_at_the_next_local_midnight_even_across_dst() -> None:
    # 2026-03-08 in New York has 23 hours: it ends at 04:00Z on the 9th.
    assert day_of(at("2026-03-08T12:00:00"), NEW_YORK).ends_at == at("2026-03-09T04:00:00")
    assert day_of(at("2026-11-25T10:00:00"), HCM).ends_at == at("2026-11-25T17:00:00")


def test_hours_are_labelled_locally_and_end_an_hour_later() -> None:
    period = hour_of(at("2026-11-25T16:59:59"), HCM)
    assert (period.label, period.ends_at) == ("2026-11-25T23+0700", at("2026-11-25T17:00:00"))
    assert hour_of(at("2026-11-25T17:00:00"), HCM).label == "2026-11-26T00+0700"


def window(text: str) -> QuietHours:
    value = SPECS["quiet_hours.window"].parse(text)
    assert isinstance(value, QuietHours)
    return value


NIGHT, LUNCH = window("22:00-07:00"), window("12:00-13:30")


@pytest.mark.parametrize(("local_time", "window", "until"), [
    ("21:59", NIGHT, None),
    ("22:00", NIGHT, "2026-11-26T07:00"),  # start inclusive
    ("23:59", NIGHT, "2026-11-26T07:00"),
    ("00:00", NIGHT, "2026-11-25T07:00"),  # after midnight: ends the same local day
    ("06:59", NIGHT, "2026-11-25T07:00"),
    ("07:00", NIGHT, None),  # end exclusive
    ("12:00", LUNCH, "2026-11-25T13:30"),
    ("13:30", LUNCH, None),
    ("11:59", LUNCH, None),
])
def test_quiet_hours_across_midnight_and_within_a_day(local_time: str, window: QuietHours,
                                                      until: str | None) -> None:
    instant = datetime.fromisoformat(f"2026-11-25T{local_time}").replace(tzinfo=HCM)
    ends = quiet_until(instant, window, HCM)
    expected = None if until is None else \
        datetime.fromisoformat(until).replace(tzinfo=HCM).astimezone(UTC)
    assert ends == expected


def thresholds(**values: object) -> Thresholds:
    parsed = {key.replace("__", "."): SPECS[key.replace("__", ".")].parse(value)
              for key, value in values.items()}
    return Thresholds({"quiet_hours.window": None, **parsed})


NOON_HCM = at("2026-11-25T05:00:00")


def test_a_class_with_beeps_and_sms_off_is_suppressed() -> None:
    result = plan(thresholds(), HCM, caller="84912000001", callee="12025550100",
                  callee_class="international", now=NOON_HCM)
    assert (result.refusal, result.beep, result.sms) == (SuppressionReason.CLASS_OFF, False, False)


def test_sms_only_when_beeps_are_off_for_the_class() -> None:
    result = plan(thresholds(beep__off_net="false"), HCM, caller="84912000001",
                  callee="84987000002", callee_class="off_net", now=NOON_HCM)
    assert (result.refusal, result.beep, result.sms) == (None, False, True)


@pytest.mark.parametrize(("mode", "refusal", "deferred"), [
    ("suppress", SuppressionReason.QUIET_HOURS, None),
    ("defer", None, at("2026-11-26T00:00:00")),  # 07:00 local
])
def test_quiet_hours_suppress_or_defer(mode: str, refusal: str | None,
                                       deferred: datetime | None) -> None:
    night = at("2026-11-25T16:00:00")  # 23:00 local
    result = plan(thresholds(quiet_hours__window="22:00-07:00", quiet_hours__mode=mode),
                  HCM, caller="84912000001", callee="84987000002", callee_class="on_net",
                  now=night)
    assert (result.refusal, result.defer_until) == (refusal, deferred)
    assert result.counters == ()  # nothing is counted for a suppressed or deferred one


def test_counting_checks_follow_the_thresholds_and_off_disables_a_rule() -> None:
    result = plan(thresholds(caller__max_per_day="off", pair__min_interval="300"), HCM,
                  caller="A", callee="B", callee_class="on_net", now=NOON_HCM)
    assert {(c.rule, c.subject, c.limit) for c in result.counters} == {
        ("caller_hour", "A", 5), ("callee_day", "B", 10)}
    assert result.pair is not None and result.pair.min_interval == 300
    assert result.pair.earliest_previous(NOON_HCM) == at("2026-11-25T04:55:00")
    assert plan(thresholds(pair__min_interval="off"), HCM, caller="A", callee="B",
                callee_class="on_net", now=NOON_HCM).pair is None
