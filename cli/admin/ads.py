"""``beepcall ads``: the advertisements appended to beep SMS."""

from __future__ import annotations

from datetime import timedelta

import click

from cli.admin.context import database_options, database_target
from cli.admin.errors import AdminError, database_errors
from cli.admin.output import echo_json, echo_table
from cli.admin.timeparse import format_instant, parse_expiry, parse_instant
from interceptor.core.vocabulary import CalleeClass, CampaignStatus
from interceptor.sms import ad_store as store
from interceptor.sms import gsm7
from interceptor.storage.types import utcnow

COLUMNS = ("name", "status", "weight", "classes", "daily_cap", "starts_at", "ends_at",
           "impressions", "delivered", "text")


@click.group("ads")
@database_options
def ads() -> None:
    """Advertisement campaigns appended to the beep SMS: each SMS gets one eligible
    campaign (active, within its dates, targeting B's class, under its daily cap),
    chosen at random by weight, if the whole text still fits the part budget.

    A running interceptor picks changes up within ``sms.ads.refresh_s`` seconds.
    """


def _classes(value: str | None) -> str:
    if not value:
        return ""
    names = [name.strip() for name in value.split(",") if name.strip()]
    for name in names:
        if name not in tuple(CalleeClass):
            raise click.BadParameter(f"{name!r}: must be among {', '.join(CalleeClass)}",
                                     param_hint="--classes")
    return ",".join(names)


@ads.command("add")
@database_options
@click.argument("name")
@click.option("--text", required=True, help="The advertisement (appended after the "
              "template's separator).")
@click.option("--weight", type=click.IntRange(1, 1_000_000), default=1, show_default=True,
              help="Relative share among the eligible campaigns.")
@click.option("--starts", default=None, metavar="DATE", help="From (ISO date or datetime).")
@click.option("--ends", default=None, metavar="DATE",
              help="Last day (2026-12-31, through that day UTC) or an ISO datetime.")
@click.option("--classes", default=None, metavar="LIST",
              help="Callee classes targeted, comma-separated (default: all): "
                   + ", ".join(CalleeClass))
@click.option("--daily-cap", type=click.IntRange(1, None), default=None,
              help="At most this many SMS per day carry it.")
def add(name: str, text: str, weight: int, starts: str | None, ends: str | None,
        classes: str | None, daily_cap: int | None) -> None:
    """Add campaign NAME (active at once, unless --starts is later)."""
    if len(name) > 64 or not name.strip():
        raise click.BadParameter("1 to 64 characters", param_hint="NAME")
    if not text.strip():
        raise click.BadParameter("must not be empty", param_hint="--text")
    try:
        starts_at = parse_instant(starts) if starts else None
        ends_at = parse_expiry(ends) if ends else None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--starts/--ends") from None
    if starts_at and ends_at and ends_at <= starts_at:
        raise click.BadParameter("ends before it starts", param_hint="--ends")
    engine = database_target().engine()
    with database_errors(engine):
        try:
            store.add_campaign(engine, name=name, text=text, weight=weight,
                               starts_at=starts_at, ends_at=ends_at,
                               classes=_classes(classes), daily_cap=daily_cap)
        except store.CampaignExistsError as error:
            raise AdminError(str(error)) from None
    encoded = gsm7.encode(text)
    coding = "GSM 7-bit" if encoded.data_coding == 0 else "UCS-2"
    click.echo(f"added: {name} (weight {weight}; {coding}, {encoded.size} characters)")


@ads.command("list")
@database_options
@click.option("--all", "include_removed", is_flag=True, help="Include removed campaigns.")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
def list_(include_removed: bool, as_json: bool) -> None:
    """Campaigns with their counters."""
    engine = database_target().engine()
    with database_errors(engine):
        rows = store.campaigns(engine, include_removed)
    data = [{column: getattr(row, column) for column in COLUMNS} for row in rows]
    if as_json:
        echo_json(data)
    else:
        echo_table(data, COLUMNS)


def _set(name: str, status: CampaignStatus, verb: str) -> None:
    engine = database_target().engine()
    with database_errors(engine):
        if not store.set_status(engine, name, status):
            raise AdminError(f"no campaign named {name!r}")
    click.echo(f"{verb}: {name}")


@ads.command("pause")
@database_options
@click.argument("name")
def pause(name: str) -> None:
    """Stop using campaign NAME (until resumed)."""
    _set(name, CampaignStatus.PAUSED, "paused")


@ads.command("resume")
@database_options
@click.argument("name")
def resume(name: str) -> None:
    """Use a paused campaign NAME again."""
    _set(name, CampaignStatus.ACTIVE, "resumed")


@ads.command("remove")
@database_options
@click.argument("name")
def remove(name: str) -> None:
    """Retire campaign NAME for good (its counters are kept; `list --all` shows it)."""
    _set(name, CampaignStatus.REMOVED, "removed")


@ads.command("stats")
@database_options
@click.option("--days", type=click.IntRange(1, 3660), default=7, show_default=True,
              help="The recent window, in days (today included).")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
def stats(days: int, as_json: bool) -> None:
    """Impressions (SMS submitted with the ad) and deliveries (delivery receipts) per
    campaign: in total and over the last DAYS days."""
    engine = database_target().engine()
    since = (utcnow() - timedelta(days=days - 1)).date()
    with database_errors(engine):
        rows = store.campaigns(engine, include_removed=True)
        recent = store.daily_counts(engine, since)
    data = []
    for row in rows:
        shown, delivered = recent.get(row.id, (0, 0))
        data.append({
            "name": row.name, "status": row.status, "impressions": row.impressions,
            "delivered": row.delivered,
            "delivery_rate": None if not row.impressions
            else f"{100.0 * row.delivered / row.impressions:.1f}%",
            f"impressions_{days}d": shown, f"delivered_{days}d": delivered,
            "created_at": format_instant(row.created_at)})
    if as_json:
        echo_json(data)
    else:
        echo_table(data, list(data[0]) if data else ["name"])
