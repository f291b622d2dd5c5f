"""Fixtures for the storage tests: databases (SQLite and PostgreSQL), clocks, runners."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from interceptor.storage.engine import make_engine
from tests.storage.databases import migrate
from tests.storage.fakes import ManualRunner


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """A migrated SQLite database (for the clock-driven unit tests)."""
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def runner() -> ManualRunner:
    return ManualRunner()
