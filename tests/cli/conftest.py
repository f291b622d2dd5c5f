"""Fixtures for the admin CLI tests: a migrated database of each kind, and a runner."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from cli.main import main
from interceptor.storage.engine import make_engine
from tests.storage.databases import migrate, temporary_pg_database

Beepcall = Callable[..., Result]


@pytest.fixture(params=["sqlite", "postgresql"])
def admin_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of each kind (SQLite file, throw-away PostgreSQL database)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'beepcall.db'}"
        migrate(url)
        yield url
        return
    with temporary_pg_database() as url:
        migrate(url)
        yield url


@pytest.fixture
def admin_engine(admin_database_url: str) -> Iterator[Engine]:
    engine = make_engine(admin_database_url)
    yield engine
    engine.dispose()


def invoke(args: Sequence[str], input: str | None = None,
           env: dict[str, str] | None = None) -> Result:
    """``beepcall ARGS`` in-process; BEEPCALL_DATABASE_URL only if ``env`` sets it."""
    environ = {"BEEPCALL_DATABASE_URL": ""}
    environ.update(env or {})
    return CliRunner().invoke(main, list(args), input=input, env=environ,
                              prog_name="beepcall", catch_exceptions=False)


@pytest.fixture
def beepcall(admin_database_url: str) -> Beepcall:
    """Run a command against the test database: beepcall("blacklist", "list")."""
    def run(*args: str, input: str | None = None) -> Result:
        group, *rest = args
        return invoke([group, "--database-url", admin_database_url, *rest], input=input)
    return run


@pytest.fixture(autouse=True)
def _no_database_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BEEPCALL_DATABASE_URL", raising=False)
    assert "BEEPCALL_DATABASE_URL" not in os.environ
