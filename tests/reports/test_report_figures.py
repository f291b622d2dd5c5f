"""Report figures against hand-counted fixtures, on SQLite and PostgreSQL, through the
query functions and through ``beepcall report``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from cli.main import main
from interceptor.reports import ReportQuery, build_report
from interceptor.storage.engine import make_engine
from interceptor.storage.migrate import upgrade
from tests.reports.fixtures import SINCE, UNTIL, add_campaigns, load


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = make_engine(database_url)
    load(engine)
    yield engine
    engine.dispose()


def test_total_figures(engine: Engine) -> None:
    total = build_report(engine, ReportQuery(SINCE, UNTIL)).total
    assert total.attempts == 9
    assert total.suppressed == {"blacklist:caller": 1, "blacklist:callee": 1}
    assert total.beeps == {"rang": 3, "busy": 1, "answered": 1, "expired": 1,
                           "no_answer": 1}
    assert total.sms == {"delivered": 1, "submitted": 1}
    assert (total.beeped, total.rang, total.notified) == (6, 4, 6)
    assert (total.callbacks, total.callbacks_after_rang) == (3, 2)
    assert (total.after_sms, total.topped_up) == (1, 1)
    assert total.callback_rate == pytest.approx(3 / 6)
    assert total.rang_callback_rate == pytest.approx(2 / 4)
    assert [total.rate_within(m) for m in (5, 15, 30)] == pytest.approx([1 / 6, 2 / 6, 3 / 6])
    assert total.median_delay_s == 600
    assert total.charged_seconds == 510 and total.charged_minutes == 8.5
    assert total.revenue == pytest.approx(290.0)
    assert total.ad_impressions == 0  # no campaign column yet (issue 6 adds it)


def test_by_day_class_and_hour(engine: Engine) -> None:
    days = {g.group: g for g in build_report(engine, ReportQuery(SINCE, UNTIL, "day")).groups}
    assert set(days) == {"2026-11-20", "2026-11-21"}
    first, second = days["2026-11-20"], days["2026-11-21"]
    assert (first.attempts, first.notified, first.callbacks, first.rang) == (4, 3, 2, 2)
    assert (second.attempts, second.notified, second.callbacks, second.topped_up) == \
        (5, 3, 1, 1)
    assert first.callback_rate == pytest.approx(2 / 3)
    assert second.median_delay_s == 1500
    classes = {g.group: g for g in
               build_report(engine, ReportQuery(SINCE, UNTIL, "class")).groups}
    assert {k: (g.attempts, g.notified, g.callbacks) for k, g in classes.items()} == {
        "on_net": (5, 3, 2), "off_net": (3, 2, 1), "international": (1, 1, 0)}
    hours = {g.group: g.attempts for g in
             build_report(engine, ReportQuery(SINCE, UNTIL, "hour")).groups}
    assert hours["2026-11-21 09:00"] == 3 and hours["2026-11-20 10:00"] == 2
    assert sum(hours.values()) == 9


def test_by_campaign_once_sms_campaigns_exist(engine: Engine) -> None:
    add_campaigns(engine)
    report = build_report(engine, ReportQuery(SINCE, UNTIL, "campaign"))
    groups = {g.group: g for g in report.groups}
    assert {k: g.attempts for k, g in groups.items()} == {"none": 7, "tet-promo": 1,
                                                          "campaign 8": 1}
    assert groups["tet-promo"].after_sms == 1
    assert report.total.ad_impressions == 2


def test_cli_formats(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    period = ["--database-url", url, "--since", "2026-11-20", "--until", "2026-11-22"]
    result = runner.invoke(main, ["report", *period, "--by", "day", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert [g["group"] for g in document["groups"]] == ["2026-11-20", "2026-11-21"]
    assert document["total"]["callback_rate_30min"] == pytest.approx(0.5)
    assert document["total"]["charged_minutes"] == 8.5
    result = runner.invoke(main, ["report", *period, "--by", "class", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = {row["group"]: row for row in csv.DictReader(io.StringIO(result.output))}
    assert rows["total"]["revenue"] == "290.0" and rows["on_net"]["callbacks"] == "2"
    assert rows["total"]["suppressed:blacklist:caller"] == "1"
    result = runner.invoke(main, ["report", *period])
    assert result.exit_code == 0, result.output
    assert "50.0%" in result.output and "beeps by outcome: answered 1, busy 1" in result.output
    result = runner.invoke(main, ["report", *period[:2], "--since", "tomorrow"])
    assert result.exit_code == 2
