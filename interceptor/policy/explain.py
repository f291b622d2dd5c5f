"""``beepcall policy explain A B``: every rule, in the order the interceptor applies them,
with its verdict for a beep from A to B at a given time and the counters it used.

Read-only: it counts nothing. It uses the same plan and the same counter rows as the
running interceptor, so its answer is the interceptor's, barring what changes between
the question and the next call (and the circuit breakers, which live in the running
process: see ``beepcall status``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from interceptor.core.vocabulary import BlacklistScope, SuppressionReason
from interceptor.numbers import NumberingConfig, PortabilityLookup, classify
from interceptor.policy import store as policy_sql
from interceptor.policy.rules import CounterCheck, plan
from interceptor.policy.thresholds import QuietHoursMode, Thresholds, Value
from interceptor.storage import blacklist as blacklist_sql


@dataclass(frozen=True)
class RuleVerdict:
    rule: str
    allows: bool
    why: str


@dataclass(frozen=True)
class Explanation:
    caller: str
    callee: str
    callee_class: str
    at: datetime
    rules: tuple[RuleVerdict, ...]
    deferred_until: datetime | None = None

    @property
    def decision(self) -> str:
        refusal = next((rule for rule in self.rules if not rule.allows), None)
        if refusal is not None:
            return f"refused by {refusal.rule}"
        if self.deferred_until is not None:
            return f"deferred until {self.deferred_until:%Y-%m-%dT%H:%M:%SZ}"
        return "allowed"


def explain(engine: Engine, thresholds: Thresholds, zone: ZoneInfo,
            numbering: NumberingConfig, caller: str, callee: str, at: datetime,
            portability: PortabilityLookup | None = None) -> Explanation:
    callee_class = classify(callee, numbering, portability).number_class.value
    rules: list[RuleVerdict] = []
    active = blacklist_sql.load_active(engine, at)
    for scope, number, name in ((BlacklistScope.CALLER, caller,
                                 SuppressionReason.BLACKLIST_CALLER),
                                (BlacklistScope.CALLEE, callee,
                                 SuppressionReason.BLACKLIST_CALLEE)):
        key = (scope.value, number)
        if key in active:
            until = active[key]
            rules.append(RuleVerdict(name, False, f"{number} is listed" + (
                f" until {until:%Y-%m-%dT%H:%M:%SZ}" if until else " without expiry")))
        else:
            rules.append(RuleVerdict(name, True, f"{number} is not listed"))
    beep_on = thresholds.flag(f"beep.{callee_class}")
    sms_on = thresholds.flag(f"sms.{callee_class}")
    rules.append(RuleVerdict(
        "class", beep_on or sms_on,
        f"class {callee_class}: beep {'on' if beep_on else 'off'}, "
        f"SMS {'on' if sms_on else 'off'}"))
    planned = plan(thresholds, zone, caller=caller, callee=callee,
                   callee_class=callee_class, now=at)
    window = thresholds.quiet_hours()
    local = at.astimezone(zone)
    # Quiet hours as the interceptor would judge them were the class on.
    class_on = plan(_with(thresholds, {f"beep.{callee_class}": True}), zone, caller=caller,
                    callee=callee, callee_class=callee_class, now=at)
    if window is None:
        rules.append(RuleVerdict("quiet_hours", True, "off"))
    elif class_on.defer_until is not None:
        rules.append(RuleVerdict("quiet_hours", True,
                                 f"{local:%H:%M} {zone.key} is inside {window}: deferred"))
    elif class_on.refusal == SuppressionReason.QUIET_HOURS:
        suppressing = thresholds.text("quiet_hours.mode") == QuietHoursMode.SUPPRESS
        rules.append(RuleVerdict("quiet_hours", False,
                                 f"{local:%H:%M} {zone.key} is inside {window}: suppressed"
                                 + ("" if suppressing
                                    else " (the wait would pass quiet_hours.max_delay)")))
    else:
        rules.append(RuleVerdict("quiet_hours", True,
                                 f"{local:%H:%M} {zone.key} is outside {window}"))
    interval = thresholds.number("pair.min_interval")
    if interval is None or interval <= 0:
        rules.append(RuleVerdict("pair_interval", True, "off"))
    else:
        last = policy_sql.pair_last(engine, caller, callee)
        if last is None:
            rules.append(RuleVerdict("pair_interval", True,
                                     f"no beep {caller}->{callee} on record"))
        else:
            ago = (at - last).total_seconds()
            when = f"{ago:.0f} s ago" if ago >= 0 else \
                f"at {last:%Y-%m-%dT%H:%M:%SZ}, after the time asked"
            rules.append(RuleVerdict(
                "pair_interval", ago >= interval,
                f"last beep {caller}->{callee} {when}, minimum {interval:g} s"))
    checks = {check.rule: check for check in _counter_checks(thresholds, zone, caller,
                                                               callee, callee_class, at)}
    for rule, threshold in (("caller_hour", "caller.max_per_hour"),
                            ("caller_day", "caller.max_per_day"),
                            ("callee_day", "callee.max_per_day")):
        check = checks.get(rule)
        if check is None:
            rules.append(RuleVerdict(rule, True, f"off ({threshold})"))
            continue
        count = policy_sql.counter_value(engine, check)
        rules.append(RuleVerdict(rule, count < check.limit,
                                 f"{count} of {check.limit} used in {check.period.label}"))
    return Explanation(caller, callee, callee_class, at, tuple(rules),
                       planned.defer_until)


def _counter_checks(thresholds: Thresholds, zone: ZoneInfo, caller: str, callee: str,
                    callee_class: str, at: datetime) -> tuple[CounterCheck, ...]:
    # The counting checks do not depend on the class switch or quiet hours: plan them
    # as if both allowed, so every counter is shown even when an earlier rule refuses.
    return plan(_with(thresholds, {"quiet_hours.window": None, f"beep.{callee_class}": True}),
                zone, caller=caller, callee=callee, callee_class=callee_class,
                now=at).counters


def _with(thresholds: Thresholds, changes: dict[str, Value]) -> Thresholds:
    values = dict(thresholds.items())
    values.update(changes)
    return Thresholds(values)
