"""The report as text: a table for people, CSV and JSON for tools."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from interceptor.reports.figures import Figures, Report

_COLUMNS: tuple[tuple[str, str], ...] = (
    ("group", "group"), ("attempts", "attempts"), ("suppressed", "suppr."),
    ("beeped", "beeped"), ("rang", "rang"), ("notified", "notified"),
    ("callbacks", "callbacks"), ("callback_rate", "rate"),
    ("rang_callback_rate", "rang->cb"), ("callback_rate_5min", "<=5m"),
    ("callback_rate_15min", "<=15m"), ("callback_rate_30min", "<=30m"),
    ("median_callback_delay_s", "median"), ("after_sms", "after SMS"),
    ("topped_up", "topped up"), ("charged_minutes", "minutes"), ("revenue", "revenue"),
    ("ad_impressions", "ads"),
)


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key.endswith("rate") or "_rate_" in key:
        return f"{value * 100:.1f}%"
    if key == "median_callback_delay_s":
        return f"{value / 60:.1f}m" if value >= 60 else f"{value:.0f}s"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _rows(report: Report) -> list[Figures]:
    groups = report.groups
    if report.query.by == "total" or not groups:
        return [report.total]
    return [*groups, report.total]


def as_table(report: Report) -> str:
    query = report.query
    lines = [f"Beep Call report {query.since:%Y-%m-%d %H:%M} .. {query.until:%Y-%m-%d %H:%M}"
             f" UTC, by {query.by}" + (f" (revenue in {report.currency})"
                                       if report.currency else "")]
    table = [[title for _, title in _COLUMNS]]
    for figures in _rows(report):
        values = figures.as_dict()
        table.append([_cell(key, values[key]) for key, _ in _COLUMNS])
    widths = [max(len(row[i]) for row in table) for i in range(len(_COLUMNS))]
    for index, row in enumerate(table):
        lines.append("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                               for i, cell in enumerate(row)))
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    total = report.total
    for title, counts in (("suppressed by reason", total.suppressed),
                          ("beeps by outcome", total.beeps), ("SMS by status", total.sms)):
        text = ", ".join(f"{key} {value}" for key, value in sorted(counts.items())) or "none"
        lines.append(f"{title}: {text}")
    return "\n".join(lines) + "\n"


def _flat(figures: Figures) -> dict[str, Any]:
    values = figures.as_dict()
    flat = {key: value for key, value in values.items() if not isinstance(value, dict)}
    for prefix, key in (("suppressed", "suppressed_by_reason"), ("beep", "beeps_by_outcome"),
                        ("sms", "sms_by_status")):
        for name, count in values[key].items():
            flat[f"{prefix}:{name}"] = count
    return flat


def as_csv(report: Report) -> str:
    rows = [_flat(figures) for figures in _rows(report)]
    fields: list[str] = []
    for row in rows:
        fields.extend(key for key in row if key not in fields)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, restval=0, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def as_json(report: Report) -> str:
    query = report.query
    return json.dumps({
        "since": query.since.isoformat(), "until": query.until.isoformat(), "by": query.by,
        "currency": report.currency,
        "groups": [figures.as_dict() for figures in report.groups],
        "total": report.total.as_dict(),
    }, indent=2) + "\n"


RENDERERS = {"table": as_table, "csv": as_csv, "json": as_json}
