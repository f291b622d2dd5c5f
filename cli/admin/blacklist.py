"""``beepcall blacklist``: numbers the service must leave alone."""

from __future__ import annotations

import csv
import getpass
from datetime import datetime
from typing import IO, Any

import click

from cli.admin.context import config_path, database_options, database_target
from cli.admin.csvinput import read_rows, report_errors
from cli.admin.errors import AdminError, database_errors
from cli.admin.numbering import InvalidNumberError, Normaliser, load_normaliser
from cli.admin.output import echo_json, echo_table
from cli.admin.timeparse import format_instant, parse_duration, parse_expiry, parse_instant
from interceptor.core.vocabulary import BlacklistScope
from interceptor.storage import blacklist as store
from interceptor.storage.blacklist import BlacklistItem
from interceptor.storage.types import utcnow

SCOPES = [scope.value for scope in BlacklistScope]
CSV_COLUMNS = ("number", "scope", "reason", "expires_at", "added_by", "added_at")
SCOPE_HELP = "caller: never beep on A's behalf; callee: B opted out of beeps."


def default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@click.group("blacklist")
@database_options
def blacklist() -> None:
    """Numbers never to beep for (caller) or never to beep (callee).

    A running interceptor picks changes up within a few seconds
    (database.blacklist_refresh).
    """


@blacklist.command("add")
@database_options
@click.argument("number")
@click.option("--scope", type=click.Choice(SCOPES), required=True, help=SCOPE_HELP)
@click.option("--reason", default=None, help="Why (free text, kept for the audit trail).")
@click.option("--expires", "expires", default=None, metavar="DATE",
              help="Last day (2026-12-31, through that day UTC) or an ISO datetime.")
@click.option("--for", "duration", default=None, metavar="DURATION",
              help="Lasts this long from now: 30d, 12h, 2w...")
@click.option("--by", "added_by", default=None, help="Who adds it (default: your OS user).")
def add(number: str, scope: str, reason: str | None, expires: str | None,
        duration: str | None, added_by: str | None) -> None:
    """Add NUMBER (or update its reason/expiry if already there)."""
    if expires is not None and duration is not None:
        raise click.UsageError("give --expires or --for, not both")
    now = utcnow()
    try:
        expires_at = (parse_expiry(expires) if expires is not None
                      else now + parse_duration(duration) if duration is not None else None)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--expires/--for") from None
    if expires_at is not None and expires_at <= now:
        raise click.BadParameter(f"{format_instant(expires_at)} is in the past",
                                 param_hint="--expires")
    e164 = _normalise(load_normaliser(config_path()), number)
    item = BlacklistItem(e164, scope, reason or None, expires_at, added_by or default_user())
    target = database_target()
    engine = target.engine()
    with database_errors(engine):
        counts = store.upsert(engine, [item])
    verb = "added" if counts.added else "updated"
    until = f" until {format_instant(expires_at)}" if expires_at else ""
    click.echo(f"{verb}: {e164} ({scope}){until}")


@blacklist.command("remove")
@database_options
@click.argument("number")
@click.option("--scope", type=click.Choice(SCOPES), default=None,
              help="Only this scope (default: both).")
def remove(number: str, scope: str | None) -> None:
    """Remove NUMBER from the blacklist (exit 1 if it was not there)."""
    e164 = _normalise(load_normaliser(config_path()), number)
    engine = database_target().engine()
    with database_errors(engine):
        removed = store.remove(engine, e164, scope)
    if not removed:
        where = f" ({scope})" if scope else ""
        raise AdminError(f"{e164}{where} is not in the blacklist")
    click.echo(f"removed: {e164} ({removed} entr{'y' if removed == 1 else 'ies'})")


@blacklist.command("list")
@database_options
@click.option("--scope", type=click.Choice(SCOPES), default=None, help="Only this scope.")
@click.option("--number", default=None, help="Only this number.")
@click.option("--all", "include_expired", is_flag=True, help="Include expired entries.")
@click.option("--json", "as_json", is_flag=True, help="JSON array instead of a table.")
def list_(scope: str | None, number: str | None, include_expired: bool,
          as_json: bool) -> None:
    """Show the blacklist (active entries unless --all)."""
    e164 = _normalise(load_normaliser(config_path()), number) if number else None
    engine = database_target().engine()
    with database_errors(engine):
        items = store.entries(engine, scope=scope, number=e164,
                              include_expired=include_expired)
    rows = [_as_dict(item) for item in items]
    if as_json:
        echo_json(rows)
    else:
        echo_table(rows, ["number", "scope", "expires_at", "added_by", "added_at", "reason"])


