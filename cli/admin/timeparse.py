"""Dates, datetimes and durations as operators type them (``2026-12-31``, ``30d``)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``30d``, ``2w``."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30d, 12h, 15m, 90s or 2w")
    amount, unit = int(match.group(1)), match.group(2).lower()
    if amount <= 0:
        raise ValueError(f"{text!r}: a duration must be positive")
    return timedelta(seconds=amount * _UNITS[unit])


def parse_instant(text: str) -> datetime:
    """An ISO date (midnight UTC) or datetime (naive means UTC) as an aware UTC datetime."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), UTC)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date (2026-12-31) or datetime "
                         "(2026-12-31T18:00:00+07:00)") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_expiry(text: str) -> datetime:
    """When an entry stops applying: a date means *through* that day (UTC)."""
    value = parse_instant(text)
    if len(text.strip()) == 10:
        value += timedelta(days=1)
    return value


def parse_since(text: str, now: datetime) -> datetime:
    """An instant, or a duration back from now (``2h``: the last two hours)."""
    if _DURATION.match(text):
        return now - parse_duration(text)
    return parse_instant(text)


def format_instant(value: datetime | None, *, precise: bool = False) -> str:
    """``2026-12-31T17:00:00Z`` (``precise``: with microseconds, if any)."""
    if value is None:
        return ""
    timespec = "auto" if precise else "seconds"
    return value.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
