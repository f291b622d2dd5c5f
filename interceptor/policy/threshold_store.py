"""Thresholds in SQL with their audit trail (synchronous: CLI, or the DB thread pool).

The values are text; :mod:`interceptor.policy.thresholds` parses and checks them. Every
change writes one ``threshold_audit`` row in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from interceptor.storage.dialect import table_of, upsert_insert
from interceptor.storage.models import Threshold, ThresholdChange
from interceptor.storage.types import utcnow


@dataclass(frozen=True)
class StoredThreshold:
    key: str
    value: str
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class AuditEntry:
    key: str
    action: str
    old_value: str | None
    new_value: str
    changed_by: str
    changed_at: datetime


def seed(engine: Engine, values: Mapping[str, str], by: str) -> list[str]:
    """Insert the keys the table does not have yet (never overwrites an operator's
    change); returns the keys inserted. Safe when several processes seed at once."""
    if not values:
        return []
    now = utcnow()
    table = table_of(Threshold)
    inserted: list[str] = []
    with engine.begin() as connection:
        for key, value in values.items():
            statement = upsert_insert(connection, table).values(
                key=key, value=value, updated_at=now, updated_by=by
            ).on_conflict_do_nothing(index_elements=["key"])
            if connection.execute(statement).rowcount == 1:
                inserted.append(key)
                connection.execute(table_of(ThresholdChange).insert().values(
                    key=key, action="seed", old_value=None, new_value=value,
                    changed_by=by, changed_at=now))
    return inserted


def load(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        return {key: value for key, value in
                connection.execute(select(Threshold.key, Threshold.value))}


def load_all(engine: Engine) -> dict[str, StoredThreshold]:
    with engine.connect() as connection:
        rows = connection.execute(select(Threshold.key, Threshold.value,
                                         Threshold.updated_at, Threshold.updated_by))
        return {row.key: StoredThreshold(row.key, row.value, row.updated_at, row.updated_by)
                for row in rows}


def change(engine: Engine, key: str, value: str, by: str, action: str = "set") -> str | None:
    """Set ``key`` to ``value`` (already validated); returns the old value (None if the
    key was not stored). An unchanged value still leaves an audit row: someone asked."""
    now = utcnow()
    table = table_of(Threshold)
    with engine.begin() as connection:
        old = connection.execute(
            select(Threshold.value).where(Threshold.key == key).with_for_update()
        ).scalar_one_or_none()
        if old is None:
            connection.execute(table.insert().values(key=key, value=value, updated_at=now,
                                                     updated_by=by))
        else:
            connection.execute(table.update().where(table.c.key == key).values(
                value=value, updated_at=now, updated_by=by))
        connection.execute(table_of(ThresholdChange).insert().values(
            key=key, action=action, old_value=old, new_value=value, changed_by=by,
            changed_at=now))
    return old


def history(engine: Engine, key: str | None = None, limit: int = 100) -> list[AuditEntry]:
    """Newest first."""
    query = select(ThresholdChange).order_by(ThresholdChange.changed_at.desc(),
                                             ThresholdChange.id.desc()).limit(limit)
    if key is not None:
        query = query.where(ThresholdChange.key == key)
    with engine.connect() as connection:
        return [AuditEntry(row.key, row.action, row.old_value, row.new_value,
                           row.changed_by, row.changed_at)
                for row in connection.execute(query)]
