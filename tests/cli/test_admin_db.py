"""``beepcall db`` (alembic underneath), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import invoke
from tests.storage.databases import temporary_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'beepcall.db'}"
        return
    with temporary_pg_database() as url:
        yield url


def _head() -> str:
    from alembic.script import ScriptDirectory

    from tests.storage.databases import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def test_current_then_upgrade_then_current(empty_database_url: str) -> None:
    url = ["--database-url", empty_database_url]
    head = _head()
    before = invoke(["db", "current", *url])
    assert before.exit_code == 0, before.output
    assert before.stdout.endswith(f": not initialised (head is {head})\n")
    assert invoke(["db", "current", "--check", *url]).exit_code == 1

    upgraded = invoke(["db", "upgrade", *url])
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout.endswith(f": upgraded base -> {head}\n")
    assert invoke(["db", "current", *url]).stdout.endswith(f": {head} (head)\n")
    assert invoke(["db", "current", "--check", *url]).exit_code == 0
    again = invoke(["db", "upgrade", *url])
    assert again.stdout.endswith(f": already at {head}\n")

    listed = invoke(["blacklist", "list", *url])
    assert listed.exit_code == 0


def test_unknown_revision(empty_database_url: str) -> None:
    result = invoke(["db", "upgrade", "--database-url", empty_database_url, "9999"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: alembic: ")
