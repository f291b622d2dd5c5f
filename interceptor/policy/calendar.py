"""Time in the operator's zone: which hour and day a beep counts in, and quiet hours.

Counting periods are calendar hours and days of the operator's time zone, so "20 per
day" resets at the operator's midnight, not UTC's. A period is named by its local
start (``2026-11-25`` or ``2026-11-25T22``) and carries the UTC instant it ends, after
which its counter can be deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from interceptor.policy.thresholds import QuietHours


@dataclass(frozen=True)
class Period:
    label: str
    ends_at: datetime  # UTC


def local(at: datetime, zone: ZoneInfo) -> datetime:
    return at.astimezone(zone)


def day_of(at: datetime, zone: ZoneInfo) -> Period:
    here = at.astimezone(zone)
    start = here.replace(hour=0, minute=0, second=0, microsecond=0)
    return Period(start.strftime("%Y-%m-%d"), _next_local(start, days=1, zone=zone))


def hour_of(at: datetime, zone: ZoneInfo) -> Period:
    # Hours are counted in UTC steps (a DST hour is still an hour), labelled locally.
    start_utc = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    here = start_utc.astimezone(zone)
    return Period(here.strftime("%Y-%m-%dT%H") + here.strftime("%z"),
                  start_utc + timedelta(hours=1))


def _next_local(start: datetime, *, days: int, zone: ZoneInfo) -> datetime:
    following = (start.replace(tzinfo=None) + timedelta(days=days)).replace(tzinfo=zone)
    return following.astimezone(UTC)


def quiet_until(at: datetime, window: QuietHours, zone: ZoneInfo) -> datetime | None:
    """If ``at`` falls in the quiet window, the UTC instant the window ends; else None.

    The start is inclusive and the end exclusive; ``end < start`` spans midnight
    (22:00-07:00 covers 23:59 and 06:59 but not 07:00).
    """
    here = at.astimezone(zone)
    now = here.time().replace(tzinfo=None)
    start, end = window.start, window.end
    if start < end:
        inside = start <= now < end
        end_day = here.date()
    else:
        inside = now >= start or now < end
        end_day = here.date() + timedelta(days=1) if now >= start else here.date()
    if not inside:
        return None
    ends = datetime.combine(end_day, end).replace(tzinfo=zone)
    return ends.astimezone(UTC)
