"""Exit codes and one-line error messages (never a traceback, never a password)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import SQLAlchemyError

from interceptor.storage.errors import describe

EXIT_BAD_INPUT = 1  # bad value or file, row errors, not found (click usage errors are 2)
EXIT_DATABASE = 3  # database unreachable, not migrated, or refused the operation

REQUIRED_TABLES = ("attempts", "blacklist", "number_portability", "thresholds",
                   "policy_counters")


class AdminError(click.ClickException):
    """A user-facing failure: ``Error: <message>`` on stderr and a non-zero exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class DatabaseError(AdminError):
    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_DATABASE)


@contextmanager
def database_errors(engine: Engine) -> Iterator[None]:
    """Turn SQLAlchemy errors into one line naming the (password-free) URL."""
    try:
        yield
    except SQLAlchemyError as error:
        raise DatabaseError(diagnose(engine, error)) from None


def diagnose(engine: Engine, error: SQLAlchemyError) -> str:
    url = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as connection:
            missing = [name for name in REQUIRED_TABLES
                       if not inspect(connection).has_table(name)]
    except SQLAlchemyError as connect_error:
        return f"cannot connect to database {url}: {one_line(connect_error)}"
    if missing:
        return (f"database {url} is not initialised (missing {', '.join(missing)}): "
                "run `beepcall db upgrade`")
    return f"database {url}: {one_line(error)}"


def one_line(error: BaseException) -> str:
    return describe(error)
