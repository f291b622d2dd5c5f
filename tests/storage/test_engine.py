"""Engines: supported URLs only, passwords never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from interceptor.storage.engine import DatabaseURLError, make_engine, redact_url


def test_redact_url_hides_the_password() -> None:
    assert redact_url("postgresql+psycopg://beep:s3cret@db:5432/beep") == \
        "postgresql+psycopg://beep:***@db:5432/beep"
    assert redact_url("sqlite:///beepcall.db") == "sqlite:///beepcall.db"
    assert redact_url("::not a url::") == "<unparsable database URL>"


@pytest.mark.parametrize(("url", "message"), [
    ("mysql://root:pw@localhost/beep", "unsupported database mysql://root:***@localhost/beep"),
    ("postgresql+psycopg2://beep:pw@db/beep", "use the psycopg 3 driver"),
    ("sqlite+nope:///x.db", "cannot use database URL"),
    ("::", "invalid database URL"),
])
def test_unsupported_urls(url: str, message: str) -> None:
    with pytest.raises(DatabaseURLError, match=message.replace("*", r"\*")):
        make_engine(url)


def test_sqlite_directory_is_created_and_wal_is_on(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'beepcall.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
    assert (tmp_path / "var" / "beepcall.db").exists()


def test_postgres_engine_pings_and_times_out(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    with engine.connect() as connection:
        timeout = connection.exec_driver_sql("SHOW statement_timeout").scalar()
    engine.dispose()
    assert timeout == "15s"
    assert engine.pool._pre_ping
