"""Which database a command talks to: ``--database-url``, ``BEEPCALL_DATABASE_URL``,
``--config FILE`` (its ``database`` section), or the default SQLite file.

The options may be given on the group or on the command (``beepcall blacklist --config F
list`` or ``beepcall blacklist list --config F``); the command's wins.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from sqlalchemy import Engine

from cli.admin.errors import AdminError
from interceptor.config.loader import load_sections
from interceptor.core.section import ConfigError
from interceptor.storage.config import DATABASE_URL_ENV, DatabaseConfig, resolve_database_url
from interceptor.storage.engine import DatabaseURLError, make_engine, redact_url

F = TypeVar("F", bound=Callable[..., Any])

_URL_KEY = "beepcall.admin.database_url"
_CONFIG_KEY = "beepcall.admin.config"


@dataclass(frozen=True)
class DatabaseTarget:
    url: str
    config: DatabaseConfig
    config_path: str | None

    @property
    def label(self) -> str:
        return redact_url(self.url)

    def engine(self) -> Engine:
        try:
            return make_engine(self.url, self.config)
        except DatabaseURLError as error:
            raise AdminError(str(error)) from None


def _remember(key: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is not None:
            ctx.meta[key] = value  # ctx.meta is shared by the whole command chain
        return value
    return callback


def database_options(function: F) -> F:
    """Add ``--database-url`` and ``--config`` to a group or command."""
    function = click.option(
        "--config", "config_path", type=click.Path(dir_okay=False), default=None,
        expose_value=False, callback=_remember(_CONFIG_KEY), is_eager=True,
        help="Interceptor YAML config: its database (and numbering) sections are used.",
    )(function)
    function = click.option(
        "--database-url", type=str, default=None, expose_value=False, metavar="URL",
        callback=_remember(_URL_KEY), is_eager=True,
        help=f"SQLAlchemy URL (sqlite:///file.db, postgresql+psycopg://user@host/db); "
             f"default: ${DATABASE_URL_ENV}, then --config, then sqlite:///beepcall.db.",
    )(function)
    return function


def config_path() -> str | None:
    value = click.get_current_context().meta.get(_CONFIG_KEY)
    return None if value is None else str(value)


def database_target() -> DatabaseTarget:
    """Resolve the database for the running command (errors are one-line AdminErrors)."""
    ctx = click.get_current_context()
    path = config_path()
    try:
        config = (load_sections(path, "database").database if path else None) or \
            DatabaseConfig()
        url = ctx.meta.get(_URL_KEY) or resolve_database_url(config, os.environ)
    except ConfigError as error:
        raise AdminError(f"invalid configuration: {error}") from None
    return DatabaseTarget(str(url), config, path)
