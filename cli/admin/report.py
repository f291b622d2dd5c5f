"""``beepcall report``: what the service did and earned over a period."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from cli.admin.context import config_path, database_options, database_target
from cli.admin.errors import AdminError, database_errors
from cli.admin.timeparse import parse_instant, parse_since
from interceptor.config.loader import load_sections
from interceptor.core.section import ConfigError
from interceptor.reports import GROUPINGS, ReportQuery, build_report
from interceptor.reports.html import html_report
from interceptor.reports.render import RENDERERS
from interceptor.storage.types import utcnow


def _currency() -> str:
    path = config_path()
    if not path:
        return "VND"
    try:
        callbacks = load_sections(path, "callbacks").callbacks
        return callbacks.currency if callbacks is not None else "VND"
    except ConfigError as error:
        raise AdminError(f"invalid configuration: {error}") from None


@click.command("report")
@database_options
@click.option("--since", default="1d", show_default=True, metavar="WHEN",
              help="From this ISO date/datetime (UTC if no offset), or a duration back "
                   "from now: 2h, 7d.")
@click.option("--until", default=None, metavar="WHEN",
              help="Before this ISO date/datetime (default: now).")
@click.option("--by", type=click.Choice(GROUPINGS), default="total", show_default=True,
              help="One row per day, hour, callee class or SMS campaign (and the total).")
@click.option("--format", "fmt", type=click.Choice(sorted(RENDERERS)), default="table",
              show_default=True)
@click.option("--html", "html_file", type=click.Path(dir_okay=False, writable=True),
              default=None, help="Write a self-contained HTML page with charts to FILE.")
def report(since: str, until: str | None, by: str, fmt: str, html_file: str | None) -> None:
    """Attempts, suppressions by reason, beeps by outcome, SMS by status, callback rate
    (overall, within 5/15/30 min, rang -> callback), median time to callback, charged
    minutes, estimated revenue and ad impressions over a period."""
    now = utcnow()
    try:
        since_at = parse_since(since, now)
        until_at = parse_instant(until) if until else now + timedelta(seconds=1)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since/--until") from None
    if until_at <= since_at:
        raise click.BadParameter("--until must be after --since", param_hint="--until")
    currency = _currency()
    engine = database_target().engine()
    with database_errors(engine):
        if html_file:
            page = html_report(engine, since_at, until_at, currency, now=now)
            Path(html_file).write_text(page, encoding="utf-8")
            click.echo(f"report written to {html_file}")
            return
        result = build_report(engine, ReportQuery(since_at, until_at, by), currency)
    click.echo(RENDERERS[fmt](result), nl=False)
