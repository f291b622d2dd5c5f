"""Reading attempts back (the admin CLI; later, reports)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, or_, select

from interceptor.storage.dialect import table_of
from interceptor.storage.models import Attempt


@dataclass(frozen=True)
class AttemptFilter:
    number: str | None = None  # caller or callee
    caller: str | None = None
    callee: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    status: str | None = None
    limit: int = 100


def find_attempts(engine: Engine, filters: AttemptFilter) -> list[dict[str, Any]]:
    """Matching attempts, newest first, as column -> value mappings."""
    columns = table_of(Attempt).c
    query = select(*columns).order_by(columns.occurred_at.desc(), columns.id.desc())
    if filters.number is not None:
        query = query.where(or_(columns.caller_e164 == filters.number,
                                columns.callee_e164 == filters.number))
    if filters.caller is not None:
        query = query.where(columns.caller_e164 == filters.caller)
    if filters.callee is not None:
        query = query.where(columns.callee_e164 == filters.callee)
    if filters.since is not None:
        query = query.where(columns.occurred_at >= filters.since)
    if filters.until is not None:
        query = query.where(columns.occurred_at < filters.until)
    if filters.status is not None:
        query = query.where(columns.status == filters.status)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query.limit(filters.limit))]


def get_attempt(engine: Engine, key: str) -> dict[str, Any] | None:
    """One attempt by its attempt_id (idempotency key) or its numeric id."""
    columns = table_of(Attempt).c
    condition = columns.attempt_id == key
    if key.isdigit():
        condition = or_(condition, columns.id == int(key))
    with engine.connect() as connection:
        row = connection.execute(select(*columns).where(condition).limit(1)).one_or_none()
    return None if row is None else dict(row._mapping)
