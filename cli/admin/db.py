"""``beepcall db``: schema migrations (the same alembic revisions DBAs run directly)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from cli.admin.context import DatabaseTarget, database_options, database_target
from cli.admin.errors import AdminError, DatabaseError, one_line
from interceptor.storage import migrate

if TYPE_CHECKING:
    from alembic.config import Config



@click.group("db")
@database_options
def db() -> None:
    """Database schema: create or upgrade it, show its revision.

    DBAs may use alembic directly instead (alembic.ini at the repository top):
    alembic -x url=... upgrade head.
    """


@db.command("upgrade")
@database_options
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Upgrade the schema to REVISION (default: head), creating it if empty."""
    from alembic import command  # alembic is imported only by the commands that use it
    from alembic.util import CommandError

    target = database_target()
    config = alembic_config(target)
    engine = target.engine()
    try:
        before = current_revision(engine, target)
        command.upgrade(config, revision)
        after = current_revision(engine, target)
    except CommandError as error:
        raise AdminError(f"alembic: {error}") from None
    except SQLAlchemyError as error:
        raise DatabaseError(f"cannot upgrade database {target.label}: "
                            f"{one_line(error)}") from None
    finally:
        engine.dispose()
    if before == after:
        click.echo(f"{target.label}: already at {after or 'base'}")
    else:
        click.echo(f"{target.label}: upgraded {before or 'base'} -> {after}")


@db.command("current")
@database_options
@click.option("--check", is_flag=True, help="Exit 1 unless the schema is at head.")
def current(check: bool) -> None:
    """Show the schema revision of the database, and the newest one available."""
    from alembic.script import ScriptDirectory

    target = database_target()
    head = ScriptDirectory.from_config(alembic_config(target)).get_current_head()
    engine = target.engine()
    try:
        revision = current_revision(engine, target)
    finally:
        engine.dispose()
    if revision == head:
        click.echo(f"{target.label}: {revision} (head)")
        return
    click.echo(f"{target.label}: {revision or 'not initialised'} (head is {head})")
    if check:
        raise AdminError("schema is not at head: run `beepcall db upgrade`")


def alembic_config(target: DatabaseTarget) -> Config:
    try:
        return migrate.alembic_config(target.url)
    except migrate.MigrationsNotFoundError as error:
        raise AdminError(str(error)) from None


def current_revision(engine: Engine, target: DatabaseTarget) -> str | None:
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as connection:
            heads = MigrationContext.configure(connection).get_current_heads()
    except SQLAlchemyError as error:
        raise DatabaseError(f"cannot connect to database {target.label}: "
                            f"{one_line(error)}") from None
    return ", ".join(heads) if heads else None
