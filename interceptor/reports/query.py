"""The report's SQL: one GROUP BY over the attempts of a period, and the callback
delays (for the median and the distribution). Works on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, literal, select, text

from interceptor.reports.campaigns import campaign_expression, campaign_label, campaign_labels
from interceptor.storage.models import Attempt

GROUPINGS = ("total", "day", "hour", "class", "campaign")
_FORMATS = {"day": ("%Y-%m-%d", "YYYY-MM-DD"), "hour": ("%Y-%m-%d %H:00", "YYYY-MM-DD HH24:00")}


@dataclass(frozen=True)
class ReportQuery:
    since: datetime
    until: datetime
    by: str = "total"


@dataclass(frozen=True)
class CountRow:
    """Attempts sharing every column below, and their sums."""

    group: str
    status: str
    status_reason: str | None
    beep_outcome: str | None
    sms_status: str | None
    in_campaign: bool
    callback_kind: str | None
    delay_ms: int | None  # the bucket's upper bound: 5, 15, 30 min or beyond (None)
    count: int
    charged_seconds: int
    revenue: float


@dataclass(frozen=True)
class DelayRow:
    group: str
    callback_kind: str
    beep_outcome: str | None
    delay_ms: int


def time_bucket(connection: Connection, by: str) -> Any:
    sqlite_format, postgres_format = _FORMATS[by]
    if connection.dialect.name == "sqlite":
        return func.strftime(sqlite_format, Attempt.occurred_at)
    return func.to_char(func.timezone("UTC", Attempt.occurred_at), postgres_format)


def group_expression(connection: Connection, by: str) -> Any:
    if by in _FORMATS:
        return time_bucket(connection, by)
    if by == "class":
        return Attempt.callee_class
    if by == "campaign":
        return campaign_expression(connection)
    return literal("all")


_MINUTE = 60_000
DELAY_BOUNDS = (5 * _MINUTE, 15 * _MINUTE, 30 * _MINUTE)


def count_rows(connection: Connection, query: ReportQuery) -> list[CountRow]:
    group = group_expression(connection, query.by).label("grp")
    campaign = campaign_expression(connection)
    delay = case(*((Attempt.callback_delay_ms <= bound, bound) for bound in DELAY_BOUNDS),
                 else_=None).label("delay")
    in_campaign = case((campaign.is_not(None), 1), else_=0).label("in_campaign")
    columns = (group, Attempt.status, Attempt.status_reason, Attempt.beep_outcome,
               Attempt.sms_status, in_campaign, Attempt.callback_kind, delay)
    statement = (select(*columns, func.count().label("n"),
                        func.coalesce(func.sum(Attempt.callback_charged_seconds), 0)
                        .label("charged"),
                        func.coalesce(func.sum(Attempt.callback_revenue), 0).label("revenue"))
                 .where(Attempt.occurred_at >= query.since, Attempt.occurred_at < query.until)
                 .group_by(*(text(str(position + 1))  # ordinals: PostgreSQL
                             for position in range(len(columns)))))  # and SQLite alike
    rows = connection.execute(statement).all()
    labels = campaign_labels(connection, (row.grp for row in rows)) \
        if query.by == "campaign" else {}
    return [CountRow(group=_label(query.by, row.grp, labels), status=row.status,
                     status_reason=row.status_reason, beep_outcome=row.beep_outcome,
                     sms_status=row.sms_status, in_campaign=bool(row.in_campaign),
                     callback_kind=row.callback_kind, delay_ms=row.delay, count=int(row.n),
                     charged_seconds=int(row.charged), revenue=float(row.revenue))
            for row in rows]


def delay_rows(connection: Connection, query: ReportQuery) -> list[DelayRow]:
    group = group_expression(connection, query.by).label("grp")
    rows = connection.execute(
        select(group, Attempt.callback_kind, Attempt.beep_outcome, Attempt.callback_delay_ms)
        .where(Attempt.occurred_at >= query.since, Attempt.occurred_at < query.until,
               Attempt.callback_kind.is_not(None), Attempt.callback_delay_ms.is_not(None))
    ).all()
    labels = campaign_labels(connection, (row.grp for row in rows)) \
        if query.by == "campaign" else {}
    return [DelayRow(_label(query.by, row.grp, labels), row.callback_kind, row.beep_outcome,
                     int(row.callback_delay_ms)) for row in rows]


def _label(by: str, value: Any, labels: dict[Any, str]) -> str:
    if by == "campaign":
        return campaign_label(labels, value)
    return "unknown" if value is None else str(value)
