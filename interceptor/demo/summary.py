"""The demo's summary of the figures operators see: a rich table when ``rich`` is
installed, the report's plain table otherwise."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from interceptor.reports import ReportQuery, build_report
from interceptor.reports.figures import Figures
from interceptor.reports.render import as_table


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def summary_rows(total: Figures, currency: str) -> list[tuple[str, str]]:
    median = total.median_delay_s
    return [
        ("attempts (out of credit)", f"{total.attempts}"),
        ("suppressed", ", ".join(f"{k} {v}" for k, v in sorted(total.suppressed.items()))
         or "0"),
        ("beeps by outcome", ", ".join(f"{k} {v}" for k, v in sorted(total.beeps.items()))
         or "none yet"),
        ("SMS by status", ", ".join(f"{k} {v}" for k, v in sorted(total.sms.items()))
         or "none yet"),
        ("callbacks (B called A back)", f"{total.callbacks} of {total.notified} notified"),
        ("callback rate: overall / rang -> callback",
         f"{_percent(total.callback_rate)} / {_percent(total.rang_callback_rate)}"),
        ("within 5 / 15 / 30 min", " / ".join(_percent(total.rate_within(m))
                                              for m in (5, 15, 30))),
        ("median time to callback", "-" if median is None else f"{median:.1f} s"),
        ("topped up (A called B again)", f"{total.topped_up}"),
        ("charged callback minutes", f"{total.charged_minutes:.1f}"),
        ("estimated revenue", f"{total.revenue:,.2f} {currency}"),
        ("ad impressions", f"{total.ad_impressions}"),
    ]


def print_summary(engine: Engine, since: datetime, echo: Callable[[str], None],
                  currency: str, title: str) -> Figures:
    report = build_report(engine, ReportQuery(since, datetime.now(since.tzinfo)
                                              + timedelta(seconds=1)), currency)
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        echo(as_table(report))
        return report.total
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in summary_rows(report.total, currency):
        table.add_row(name, value)
    console: Any = Console()
    console.print(table)
    return report.total
