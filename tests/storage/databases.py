"""Throw-away databases for tests: a SQLite file, or a PostgreSQL database of its own.

PostgreSQL runs at 127.0.0.1:5432 (trust auth, user postgres); each test database is
``beep_test_<random>``, created and dropped through the ``postgres`` database so parallel
runs never collide. If PostgreSQL is unreachable the tests using it fail; they never skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import sql

PG_HOST = os.environ.get("BEEPCALL_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BEEPCALL_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("BEEPCALL_TEST_PG_USER", "postgres")
REPO = Path(__file__).resolve().parents[2]
ALEMBIC_INI = REPO / "alembic.ini"


def pg_url(database: str) -> str:
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def _admin() -> psycopg.Connection:
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres",
                           autocommit=True, connect_timeout=5)


@contextmanager
def temporary_pg_database() -> Iterator[str]:
    """Create ``beep_test_<random>``; yield its SQLAlchemy URL; drop it afterwards."""
    name = f"beep_test_{uuid.uuid4().hex[:12]}"
    try:
        with _admin() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as error:
        raise RuntimeError(
            f"PostgreSQL at {PG_HOST}:{PG_PORT} is not reachable ({error}); these tests "
            "need it (start it: pg_ctlcluster --skip-systemctl-redirect "
            "$(ls /etc/postgresql) main start)") from None
    try:
        yield pg_url(name)
    finally:
        with _admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


def alembic_config(url: str) -> Config:
    """The repository's alembic.ini, pointed at ``url``."""
    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    return config


def migrate(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
