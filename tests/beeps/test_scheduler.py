"""Beep outcomes become row updates; a claim that never became an INVITE because the
process was stopping is given back (status ``recorded``) for the next start."""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock

from interceptor.beeps.scheduler import BeepScheduler
from interceptor.core.vocabulary import OutcomeKind
from interceptor.policy.config import PolicyConfig
from interceptor.policy.service import PolicyService
from interceptor.sip.config import RouteConfig, SipConfig
from interceptor.sip.outcome import BeepOutcome, BeepRequest, CallTimes, not_started
from interceptor.sms.rules import SmsRule


class IdleEmitter:
    queued = 0
    config = SipConfig(routes=tuple(RouteConfig(klass, "127.0.0.1", "ims.test")
                                    for klass in ("on_net", "off_net", "international")))


def _scheduler(emitter: Any = None, sms_rule: Any = None) -> BeepScheduler:
    clock = Clock()
    policy = PolicyService(PolicyConfig(), engine=None, runner=None, clock=clock)  # type: ignore[arg-type]
    return BeepScheduler(emitter or IdleEmitter(), policy, clock, sms_rule=sms_rule)


def _request(attempt_id: str) -> BeepRequest:
    return BeepRequest(attempt_id, "84912000001", "84987000002", "off_net", 0.0)


def test_refused_while_stopping_is_released_for_the_next_start() -> None:
    scheduler = _scheduler()
    scheduler.running = False
    scheduler._finished(not_started(_request("a"), OutcomeKind.REFUSED, "emitter stopping"))
    [row] = scheduler.results.pending
    assert (row.attempt_id, row.status, row.outcome) == ("a", "recorded", None)


def test_outcomes_map_to_beeped_or_failed_with_their_facts() -> None:
    scheduler = _scheduler()
    scheduler.running = True
    rang = BeepOutcome("r", OutcomeKind.RANG, "487 Request Terminated", 487, "+84912000001",
                       "+84987000002", "off_net", "call-1", 1,
                       CallTimes(10.0, 10.1, 10.2, 10.6, 10.7), 0.4)
    busy = BeepOutcome("b", OutcomeKind.BUSY, "486 Busy Here", 486, "+84912000001",
                       "+84987000002", "off_net", "call-2", 1,
                       CallTimes(10.0, 10.1, None, None, 10.2), None)
    refused: Any = not_started(_request("q"), OutcomeKind.REFUSED, "queue full")
    for outcome in (rang, busy, refused):
        scheduler._finished(outcome)
    rows = {row.attempt_id: row for row in scheduler.results.pending}
    assert (rows["r"].status, rows["r"].outcome, rows["r"].ring_time_ms,
            rows["r"].sip_code) == ("beeped", "rang", 400, 487)
    assert rows["r"].rang_at is not None and rows["r"].cancel_sent_at is not None
    assert (rows["b"].status, rows["b"].outcome, rows["b"].reason) == \
        ("failed", "busy", "486 Busy Here")
    assert (rows["q"].status, rows["q"].outcome) == ("failed", "refused")
    assert scheduler.counters.by_outcome == {"rang": 1, "busy": 1, "refused": 1}


def test_the_sms_rule_queues_an_sms_after_the_outcomes_it_wants() -> None:
    """The beep's result row carries sms_status "queued" when the policy allowed an SMS
    and the rule wants one after that outcome (a class without a route counts as not
    beeped); without the policy's approval, never."""
    class Emitter(IdleEmitter):
        config = SipConfig(routes=(
            RouteConfig("off_net", "127.0.0.1", "ims.test"),
            RouteConfig("on_net", "127.0.0.1", "ims.test", enabled=False)))

    rule = SmsRule({"off_net": ("busy",), "on_net": ("not_beeped",), "international": ()})
    scheduler = _scheduler(Emitter(), rule)
    scheduler.running = True
    scheduler._sms_allowed.update({"busy": True, "rang": True, "no-route": True,
                                   "abroad": True, "busy-no-sms": False})
    times = CallTimes(10.0, 10.1, None, None, 10.2)

    def outcome(attempt_id: str, kind: OutcomeKind, callee_class: str) -> BeepOutcome:
        return BeepOutcome(attempt_id, kind, "", None, "+84912000001", "+84987000002",
                           callee_class, None, 1, times, None)

    scheduler._finished(outcome("busy", OutcomeKind.BUSY, "off_net"))
    scheduler._finished(outcome("rang", OutcomeKind.RANG, "off_net"))
    scheduler._finished(outcome("no-route", OutcomeKind.REFUSED, "on_net"))
    scheduler._finished(outcome("abroad", OutcomeKind.BUSY, "international"))
    scheduler._finished(outcome("busy-no-sms", OutcomeKind.BUSY, "off_net"))
    assert {row.attempt_id: row.sms_status for row in scheduler.results.pending} == {
        "busy": "queued", "rang": None, "no-route": "queued", "abroad": None,
        "busy-no-sms": None}


def test_thresholds_set_the_emitters_rate_concurrency_and_age_at_runtime() -> None:
    from interceptor.policy.thresholds import SPECS, Thresholds
    from interceptor.sip.emitter import BeepEmitter

    emitter = BeepEmitter(IdleEmitter.config, Clock())  # type: ignore[arg-type]
    scheduler = _scheduler(emitter)
    values = {key: spec.default for key, spec in SPECS.items()}
    values.update({"global.max_beeps_per_second": 7.0, "global.max_concurrent_beeps": 3,
                   "global.max_attempt_age": 90.0})
    scheduler.policy.thresholds = Thresholds(values)
    scheduler.apply(scheduler.policy.thresholds)
    limits = emitter.config.limits
    assert (limits.max_per_second, limits.max_concurrent, limits.max_age) == (7.0, 3, 90.0)
    assert emitter.admission.bucket.rate == 7.0 and emitter.admission.limits == limits
    assert scheduler.batch == 3
