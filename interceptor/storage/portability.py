"""Mobile number portability data access (synchronous)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func, select

from interceptor.storage.blacklist import UpsertCounts
from interceptor.storage.dialect import table_of, upsert_insert
from interceptor.storage.models import PortedNumber
from interceptor.storage.types import utcnow


@dataclass(frozen=True)
class PortedItem:
    e164: str
    status: str  # a PortabilityStatus
    routing_number: str | None = None
    operator: str | None = None


def upsert_ported(engine: Engine, items: Sequence[PortedItem], *,
                  replace: bool = False) -> UpsertCounts:
    """Add or update numbers in one transaction; ``replace`` first empties the table
    (a full MNP snapshot). A number given twice keeps its last occurrence."""
    items = list({item.e164: item for item in items}.values())
    table = table_of(PortedNumber)
    now = utcnow()
    rows = [{"e164": item.e164, "status": item.status, "routing_number": item.routing_number,
             "operator": item.operator, "updated_at": now} for item in items]
    statement = upsert_insert(engine, table)
    statement = statement.on_conflict_do_update(
        index_elements=["e164"],
        set_={name: statement.excluded[name]
              for name in ("status", "routing_number", "operator", "updated_at")},
    )
    with engine.begin() as connection:
        if replace:
            connection.execute(delete(PortedNumber))
            existing = 0
        else:
            wanted = [item.e164 for item in items]
            existing = 0
            for start in range(0, len(wanted), 500):
                existing += connection.execute(
                    select(func.count()).select_from(PortedNumber).where(
                        PortedNumber.e164.in_(wanted[start:start + 500]))).scalar_one()
        if rows:
            connection.execute(statement, rows)
    return UpsertCounts(len(items) - existing, existing)


def lookup(engine: Engine, e164: str) -> PortedItem | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(PortedNumber).where(PortedNumber.e164 == e164)).one_or_none()
    if row is None:
        return None
    return PortedItem(row.e164, row.status, row.routing_number, row.operator)


def load_all(engine: Engine) -> dict[str, PortedItem]:
    """Every ported number, for an in-memory lookup table."""
    with engine.connect() as connection:
        return {row.e164: PortedItem(row.e164, row.status, row.routing_number, row.operator)
                for row in connection.execute(select(PortedNumber))}


Fingerprint = tuple[int, datetime | None]


def fingerprint(engine: Engine) -> Fingerprint:
    """(row count, newest updated_at): changes whenever an import changes the table."""
    with engine.connect() as connection:
        count, newest = connection.execute(
            select(func.count(), func.max(PortedNumber.updated_at))).one()
    return int(count), newest


def load_statuses_if_changed(engine: Engine, known: Fingerprint | None
                             ) -> tuple[Fingerprint, dict[str, str] | None]:
    """The whole table as e164 -> status, unless its fingerprint is still ``known``."""
    current = fingerprint(engine)
    if current == known:
        return current, None
    with engine.connect() as connection:
        statuses = {e164: status for e164, status in connection.execute(
            select(PortedNumber.e164, PortedNumber.status))}
    return current, statuses