@blacklist.command("export")
@database_options
@click.argument("output", type=click.File("w", encoding="utf-8", lazy=True), default="-")
@click.option("--all", "include_expired", is_flag=True, help="Include expired entries.")
def export(output: IO[str], include_expired: bool) -> None:
    """Write the blacklist as CSV to OUTPUT (default stdout), re-importable as is."""
    engine = database_target().engine()
    with database_errors(engine):
        items = store.entries(engine, include_expired=include_expired)
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        writer.writerow([item.number, item.scope, item.reason or "",
                         format_instant(item.expires_at, precise=True), item.added_by,
                         format_instant(item.added_at, precise=True)])
    if output is not click.get_text_stream("stdout"):
        click.echo(f"exported {len(items)} entr{'y' if len(items) == 1 else 'ies'}", err=True)


@blacklist.command("import")
@database_options
@click.argument("source", type=click.File("r", encoding="utf-8-sig"))
@click.option("--by", "added_by", default=None,
              help="Who adds the rows without an added_by column (default: your OS user).")
def import_(source: IO[str], added_by: str | None) -> None:
    """Add or update entries from a CSV file (- for stdin), all or nothing.

    Header row: number,scope,reason,expires_at (reason, expires_at optional; added_by and
    added_at, as written by export, also accepted). expires_at is empty (never), a date
    (through that day, UTC) or an ISO datetime. Every bad row is reported by line number
    and nothing is written unless all rows are good.
    """
    name = getattr(source, "name", "<stdin>")
    normalise = load_normaliser(config_path())
    by = added_by or default_user()
    now = utcnow()
    items: list[BlacklistItem] = []
    errors: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for row in read_rows(source, name, ("number", "scope"), CSV_COLUMNS[2:]):
        try:
            item = _item_from_row(row.values, normalise, by, now)
        except ValueError as error:
            errors.append(f"line {row.line}: {error}")
            continue
        if item.key in seen:
            errors.append(f"line {row.line}: {item.number} ({item.scope}) repeats "
                          f"line {seen[item.key]}")
            continue
        seen[item.key] = row.line
        items.append(item)
    if errors:
        raise report_errors(name, errors)
    if not items:
        raise AdminError(f"{name}: no rows to import")
    engine = database_target().engine()
    with database_errors(engine):
        counts = store.upsert(engine, items)
    click.echo(f"imported {len(items)} row(s): {counts.added} added, "
               f"{counts.updated} updated")


def _item_from_row(values: dict[str, str], normalise: Normaliser, by: str,
                   now: datetime) -> BlacklistItem:
    if "__error__" in values:
        raise ValueError(values["__error__"])
    scope = values["scope"].lower()
    if scope not in SCOPES:
        raise ValueError(f"scope {values['scope']!r} is not one of {', '.join(SCOPES)}")
    e164 = normalise(values["number"])
    expires_at = parse_expiry(values["expires_at"]) if values.get("expires_at") else None
    if expires_at is not None and expires_at <= now:
        raise ValueError(f"expires_at {values['expires_at']!r} is in the past")
    added_at = parse_instant(values["added_at"]) if values.get("added_at") else None
    return BlacklistItem(e164, scope, values.get("reason") or None, expires_at,
                         values.get("added_by") or by, added_at)


def _normalise(normalise: Normaliser, number: str) -> str:
    try:
        return normalise(number)
    except InvalidNumberError as error:
        raise click.BadParameter(str(error), param_hint="NUMBER") from None


def _as_dict(item: BlacklistItem) -> dict[str, Any]:
    return {"number": item.number, "scope": item.scope, "reason": item.reason,
            "expires_at": item.expires_at, "added_by": item.added_by,
            "added_at": item.added_at}
