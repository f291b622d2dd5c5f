"""Batch inserts: idempotent on attempt_id, poison records set aside (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import Engine, func, select

from interceptor.storage.attempt_queries import AttemptFilter, find_attempts, get_attempt
from interceptor.storage.models import Attempt
from interceptor.storage.writer import write_attempts
from tests.storage.fakes import BASE_TIME, attempt


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(Attempt)).scalar_one()


def test_batch_is_written_once_however_often_it_is_replayed(engine: Engine) -> None:
    records = [attempt(index) for index in range(10)]
    first = write_attempts(engine, records)
    assert (first.inserted, first.duplicates) == (10, 0)
    again = write_attempts(engine, [*records[5:], attempt(10)])
    assert (again.inserted, again.duplicates) == (1, 5)
    assert count(engine) == 11


def test_stored_row_keeps_every_fact(engine: Engine) -> None:
    record = attempt(3, result_code_source="mscc", normalisation_failure=None,
                     interceptor_host="beepcall.example.net", cc_request_number=0)
    write_attempts(engine, [record])
    row = get_attempt(engine, record.attempt_id)
    assert row is not None
    for key, value in record.to_row().items():
        assert row[key] == value, key
    assert row["occurred_at"].tzinfo == UTC
    assert row["recorded_at"].tzinfo == UTC
    assert row["beep_outcome"] is None and row["callback_at"] is None
    assert get_attempt(engine, str(row["id"]))["attempt_id"] == record.attempt_id  # type: ignore[index]


def test_a_poison_record_does_not_hold_the_batch_hostage(engine: Engine) -> None:
    poison = attempt(2, session_id=None)  # NOT NULL violated
    result = write_attempts(engine, [attempt(1), poison, attempt(3)])
    assert result.inserted == 2
    assert [record.attempt_id for record, _ in result.rejected] == [poison.attempt_id]
    assert count(engine) == 2


def test_queries_filter_by_number_time_and_status(engine: Engine) -> None:
    records = [attempt(index) for index in range(5)]
    records.append(attempt(5, caller_e164="84910000001", status="suppressed"))
    write_attempts(engine, records)
    by_number = find_attempts(engine, AttemptFilter(number="84910000001"))
    assert {row["attempt_id"] for row in by_number} == {records[1].attempt_id,
                                                        records[5].attempt_id}
    assert [row["attempt_id"] for row in find_attempts(engine, AttemptFilter(
        callee="84980000002"))] == [records[2].attempt_id]
    window = find_attempts(engine, AttemptFilter(
        since=records[1].occurred_at, until=records[3].occurred_at))
    assert [row["attempt_id"] for row in window] == [records[2].attempt_id,
                                                    records[1].attempt_id]
    assert [row["status"] for row in find_attempts(engine, AttemptFilter(
        status="suppressed"))] == ["suppressed"]
    assert len(find_attempts(engine, AttemptFilter(limit=2))) == 2
    assert find_attempts(engine, AttemptFilter(since=BASE_TIME.replace(year=2030))) == []
