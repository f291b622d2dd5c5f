"""``beepcall report --html``: one self-contained page (inline CSS and SVG, no script,
no network) an operator opens in a browser."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Engine

from interceptor.reports.figures import Figures, Report, build_report
from interceptor.reports.query import ReportQuery

COLOURS = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#14b8a6", "#f97316",
           "#64748b", "#ec4899", "#84cc16")


class Series(NamedTuple):
    name: str
    values: Sequence[float]


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series], *,
              percent: bool = False, width: int = 640, height: int = 260) -> str:
    """Grouped vertical bars, one colour per series, with a legend."""
    left, bottom, top = 48, 48, 28
    plot_w, plot_h = width - left - 12, height - bottom - top
    peak = max((v for s in series for v in s.values), default=0.0) or 1.0
    if not percent:
        peak = float(-(-math.ceil(peak) // 4) * 4)  # a multiple of 4: integer ticks
    n = max(len(labels), 1)
    slot = plot_w / n
    bar = max(slot * 0.8 / max(len(series), 1), 1.0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="{_esc(title)}">',
             f'<text x="{left}" y="18" class="t">{_esc(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
             f'y2="{top + plot_h}" stroke="#94a3b8"/>']
    for tick in range(5):
        value = peak * tick / 4
        y = top + plot_h - plot_h * tick / 4
        label = f"{value * 100:.0f}%" if percent else f"{value:,.0f}"
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="a" '
                     f'text-anchor="end">{label}</text>'
                     f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                     f'stroke="#e2e8f0"/>')
    step = max(1, n // 12)
    for index, label in enumerate(labels):
        x0 = left + slot * index + slot * 0.1
        for k, serie in enumerate(series):
            value = serie.values[index] if index < len(serie.values) else 0.0
            h = plot_h * value / peak
            shown = _percent(value) if percent else f"{value:,.0f}"
            parts.append(f'<rect x="{x0 + k * bar:.1f}" y="{top + plot_h - h:.1f}" '
                         f'width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{COLOURS[k % len(COLOURS)]}">'
                         f'<title>{_esc(label)} {_esc(serie.name)}: {shown}</title></rect>')
        if index % step == 0:
            parts.append(f'<text x="{left + slot * (index + 0.5):.1f}" '
                         f'y="{top + plot_h + 16}" class="a" text-anchor="middle">'
                         f'{_esc(label[-11:])}</text>')
    spacing = min(190.0, (width - left) / max(len(series), 1))  # every legend fits
    for k, serie in enumerate(series):
        x = left + k * spacing
        parts.append(f'<rect x="{x}" y="{height - 16}" width="10" height="10" '
                     f'fill="{COLOURS[k % len(COLOURS)]}"/><text x="{x + 14}" '
                     f'y="{height - 7}" class="a">{_esc(serie.name)}</text>')
    if not labels:
        parts.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" class="a" '
                     'text-anchor="middle">no data in this period</text>')
    parts.append("</svg>")
    return "".join(parts)


def pie_chart(title: str, counts: dict[str, int], size: int = 260) -> str:
    """A donut of shares with a legend."""
    total = sum(counts.values())
    cx = cy = size / 2
    radius, inner = size / 2 - 30, size / 4 - 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size + 220}" '
             f'height="{size}" role="img" aria-label="{_esc(title)}">',
             f'<text x="8" y="18" class="t">{_esc(title)}</text>']
    angle = -math.pi / 2
    items = sorted(counts.items(), key=lambda item: -item[1])
    for k, (name, count) in enumerate(items):
        share = count / total if total else 0
        colour = COLOURS[k % len(COLOURS)]
        if share >= 0.9999:
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="{(radius + inner) / 2}" fill="none" '
                         f'stroke="{colour}" stroke-width="{radius - inner}"/>')
        elif share > 0:
            end = angle + share * 2 * math.pi
            large = 1 if share > 0.5 else 0
            x1, y1 = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
            x2, y2 = cx + radius * math.cos(end), cy + radius * math.sin(end)
            x3, y3 = cx + inner * math.cos(end), cy + inner * math.sin(end)
            x4, y4 = cx + inner * math.cos(angle), cy + inner * math.sin(angle)
            parts.append(f'<path d="M{x1:.1f},{y1:.1f} A{radius},{radius} 0 {large} 1 '
                         f'{x2:.1f},{y2:.1f} L{x3:.1f},{y3:.1f} A{inner},{inner} 0 {large} 0 '
                         f'{x4:.1f},{y4:.1f} Z" fill="{colour}"><title>{_esc(name)}: '
                         f'{count}</title></path>')
            angle = end
        parts.append(f'<rect x="{size + 10}" y="{30 + k * 20}" width="12" height="12" '
                     f'fill="{colour}"/><text x="{size + 28}" y="{40 + k * 20}" class="a">'
                     f'{_esc(name)} {count} ({_percent(share)})</text>')
    if not total:
        parts.append(f'<text x="{cx}" y="{cy}" class="a" text-anchor="middle">'
                     'no beeps in this period</text>')
    parts.append("</svg>")
    return "".join(parts)


def delay_histogram(delays_s: Sequence[float], window_min: int = 30) -> tuple[list[str],
                                                                             list[float]]:
    """Callbacks per 2-minute bin up to the window, then "later"."""
    edges = list(range(0, window_min + 1, 2))
    counts = [0.0] * len(edges)
    for delay in delays_s:
        minutes = delay / 60
        index = min(int(minutes // 2), len(edges) - 1)
        counts[index] += 1
    labels = [f"{edge}-{edge + 2}" for edge in edges[:-1]] + [f">{edges[-1]}"]
    return labels, counts


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def _tile(title: str, value: str, note: str = "") -> str:
    return (f'<div class="tile"><div class="v">{_esc(value)}</div>'
            f'<div class="k">{_esc(title)}</div><div class="n">{_esc(note)}</div></div>')


def _rates(report: Report) -> tuple[list[str], list[Series]]:
    groups = report.groups
    labels = [g.group for g in groups]
    return labels, [Series("callback rate (notified)", [g.callback_rate or 0 for g in groups]),
                    Series("rang -> callback", [g.rang_callback_rate or 0 for g in groups])]


def render_page(total: Report, over_time: Report, by_class: Report, by_campaign: Report,
                generated_at: datetime) -> str:
    t: Figures = total.total
    query = total.query
    currency = total.currency
    tiles = "".join((
        _tile("attempts", f"{t.attempts:,}", f"{t.suppressed_total:,} suppressed"),
        _tile("beeps", f"{t.beeped:,}", f"{t.rang:,} rang"),
        _tile("SMS", f"{sum(t.sms.values()):,}", ", ".join(
            f"{k} {v}" for k, v in sorted(t.sms.items())) or "none"),
        _tile("callback rate", _percent(t.callback_rate),
              f"rang -> callback {_percent(t.rang_callback_rate)}"),
        _tile("within 5 / 15 / 30 min", " / ".join(_percent(t.rate_within(m))
                                                    for m in (5, 15, 30))),
        _tile("median time to callback", _duration(t.median_delay_s)),
        _tile("charged minutes", f"{t.charged_minutes:,.1f}",
              f"{t.callbacks} callbacks, {t.topped_up} topped up, {t.after_sms} after SMS"),
        _tile("estimated revenue", f"{t.revenue:,.2f} {currency}".strip()),
        _tile("ad impressions", f"{t.ad_impressions:,}"),
    ))
    time_labels = [g.group for g in over_time.groups]
    charts = [
        bar_chart(f"Attempts and beeps per {over_time.query.by}", time_labels, [
            Series("attempts", [g.attempts for g in over_time.groups]),
            Series("beeps", [g.beeped for g in over_time.groups]),
            Series("rang", [g.rang for g in over_time.groups]),
            Series("callbacks", [g.callbacks for g in over_time.groups])]),
        pie_chart("Beep outcome mix", t.beeps),
        bar_chart("Callback delay distribution (callbacks per 2 minutes after the beep)",
                  *_delay_args(total.delays_s)),
        bar_chart("Callback rate by callee class", *_rates(by_class), percent=True),
        bar_chart("Callback rate by campaign", *_rates(by_campaign), percent=True),
    ]
    breakdown = "".join(
        f"<tr><th>{_esc(title)}</th><td>{_esc(text)}</td></tr>"
        for title, text in (
            ("suppressed by reason", ", ".join(f"{k}: {v}" for k, v in
                                               sorted(t.suppressed.items())) or "none"),
            ("beeps by outcome", ", ".join(f"{k}: {v}" for k, v in
                                           sorted(t.beeps.items())) or "none"),
            ("SMS by status", ", ".join(f"{k}: {v}" for k, v in
                                        sorted(t.sms.items())) or "none")))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Beep Call report {query.since:%Y-%m-%d} .. {query.until:%Y-%m-%d}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #0f172a; background: #f8fafc; }}
h1 {{ font-size: 22px; margin: 0 0 4px; }} .sub {{ color: #475569; margin-bottom: 16px; }}
.tiles {{ display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 20px; }}
.tile {{ background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 12px 16px;
        min-width: 170px; }}
.tile .v {{ font-size: 24px; font-weight: 600; color: #1d4ed8; }}
.tile .k {{ font-size: 13px; color: #334155; }} .tile .n {{ font-size: 12px; color: #64748b; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 16px; }}
.chart {{ background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 8px; }}
svg .t {{ font-size: 14px; font-weight: 600; fill: #0f172a; }}
svg .a {{ font-size: 11px; fill: #475569; }}
table {{ border-collapse: collapse; margin-top: 20px; background: #fff; }}
th, td {{ border: 1px solid #e2e8f0; padding: 6px 10px; text-align: left; font-size: 13px; }}
</style></head><body>
<h1>Beep Call: what the service does and earns</h1>
<div class="sub">{query.since:%Y-%m-%d %H:%M} to {query.until:%Y-%m-%d %H:%M} UTC;
generated {generated_at:%Y-%m-%d %H:%M} UTC. Callback rate: callbacks / notified attempts
(a beep left or an SMS went out); "rang -> callback" counts only beeps that rang.</div>
<div class="tiles">{tiles}</div>
<div class="charts">{"".join(f'<div class="chart">{chart}</div>' for chart in charts)}</div>
<table>{breakdown}</table>
</body></html>
"""


def _delay_args(delays_s: Sequence[float]) -> tuple[list[str], list[Series]]:
    labels, counts = delay_histogram(delays_s)
    return labels, [Series("callbacks", counts)]


def html_report(engine: Engine, since: datetime, until: datetime, currency: str = "",
                now: datetime | None = None) -> str:
    span = (until - since).total_seconds()
    by_time = "hour" if span <= 3 * 86400 else "day"
    total = build_report(engine, ReportQuery(since, until, "total"), currency)
    over_time = build_report(engine, ReportQuery(since, until, by_time), currency)
    by_class = build_report(engine, ReportQuery(since, until, "class"), currency)
    by_campaign = build_report(engine, ReportQuery(since, until, "campaign"), currency)
    return render_page(total, over_time, by_class, by_campaign, now or until)
