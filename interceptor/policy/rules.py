"""The policy's rules as pure functions: given the thresholds, the attempt and the time,
what must happen and which counters must agree.

The rules that need no history (class switches, quiet hours) are decided here. The ones
that count (per caller per hour and per day, per pair, per callee per day) come out as
*checks*; :mod:`interceptor.policy.store` passes or refuses them in the database in the
same transaction that claims the attempt, so processes sharing one database never pass
a limit together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from interceptor.core.vocabulary import SuppressionReason
from interceptor.policy.calendar import Period, day_of, hour_of, quiet_until
from interceptor.policy.thresholds import QuietHoursMode, Thresholds


@dataclass(frozen=True)
class CounterCheck:
    """At most ``limit`` notifications for ``subject`` under ``rule`` in ``period``."""

    rule: str  # caller_hour | caller_day | callee_day
    subject: str
    period: Period
    limit: int
    reason: str

    def describe(self, count: int) -> str:
        return f"{self.rule} {self.subject} {self.period.label}: {count}/{self.limit}"


@dataclass(frozen=True)
class PairCheck:
    caller: str
    callee: str
    min_interval: float  # seconds
    reason: str = SuppressionReason.PAIR_INTERVAL

    def earliest_previous(self, now: datetime) -> datetime:
        """A previous beep at or before this instant leaves room for a new one."""
        return now - timedelta(seconds=self.min_interval)


@dataclass(frozen=True)
class Plan:
    """What the policy says for one attempt, before the counters are asked."""

    beep: bool = False
    sms: bool = False
    refusal: str | None = None  # a SuppressionReason: suppress now
    detail: str | None = None
    defer_until: datetime | None = None  # quiet hours in defer mode: wait, then decide
    pair: PairCheck | None = None
    counters: tuple[CounterCheck, ...] = field(default=())


def plan(thresholds: Thresholds, zone: ZoneInfo, *, caller: str, callee: str,
         callee_class: str, now: datetime) -> Plan:
    """The static rules in order: class switches, quiet hours, then the counting checks."""
    beep = _class_flag(thresholds, "beep", callee_class)
    sms = _class_flag(thresholds, "sms", callee_class)
    if not beep and not sms:
        return Plan(refusal=SuppressionReason.CLASS_OFF,
                    detail=f"beeps and SMS off for class {callee_class}")
    window = thresholds.quiet_hours()
    if window is not None:
        ends = quiet_until(now, window, zone)
        if ends is not None:
            detail = f"quiet hours {window} {zone.key}, until {ends:%Y-%m-%dT%H:%MZ}"
            max_delay = thresholds.number("quiet_hours.max_delay")
            if thresholds.text("quiet_hours.mode") == QuietHoursMode.DEFER:
                if max_delay is None or (ends - now).total_seconds() <= max_delay:
                    return Plan(beep=beep, sms=sms, defer_until=ends, detail=detail)
                detail += f"; longer than quiet_hours.max_delay {max_delay:g} s"
            return Plan(refusal=SuppressionReason.QUIET_HOURS, detail=detail)
    pair = None
    interval = thresholds.number("pair.min_interval")
    if interval is not None and interval > 0:
        pair = PairCheck(caller, callee, interval)
    checks = []
    for key, rule, subject, period, reason in (
            ("caller.max_per_hour", "caller_hour", caller, hour_of(now, zone),
             SuppressionReason.CALLER_HOURLY),
            ("caller.max_per_day", "caller_day", caller, day_of(now, zone),
             SuppressionReason.CALLER_DAILY),
            ("callee.max_per_day", "callee_day", callee, day_of(now, zone),
             SuppressionReason.CALLEE_DAILY)):
        limit = thresholds.limit(key)
        if limit is not None:
            checks.append(CounterCheck(rule, subject, period, limit, reason))
    return Plan(beep=beep, sms=sms, pair=pair, counters=tuple(checks))


def _class_flag(thresholds: Thresholds, what: str, callee_class: str) -> bool:
    key = f"{what}.{callee_class}"
    try:
        return thresholds.flag(key)
    except KeyError:
        return False
