"""``beepcall attempts``: the out-of-credit call attempts the interceptor recorded."""

from __future__ import annotations

from typing import Any

import click

from cli.admin.context import config_path, database_options, database_target
from cli.admin.errors import AdminError, database_errors
from cli.admin.numbering import InvalidNumberError, load_normaliser
from cli.admin.output import echo_json, echo_table, jsonable
from cli.admin.timeparse import parse_instant, parse_since
from interceptor.storage.attempt_queries import AttemptFilter, find_attempts, get_attempt
from interceptor.storage.types import utcnow

LIST_COLUMNS = ["id", "occurred_at", "caller_e164", "callee_e164", "callee_class",
                "result_code", "status", "status_reason", "client_peer"]


@click.group("attempts")
@database_options
def attempts() -> None:
    """Recorded out-of-credit call attempts (A called B, the OCS refused: no credit)."""


@attempts.command("list")
@database_options
@click.option("--number", default=None, help="Caller or callee is this number.")
@click.option("--caller", default=None, help="Caller (A) is this number.")
@click.option("--callee", default=None, help="Callee (B) is this number.")
@click.option("--since", default=None, metavar="WHEN",
              help="From this ISO date/datetime (UTC if no offset), or a duration back "
                   "from now: 2h, 7d.")
@click.option("--until", default=None, metavar="WHEN",
              help="Before this ISO date/datetime (UTC if no offset).")
@click.option("--status", default=None,
              help="recorded, suppressed, beeped, failed...")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON array with every column.")
def list_(number: str | None, caller: str | None, callee: str | None, since: str | None,
          until: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """List attempts, newest first."""
    now = utcnow()
    try:
        since_at = parse_since(since, now) if since else None
        until_at = parse_instant(until) if until else None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since/--until") from None
    numbers = {"number": number, "caller": caller, "callee": callee}
    if any(numbers.values()):
        normalise = load_normaliser(config_path())
        for key, value in numbers.items():
            if value:
                try:
                    numbers[key] = normalise(value)
                except InvalidNumberError as error:
                    raise click.BadParameter(str(error), param_hint=f"--{key}") from None
    filters = AttemptFilter(number=numbers["number"], caller=numbers["caller"],
                            callee=numbers["callee"], since=since_at, until=until_at,
                            status=status, limit=limit)
    engine = database_target().engine()
    with database_errors(engine):
        rows = find_attempts(engine, filters)
    if as_json:
        echo_json(rows)
    else:
        echo_table(rows, LIST_COLUMNS)


@attempts.command("show")
@database_options
@click.argument("attempt")
@click.option("--json", "as_json", is_flag=True, help="A JSON object.")
def show(attempt: str, as_json: bool) -> None:
    """Every recorded fact about one ATTEMPT (its attempt_id or numeric id)."""
    engine = database_target().engine()
    with database_errors(engine):
        row = get_attempt(engine, attempt)
    if row is None:
        raise AdminError(f"no attempt {attempt!r}")
    if as_json:
        echo_json(row)
        return
    width = max(len(key) for key in row)
    for key, value in row.items():
        click.echo(f"{key.ljust(width)}  {_text(value)}")


def _text(value: Any) -> str:
    return "-" if value is None else str(jsonable(value))
