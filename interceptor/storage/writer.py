"""Synchronous batch insert of attempts, idempotent on ``attempt_id``.

Runs on the database thread pool, never on the reactor.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Insert
from sqlalchemy.exc import DataError, IntegrityError

from interceptor.storage.dialect import table_of, upsert_insert
from interceptor.storage.models import Attempt
from interceptor.storage.records import AttemptRecord

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    duplicates: int
    # Records the database refused on their own merits (not an outage): retrying them
    # would fail forever, so the caller sets them aside instead of blocking the queue.
    rejected: tuple[tuple[AttemptRecord, str], ...] = field(default=())


def insert_ignore_duplicates(engine: Engine) -> Insert:
    """``INSERT INTO attempts ... ON CONFLICT (attempt_id) DO NOTHING RETURNING attempt_id``."""
    table = table_of(Attempt)
    statement = upsert_insert(engine, table).on_conflict_do_nothing(
        index_elements=["attempt_id"])
    returning: Insert = statement.returning(table.c.attempt_id)
    return returning


def write_attempts(engine: Engine, records: Sequence[AttemptRecord]) -> WriteResult:
    """Insert a batch in one transaction; replays of known attempt_ids are ignored.

    Connection problems propagate (the caller keeps the batch and retries later). If the
    database refuses the batch's data (DataError/IntegrityError), rows are retried one by
    one so a single bad record cannot hold the others hostage.
    """
    if not records:
        return WriteResult(0, 0)
    try:
        inserted = _insert(engine, [record.to_row() for record in records])
    except (DataError, IntegrityError) as error:
        if len(records) == 1:
            return WriteResult(0, 0, ((records[0], _describe(error)),))
        logger.warning("batch of %s attempts refused (%s); retrying one by one",
                       len(records), _describe(error))
        return _write_one_by_one(engine, records)
    return WriteResult(inserted, len(records) - inserted)


def _insert(engine: Engine, rows: list[dict[str, Any]]) -> int:
    # executemany: SQLAlchemy's "insertmanyvalues" packs rows into multi-row INSERTs
    # within the backend's parameter limits and still collects RETURNING rows.
    with engine.begin() as connection:
        return len(connection.execute(insert_ignore_duplicates(engine), rows).all())


def _write_one_by_one(engine: Engine, records: Sequence[AttemptRecord]) -> WriteResult:
    inserted = duplicates = 0
    rejected: list[tuple[AttemptRecord, str]] = []
    for record in records:
        try:
            count = _insert(engine, [record.to_row()])
        except (DataError, IntegrityError) as error:
            rejected.append((record, _describe(error)))
            continue
        inserted += count
        duplicates += 1 - count
    return WriteResult(inserted, duplicates, tuple(rejected))


def _describe(error: Exception) -> str:
    original = getattr(error, "orig", None) or error
    return " ".join(str(original).split())[:500]
