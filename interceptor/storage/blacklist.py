"""Blacklist data access (synchronous; the CLI calls it directly, the interceptor from its
database thread pool)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Engine, delete, or_, select, tuple_

from interceptor.storage.dialect import table_of, upsert_insert
from interceptor.storage.models import BlacklistEntry
from interceptor.storage.types import utcnow

BlacklistKey = tuple[str, str]  # (scope, e164 number)


@dataclass(frozen=True)
class BlacklistItem:
    number: str
    scope: str
    reason: str | None = None
    expires_at: datetime | None = None
    added_by: str = "unknown"
    added_at: datetime | None = None

    @property
    def key(self) -> BlacklistKey:
        return (self.scope, self.number)

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class UpsertCounts:
    added: int
    updated: int


def load_active(engine: Engine, now: datetime | None = None) -> dict[BlacklistKey,
                                                                      datetime | None]:
    """Every entry not yet expired: (scope, number) -> expiry (None: never)."""
    now = now or utcnow()
    query = select(BlacklistEntry.scope, BlacklistEntry.number,
                   BlacklistEntry.expires_at).where(_active_at(now))
    with engine.connect() as connection:
        return {(scope, number): expires for scope, number, expires
                in connection.execute(query)}


def upsert(engine: Engine, items: Sequence[BlacklistItem]) -> UpsertCounts:
    """Add or update entries, all in one transaction (all or nothing).

    A (scope, number) given twice keeps its last occurrence.
    """
    items = list({item.key: item for item in items}.values())
    if not items:
        return UpsertCounts(0, 0)
    table = table_of(BlacklistEntry)
    now = utcnow()
    rows = [{"number": item.number, "scope": item.scope, "reason": item.reason,
             "expires_at": item.expires_at, "added_by": item.added_by,
             "added_at": item.added_at or now} for item in items]
    statement = upsert_insert(engine, table)
    statement = statement.on_conflict_do_update(
        index_elements=["scope", "number"],
        set_={name: statement.excluded[name]
              for name in ("reason", "expires_at", "added_by", "added_at")},
    )
    with engine.begin() as connection:
        existing = _existing_keys(connection, [item.key for item in items])
        connection.execute(statement, rows)
    updated = sum(1 for item in items if item.key in existing)
    return UpsertCounts(len(items) - updated, updated)


def remove(engine: Engine, number: str, scope: str | None = None) -> int:
    """Delete the number's entries (in one scope, or both); how many went."""
    statement = delete(BlacklistEntry).where(BlacklistEntry.number == number)
    if scope is not None:
        statement = statement.where(BlacklistEntry.scope == scope)
    with engine.begin() as connection:
        return connection.execute(statement).rowcount


def entries(engine: Engine, *, scope: str | None = None, number: str | None = None,
            include_expired: bool = False, now: datetime | None = None) -> list[BlacklistItem]:
    query = select(BlacklistEntry).order_by(BlacklistEntry.scope, BlacklistEntry.number)
    if scope is not None:
        query = query.where(BlacklistEntry.scope == scope)
    if number is not None:
        query = query.where(BlacklistEntry.number == number)
    if not include_expired:
        query = query.where(_active_at(now or utcnow()))
    with engine.connect() as connection:
        return [BlacklistItem(row.number, row.scope, row.reason, row.expires_at,
                              row.added_by, row.added_at)
                for row in connection.execute(query)]


def _active_at(now: datetime) -> ColumnElement[bool]:
    return or_(BlacklistEntry.expires_at.is_(None), BlacklistEntry.expires_at > now)


def _existing_keys(connection: Connection,
                   keys: Iterable[BlacklistKey]) -> set[BlacklistKey]:
    wanted = sorted(set(keys))
    found: set[BlacklistKey] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        query = select(BlacklistEntry.scope, BlacklistEntry.number).where(
            tuple_(BlacklistEntry.scope, BlacklistEntry.number).in_(chunk))
        found.update((scope, number) for scope, number in connection.execute(query))
    return found
