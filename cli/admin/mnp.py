"""``beepcall mnp``: the mobile number portability table (decides on-net/off-net)."""

from __future__ import annotations

from typing import IO

import click

from cli.admin.context import config_path, database_options, database_target
from cli.admin.csvinput import read_rows, report_errors
from cli.admin.errors import AdminError, database_errors
from cli.admin.numbering import InvalidNumberError, load_normaliser
from cli.admin.output import echo_json
from interceptor.core.vocabulary import PortabilityStatus
from interceptor.storage import portability
from interceptor.storage.portability import PortedItem

STATUSES = [status.value for status in PortabilityStatus]


@click.group("mnp")
@database_options
def mnp() -> None:
    """Mobile number portability: numbers ported in to, or out of, this network."""


@mnp.command("import")
@database_options
@click.argument("source", type=click.File("r", encoding="utf-8-sig"))
@click.option("--replace", is_flag=True,
              help="The file is a full snapshot: numbers not in it are deleted.")
def import_(source: IO[str], replace: bool) -> None:
    """Load a CSV file (- for stdin), all or nothing.

    Header row: number,status[,routing_number][,operator]; status is ported_in or
    ported_out. Every bad row is reported by line number and nothing is written unless
    all rows are good.
    """
    name = getattr(source, "name", "<stdin>")
    normalise = load_normaliser(config_path())
    items: list[PortedItem] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for row in read_rows(source, name, ("number", "status"), ("routing_number", "operator")):
        values = row.values
        if "__error__" in values:
            errors.append(f"line {row.line}: {values['__error__']}")
            continue
        status = values["status"].lower()
        if status not in STATUSES:
            errors.append(f"line {row.line}: status {values['status']!r} is not one of "
                          f"{', '.join(STATUSES)}")
            continue
        try:
            e164 = normalise(values["number"])
        except InvalidNumberError as error:
            errors.append(f"line {row.line}: {error}")
            continue
        if e164 in seen:
            errors.append(f"line {row.line}: {e164} repeats line {seen[e164]}")
            continue
        seen[e164] = row.line
        items.append(PortedItem(e164, status, values.get("routing_number") or None,
                                values.get("operator") or None))
    if errors:
        raise report_errors(name, errors)
    if not items and not replace:
        raise AdminError(f"{name}: no rows to import")
    engine = database_target().engine()
    with database_errors(engine):
        counts = portability.upsert_ported(engine, items, replace=replace)
    mode = " (table replaced)" if replace else ""
    click.echo(f"imported {len(items)} number(s){mode}: {counts.added} added, "
               f"{counts.updated} updated")


@mnp.command("show")
@database_options
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="A JSON object.")
def show(number: str, as_json: bool) -> None:
    """Portability status of NUMBER (exit 1 if it is not in the table)."""
    try:
        e164 = load_normaliser(config_path())(number)
    except InvalidNumberError as error:
        raise click.BadParameter(str(error), param_hint="NUMBER") from None
    engine = database_target().engine()
    with database_errors(engine):
        item = portability.lookup(engine, e164)
    if item is None:
        raise AdminError(f"{e164} is not in the portability table")
    data = {"number": item.e164, "status": item.status,
            "routing_number": item.routing_number, "operator": item.operator}
    if as_json:
        echo_json(data)
    else:
        click.echo(" ".join(f"{key}={value or '-'}" for key, value in data.items()))
