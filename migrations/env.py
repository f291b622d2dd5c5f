"""Alembic environment for the Beep Call interceptor's database.

URL precedence: ``config.attributes["database_url"]`` (set by ``beepcall db``), ``-x url=``,
``BEEPCALL_DATABASE_URL``, ``-x config=FILE`` (its ``database`` section), then the default
``sqlite:///beepcall.db``.
"""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection

from interceptor.config.loader import load_sections
from interceptor.storage.config import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE_URL,
    DatabaseConfig,
    resolve_database_url,
)
from interceptor.storage.engine import make_engine
from interceptor.storage.models import Base
from interceptor.storage.types import UTCDateTime

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    given = config.attributes.get("database_url")
    if given:
        return str(given)
    arguments = context.get_x_argument(as_dictionary=True)
    if arguments.get("url"):
        return arguments["url"]
    from_env = os.environ.get(DATABASE_URL_ENV, "").strip()
    if from_env:
        return from_env
    if arguments.get("config"):
        database = load_sections(arguments["config"], "database").database or DatabaseConfig()
        return resolve_database_url(database, environ={})
    return DEFAULT_DATABASE_URL


def render_item(kind: str, item: Any, autogen_context: Any) -> str | bool:
    """Autogenerate writes the models' UTCDateTime as the plain type it stores."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        compare_type=True,
        render_item=render_item,
        render_as_batch=True,  # SQLite needs table rebuilds for most ALTERs
        literal_binds=connection is None,
    )


def run_migrations_offline() -> None:
    configure(url=database_url())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(database_url())
    try:
        with engine.connect() as connection:
            configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
