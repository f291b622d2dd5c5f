"""AttemptRecord: plain, frozen, UTC, and faithful through the spool format."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from interceptor.storage.records import AttemptRecord, record_from_json, record_to_json
from tests.storage.fakes import BASE_TIME, attempt


def test_json_round_trip_is_exact() -> None:
    record = attempt(7, caller_raw="tel:0912 345 678 ☎", normalisation_failure=None,
                     status="suppressed", status_reason="blacklist:callee")
    assert record_from_json(record_to_json(record)) == record


def test_each_record_gets_its_own_idempotency_key() -> None:
    assert attempt(1).attempt_id != attempt(1).attempt_id


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        attempt().status = "beeped"  # type: ignore[misc]


def test_times_are_utc_and_naive_times_are_refused() -> None:
    hanoi = timezone(timedelta(hours=7))
    record = attempt(occurred_at=datetime(2026, 3, 1, 17, 32, tzinfo=hanoi))
    assert record.occurred_at == BASE_TIME
    assert record.occurred_at.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="timezone-aware"):
        attempt(occurred_at=datetime(2026, 3, 1, 10, 32))


@pytest.mark.parametrize(("field", "value"), [("result_code_source", "body"),
                                              ("callee_class", "mars")])
def test_vocabularies_are_checked(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        attempt(0, **{field: value})


@pytest.mark.parametrize("line", [
    "not json",
    "[1, 2]",
    '{"v": 99}',
    '{"v": 1, "occurred_at": "2026-03-01T10:32:00+00:00"}',
    '{"v": 1, "surprise": 1}',
])
def test_unreadable_spool_lines_are_value_errors(line: str) -> None:
    with pytest.raises(ValueError):
        record_from_json(line)


def test_to_row_matches_the_attempts_columns() -> None:
    from interceptor.storage.models import Attempt

    columns = set(Attempt.__table__.columns.keys())
    row = attempt().to_row()
    assert set(row) <= columns
    assert isinstance(row["occurred_at"], datetime)
    assert AttemptRecord.__slots__  # plain data, cheap to create on the reactor
