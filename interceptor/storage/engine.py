"""Engines for SQLite (the default) and PostgreSQL (``postgresql+psycopg://``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from interceptor.storage.config import DatabaseConfig

logger = logging.getLogger(__name__)


class DatabaseURLError(ValueError):
    """The database URL cannot be used (bad syntax or unsupported backend)."""


def redact_url(url: str) -> str:
    """The URL with its password masked, fit for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def make_engine(url: str, config: DatabaseConfig | None = None) -> Engine:
    """An engine tuned for short transactions from a small thread pool.

    PostgreSQL: pre-ping (connections die when the server restarts), a connect timeout
    and a statement timeout, so a stalled database never pins a thread for long.
    SQLite: WAL journal and a busy timeout, so the CLI and the interceptor can share the
    file; the file's directory is created if needed.
    """
    config = config or DatabaseConfig()
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseURLError(f"invalid database URL {redact_url(url)}") from None
    try:
        return _make_engine(url, parsed, config)
    except (ArgumentError, ImportError) as error:  # unknown driver, missing DBAPI module
        raise DatabaseURLError(f"cannot use database URL {redact_url(url)}: {error}") from None


def _make_engine(url: str, parsed: URL, config: DatabaseConfig) -> Engine:
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, parsed.database, config)
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise DatabaseURLError(
                f"use the psycopg 3 driver: postgresql+psycopg://... (got {redact_url(url)})")
        return create_engine(
            parsed,
            pool_size=config.pool_size,
            max_overflow=config.max_overflow,
            pool_timeout=config.connect_timeout,
            pool_pre_ping=True,
            connect_args={
                "connect_timeout": max(1, round(config.connect_timeout)),
                "options": f"-c statement_timeout={int(config.statement_timeout * 1000)}",
                "application_name": "beepcall",
            },
        )
    raise DatabaseURLError(f"unsupported database {redact_url(url)}: use sqlite:/// or "
                           "postgresql+psycopg://")


def _sqlite_engine(url: str, database: str | None, config: DatabaseConfig) -> Engine:
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": config.statement_timeout})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(config.statement_timeout * 1000)}")
        finally:
            cursor.close()

    return engine
