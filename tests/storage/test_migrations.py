"""The alembic environment: round trips, and models and migrations agree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from interceptor.storage.engine import make_engine
from interceptor.storage.models import Base
from tests.storage.databases import ALEMBIC_INI, alembic_config

TABLES = {"attempts", "blacklist", "number_portability", "thresholds", "threshold_audit",
          "policy_counters", "policy_pairs", "callback_watches", "ad_campaigns",
          "ad_campaign_daily"}


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def schema_differences(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "head")
    assert tables(database_url) == TABLES
    command.downgrade(config, "base")
    assert tables(database_url) == set()
    command.upgrade(config, "head")
    assert tables(database_url) == TABLES


def test_models_and_migrations_agree(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")
    assert schema_differences(database_url) == []


def test_models_would_be_noticed_if_they_drifted(database_url: str) -> None:
    """The comparison is not vacuous: a schema from the models minus one index differs."""
    command.upgrade(alembic_config(database_url), "head")
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX ix_attempts_session_id")
    engine.dispose()
    assert schema_differences(database_url) != []


def alembic_cli(*args: str, cwd: Path, env: dict[str, str] | None = None
                ) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items()
               if key != "BEEPCALL_DATABASE_URL"}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "alembic", "-c", str(ALEMBIC_INI), *args],
                          cwd=cwd, env=environ, capture_output=True, text=True, timeout=120)


@pytest.mark.integration  # runs the alembic command
def test_plain_alembic_defaults_to_the_apps_sqlite_file(tmp_path: Path) -> None:
    result = alembic_cli("upgrade", "head", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert tables(f"sqlite:///{tmp_path / 'beepcall.db'}") == TABLES


@pytest.mark.integration  # runs the alembic command
def test_plain_alembic_takes_the_url_from_env_x_url_or_config(tmp_path: Path) -> None:
    from_env = tmp_path / "env.db"
    result = alembic_cli("upgrade", "head", cwd=tmp_path,
                         env={"BEEPCALL_DATABASE_URL": f"sqlite:///{from_env}"})
    assert result.returncode == 0, result.stderr
    assert tables(f"sqlite:///{from_env}") == TABLES

    from_x = tmp_path / "x.db"
    result = alembic_cli("-x", f"url=sqlite:///{from_x}", "upgrade", "head", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert tables(f"sqlite:///{from_x}") == TABLES

    from_config = tmp_path / "config.db"
    secret = tmp_path / "database-url"
    secret.write_text(f"sqlite:///{from_config}\n")
    config = tmp_path / "interceptor.yaml"
    config.write_text(f"database:\n  url_file: {secret}\n")
    result = alembic_cli("-x", f"config={config}", "upgrade", "head", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert tables(f"sqlite:///{from_config}") == TABLES
    assert not (tmp_path / "beepcall.db").exists()
