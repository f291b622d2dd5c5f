"""``INSERT ... ON CONFLICT`` for the two supported backends."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert_insert(bind: Engine | Connection, table: Table) -> Any:
    """The backend's ``insert()`` that offers ``on_conflict_do_nothing/do_update``."""
    return upsert_insert_for(bind.dialect.name, table)


def upsert_insert_for(name: str, table: Table) -> Any:
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database backend {name!r}")


def table_of(model: type[Any]) -> Table:
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model!r} is not mapped to a table")
    return table
