"""Fixtures shared across the test packages: throw-away databases of each kind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
