"""Fixtures shared across the test packages: throw-away databases of each kind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from interceptor.storage.engine import make_engine
from interceptor.storage.migrate import upgrade
from tests.storage.databases import temporary_pg_database


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'beepcall.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with temporary_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each supported kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'beepcall.db'}"
        return
    with temporary_pg_database() as url:
        yield url


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """An empty database of each kind at the schema's head revision."""
    upgrade(database_url)
    return database_url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    """An engine on a migrated database (SQLite and PostgreSQL)."""
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()
