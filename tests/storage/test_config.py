"""The ``database`` section and where the URL comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from interceptor.core.section import ConfigError, Section
from interceptor.storage.config import (
    DEFAULT_DATABASE_URL,
    DatabaseConfig,
    parse_database,
    resolve_database_url,
)


def parse(raw: object) -> DatabaseConfig:
    return parse_database(Section({"database": raw}).section("database"))


def test_absent_section_gives_the_defaults() -> None:
    assert parse(None) == DatabaseConfig()
    assert DatabaseConfig().blacklist_refresh == 2.0


def test_every_setting_is_read() -> None:
    config = parse({"url": "postgresql+psycopg://beep@db/beep", "threads": 3, "pool_size": 4,
                    "max_overflow": 1, "batch_size": 50, "flush_interval": 0.2,
                    "queue_bound": 500, "spool_dir": "/var/spool/beepcall",
                    "spool_fsync": False, "blacklist_refresh": 5, "stop_timeout": 2,
                    "retry_max": 10, "connect_timeout": 3, "statement_timeout": 4})
    assert config.batch_size == 50
    assert config.flush_interval == 0.2
    assert config.spool_dir == "/var/spool/beepcall"
    assert config.blacklist_refresh == 5.0
    assert config.spool_fsync is False


@pytest.mark.parametrize(("raw", "message"), [
    ({"batch_size": 0}, "database.batch_size: must be 1..100000"),
    ({"batch_size": "ten"}, "database.batch_size: must be an integer"),
    ({"flush_interval": 0}, "database.flush_interval: must be 0.01..600.0"),
    ({"queue_bound": 10, "batch_size": 20}, "database.queue_bound: must be >= batch_size"),
    ({"url": "sqlite:///a.db", "url_file": "/run/secrets/db"},
     "database.url_file: set url or url_file, not both"),
    ({"passwrd": "x"}, "database.passwrd: unknown setting"),
    ("sqlite:///a.db", "database: must be a mapping"),
])
def test_errors_name_the_path(raw: object, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse(raw)
    assert str(error.value) == message


def test_environment_wins_over_the_config(tmp_path: Path) -> None:
    config = DatabaseConfig(url="sqlite:///config.db")
    env = {"BEEPCALL_DATABASE_URL": "postgresql+psycopg://env@db/beep"}
    assert resolve_database_url(config, env) == "postgresql+psycopg://env@db/beep"
    assert resolve_database_url(config, {}) == "sqlite:///config.db"
    assert resolve_database_url(DatabaseConfig(), {}) == DEFAULT_DATABASE_URL
    assert resolve_database_url(None, {}) == DEFAULT_DATABASE_URL


def test_url_file_holds_the_secret(tmp_path: Path) -> None:
    secret = tmp_path / "database-url"
    secret.write_text("# the password lives here, not in the repo\n\n"
                      "postgresql+psycopg://beep:s3cret@db/beep\n")
    config = DatabaseConfig(url_file=str(secret))
    assert resolve_database_url(config, {}) == "postgresql+psycopg://beep:s3cret@db/beep"


@pytest.mark.parametrize("content", [None, "", "# only a comment\n"])
def test_unusable_url_file_is_a_config_error(tmp_path: Path, content: str | None) -> None:
    secret = tmp_path / "database-url"
    if content is not None:
        secret.write_text(content)
    with pytest.raises(ConfigError) as error:
        resolve_database_url(DatabaseConfig(url_file=str(secret)), {})
    assert str(error.value).startswith("database.url_file: ")
