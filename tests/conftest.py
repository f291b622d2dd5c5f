"""Fixtures shared across the test packages: throw-away databases of each kind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from interceptor.storage.engine import make_engine
from interceptor.storage.migrate import upgrade
from tests.peers.capture import packet_capture_factory  # noqa: F401  (fixture)
from tests.peers.freediameter import (  # noqa: F401  (fixtures)
    diameter_stub_factory,
    freediameter_factory,
)
from tests.storage.databases import temporary_pg_database


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """PostgreSQL is a real server: its cases are integration tests, out of the fast
    lane (``pytest -m "not integration"``) like the ones that run real peers."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        fixtures = getattr(item, "fixturenames", ())
        if "postgres_url" in fixtures or (callspec is not None and
                                          "postgresql" in callspec.id.split("-")):
            item.add_marker(pytest.mark.integration)


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
