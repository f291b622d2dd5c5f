"""From the report's SQL rows to figures (pure functions, no I/O)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from interceptor.core.vocabulary import (
    CALLED_BACK_KINDS,
    RANG_OUTCOMES,
    SMS_SENT_STATUSES,
    AttemptStatus,
    CallbackKind,
    OutcomeKind,
)
from interceptor.reports.query import (
    DELAY_BOUNDS,
    CountRow,
    DelayRow,
    ReportQuery,
    count_rows,
    delay_rows,
)

NOT_A_BEEP = frozenset({OutcomeKind.EXPIRED})  # never left: not a beep


@dataclass
class Figures:
    """One group's figures. Rates are fractions (None when nothing to divide by)."""

    group: str
    attempts: int = 0
    suppressed: dict[str, int] = field(default_factory=dict)  # by reason
    beeps: dict[str, int] = field(default_factory=dict)  # by outcome
    sms: dict[str, int] = field(default_factory=dict)  # by status
    beeped: int = 0  # a beep left (any outcome but "expired")
    rang: int = 0
    notified: int = 0  # beeped, or not beeped but an SMS went out
    callbacks: int = 0  # B called A back (after a beep or SMS-only)
    callbacks_after_rang: int = 0
    after_sms: int = 0
    topped_up: int = 0  # A called B again, successfully
    within: dict[int, int] = field(default_factory=dict)  # minutes -> callbacks
    delays_ms: list[int] = field(default_factory=list, repr=False)
    charged_seconds: int = 0
    revenue: float = 0.0
    ad_impressions: int = 0

    @property
    def suppressed_total(self) -> int:
        return sum(self.suppressed.values())

    @property
    def callback_rate(self) -> float | None:
        return _rate(self.callbacks, self.notified)

    @property
    def rang_callback_rate(self) -> float | None:
        """Only beeps that rang: "rang -> callback"."""
        return _rate(self.callbacks_after_rang, self.rang)

    def rate_within(self, minutes: int) -> float | None:
        return _rate(self.within.get(minutes, 0), self.notified)

    @property
    def median_delay_s(self) -> float | None:
        callbacks = self.delays_ms
        return statistics.median(callbacks) / 1000 if callbacks else None

    @property
    def charged_minutes(self) -> float:
        return self.charged_seconds / 60

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group, "attempts": self.attempts,
            "suppressed": self.suppressed_total, "suppressed_by_reason": dict(self.suppressed),
            "beeps_by_outcome": dict(self.beeps), "sms_by_status": dict(self.sms),
            "beeped": self.beeped, "rang": self.rang, "notified": self.notified,
            "callbacks": self.callbacks, "callbacks_after_rang": self.callbacks_after_rang,
            "after_sms": self.after_sms, "topped_up": self.topped_up,
            "callback_rate": self.callback_rate, "rang_callback_rate": self.rang_callback_rate,
            "callback_rate_5min": self.rate_within(5),
            "callback_rate_15min": self.rate_within(15),
            "callback_rate_30min": self.rate_within(30),
            "median_callback_delay_s": self.median_delay_s,
            "charged_minutes": round(self.charged_minutes, 2),
            "revenue": round(self.revenue, 2), "ad_impressions": self.ad_impressions,
        }


@dataclass
class Report:
    query: ReportQuery
    groups: list[Figures]
    total: Figures
    currency: str = ""
    # Callback delays of the whole period (seconds), for the delay distribution.
    delays_s: list[float] = field(default_factory=list)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _bump(counts: dict[Any, int], key: Any, amount: int) -> None:
    counts[key] = counts.get(key, 0) + amount


def add_row(figures: Figures, row: CountRow) -> None:
    n = row.count
    figures.attempts += n
    if row.status == AttemptStatus.SUPPRESSED:
        _bump(figures.suppressed, row.status_reason or "unknown", n)
    beeped = row.beep_outcome is not None and row.beep_outcome not in NOT_A_BEEP
    if row.beep_outcome is not None:
        _bump(figures.beeps, row.beep_outcome, n)
    if beeped:
        figures.beeped += n
    rang = row.beep_outcome in RANG_OUTCOMES
    if rang:
        figures.rang += n
    if row.sms_status is not None:
        _bump(figures.sms, row.sms_status, n)
    sms_sent = row.sms_status in SMS_SENT_STATUSES
    if beeped or sms_sent:
        figures.notified += n
    if sms_sent and row.in_campaign:
        figures.ad_impressions += n
    kind = row.callback_kind
    if kind in CALLED_BACK_KINDS:
        figures.callbacks += n
        if rang:
            figures.callbacks_after_rang += n
        for bound in DELAY_BOUNDS:
            if row.delay_ms is not None and row.delay_ms <= bound:
                _bump(figures.within, bound // 60_000, n)
    if kind == CallbackKind.AFTER_SMS:
        figures.after_sms += n
    elif kind == CallbackKind.TOPPED_UP:
        figures.topped_up += n
    figures.charged_seconds += row.charged_seconds
    figures.revenue += row.revenue


def aggregate(query: ReportQuery, rows: Iterable[CountRow], delays: Sequence[DelayRow],
              currency: str = "") -> Report:
    groups: dict[str, Figures] = {}
    total = Figures("total")
    for row in rows:
        figures = groups.get(row.group)
        if figures is None:
            figures = groups[row.group] = Figures(row.group)
        add_row(figures, row)
        add_row(total, row)
    for delay in delays:
        if delay.callback_kind not in CALLED_BACK_KINDS:
            continue
        total.delays_ms.append(delay.delay_ms)
        if delay.group in groups:
            groups[delay.group].delays_ms.append(delay.delay_ms)
    ordered = [groups[name] for name in sorted(groups)]
    return Report(query, ordered, total, currency,
                  sorted(delay / 1000 for delay in total.delays_ms))


def build_report(engine: Engine, query: ReportQuery, currency: str = "") -> Report:
    with engine.connect() as connection:
        rows = count_rows(connection, query)
        delays = delay_rows(connection, query)
    return aggregate(query, rows, delays, currency)


def report_since(engine: Engine, since: datetime, until: datetime, by: str = "total",
                 currency: str = "") -> Report:
    return build_report(engine, ReportQuery(since, until, by), currency)
