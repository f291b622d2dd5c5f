"""The ``database:`` section of the configuration file, and where the URL comes from.

The URL is resolved once, in this order (first match wins):

1. the ``BEEPCALL_DATABASE_URL`` environment variable;
2. ``database.url_file``: a secrets file whose first non-empty line is the URL (keep the
   password there, readable only by the service user, never in the repository);
3. ``database.url`` in the configuration file (no password there, please);
4. :data:`DEFAULT_DATABASE_URL`: ``sqlite:///beepcall.db``, a SQLite file in the working
   directory (the same default as ``alembic upgrade head``).

Example::

    database:
      url_file: /etc/beepcall/database-url     # postgresql+psycopg://beepcall:...@db/beepcall
      threads: 2                               # dedicated thread pool for SQL work
      pool_size: 2
      batch_size: 200
      flush_interval: 0.5                      # seconds
      queue_bound: 10000                       # attempts held in memory before spilling
      spool_dir: var/spool                     # append-only JSON-lines spool (+ lock file)
      blacklist_refresh: 2                     # seconds between blacklist reloads
      portability_refresh: 30                  # seconds between MNP change checks
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from interceptor.core.section import ConfigError, Section

DATABASE_URL_ENV = "BEEPCALL_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///beepcall.db"
DEFAULT_SPOOL_DIR = "var/spool"


@dataclass(frozen=True)
class DatabaseConfig:
    """Where attempts go and how they are written (all durations in seconds)."""

    url: str | None = None
    url_file: str | None = None
    threads: int = 2
    pool_size: int = 2
    max_overflow: int = 2
    connect_timeout: float = 5.0
    statement_timeout: float = 15.0
    batch_size: int = 200
    flush_interval: float = 0.5
    queue_bound: int = 10_000
    spool_dir: str = DEFAULT_SPOOL_DIR
    spool_fsync: bool = True
    retry_max: float = 30.0
    stop_timeout: float = 5.0
    blacklist_refresh: float = 2.0
    portability_refresh: float = 30.0


def parse_database(section: Section) -> DatabaseConfig:
    """Parse the ``database`` section (absent section: all defaults)."""
    defaults = DatabaseConfig()
    config = DatabaseConfig(
        url=section.optional_str("url"),
        url_file=section.optional_str("url_file"),
        threads=section.int("threads", defaults.threads, low=1, high=64),
        pool_size=section.int("pool_size", defaults.pool_size, low=1, high=256),
        max_overflow=section.int("max_overflow", defaults.max_overflow, low=0, high=256),
        connect_timeout=section.float("connect_timeout", defaults.connect_timeout, low=0.1,
                                      high=300.0),
        statement_timeout=section.float("statement_timeout", defaults.statement_timeout,
                                        low=0.1, high=3600.0),
        batch_size=section.int("batch_size", defaults.batch_size, low=1, high=100_000),
        flush_interval=section.float("flush_interval", defaults.flush_interval, low=0.01,
                                     high=600.0),
        queue_bound=section.int("queue_bound", defaults.queue_bound, low=1,
                                high=10_000_000),
        spool_dir=section.str("spool_dir", defaults.spool_dir),
        spool_fsync=section.bool("spool_fsync", defaults.spool_fsync),
        retry_max=section.float("retry_max", defaults.retry_max, low=0.01, high=3600.0),
        stop_timeout=section.float("stop_timeout", defaults.stop_timeout, low=0.0,
                                   high=600.0),
        blacklist_refresh=section.float("blacklist_refresh", defaults.blacklist_refresh,
                                        low=0.1, high=3600.0),
        portability_refresh=section.float("portability_refresh",
                                          defaults.portability_refresh, low=0.1,
                                          high=86400.0),
    )
    if config.url is not None and config.url_file is not None:
        raise ConfigError("set url or url_file, not both", section.at("url_file"))
    if config.queue_bound < config.batch_size:
        raise ConfigError("must be >= batch_size", section.at("queue_bound"))
    section.reject_unknown()
    return config


def resolve_database_url(config: DatabaseConfig | None = None,
                         environ: Mapping[str, str] | None = None) -> str:
    """The URL to use: environment, then ``url_file``, then ``url``, then the default."""
    environ = os.environ if environ is None else environ
    from_env = environ.get(DATABASE_URL_ENV, "").strip()
    if from_env:
        return from_env
    if config is None:
        return DEFAULT_DATABASE_URL
    if config.url_file is not None:
        return read_url_file(config.url_file)
    if config.url is not None:
        return config.url
    return DEFAULT_DATABASE_URL


def read_url_file(path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read database URL file {path}: {error.strerror}",
                          ("database", "url_file")) from None
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    raise ConfigError(f"database URL file {path} is empty", ("database", "url_file"))
