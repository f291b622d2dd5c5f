"""Today's figures for ``beepcall status``: the report's totals since midnight, refreshed
from SQL every so often in the side-work process (never per event)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from twisted.internet import task

from interceptor.core.reactor import Clock
from interceptor.core.runner import Runner
from interceptor.reports.figures import Figures, Report, build_report
from interceptor.reports.query import ReportQuery

logger = logging.getLogger(__name__)


@dataclass
class DaySummary:
    """One day's totals, as ``beepcall status`` shows them."""

    since: str = ""
    attempts: int = 0
    suppressed: int = 0
    beeped: int = 0
    rang: int = 0
    sms_by_status: dict[str, int] = field(default_factory=dict)
    callbacks: int = 0
    callback_rate: float | None = None
    rang_callback_rate: float | None = None
    topped_up: int = 0
    charged_minutes: float = 0.0
    revenue: float = 0.0

    @classmethod
    def of(cls, figures: Figures, since: datetime) -> DaySummary:
        return cls(since=since.isoformat(), attempts=figures.attempts,
                   suppressed=figures.suppressed_total, beeped=figures.beeped,
                   rang=figures.rang, sms_by_status=dict(figures.sms),
                   callbacks=figures.callbacks, callback_rate=figures.callback_rate,
                   rang_callback_rate=figures.rang_callback_rate,
                   topped_up=figures.topped_up,
                   charged_minutes=round(figures.charged_minutes, 2),
                   revenue=round(figures.revenue, 2))


class TodayFigures:
    """Keeps :attr:`summary` fresh: every ``interval`` seconds, one report query."""

    def __init__(self, engine: Engine, runner: Runner, clock: Clock,
                 interval: float) -> None:
        self._engine = engine
        self._runner = runner
        self._clock = clock
        self._interval = interval
        self.summary: DaySummary | None = None
        self._loop = task.LoopingCall(self.refresh)
        self._loop.clock = clock

    def start(self) -> None:
        self._loop.start(self._interval, now=True)  # its Deferred fires at stop

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def refresh(self) -> None:
        now = datetime.fromtimestamp(self._clock.seconds(), UTC)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        query = ReportQuery(midnight, now + timedelta(seconds=1))
        job = self._runner.run(build_report, self._engine, query)

        def done(report: Report) -> None:
            self.summary = DaySummary.of(report.total, midnight)

        def failed(failure: Any) -> None:
            logger.debug("today's figures not refreshed: %s", failure.getErrorMessage())

        job.addCallbacks(done, failed)
