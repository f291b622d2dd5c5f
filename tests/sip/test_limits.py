"""Admission (rate, concurrency, queue, expiry), retries and stopping, on a fake clock."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet import task

from interceptor.core.ratelimit import TokenBucket
from interceptor.core.vocabulary import OutcomeKind
from interceptor.sip.config import BeepLimits
from interceptor.sip.limits import Admission
from tests.sip.fakes import Harness, config, outcome_of


def test_token_bucket_rate_and_burst() -> None:
    clock = task.Clock()
    bucket = TokenBucket(rate=10.0, burst=3, clock=clock)
    assert [bucket.try_take() for _ in range(4)] == [True, True, True, False]
    assert bucket.wait_time() == pytest.approx(0.1)
    clock.advance(0.099)
    assert not bucket.try_take()
    clock.advance(0.001)
    assert bucket.try_take()
    clock.advance(10)  # refills to the burst, no further
    assert [bucket.try_take() for _ in range(4)] == [True, True, True, False]


class _Recorder:
    def __init__(self, limits: BeepLimits) -> None:
        self.clock = task.Clock()
        self.started: list[tuple[str, float]] = []
        self.expired: list[tuple[str, float]] = []
        self.admission: Admission[str] = Admission(
            limits, self.clock,
            lambda job: self.started.append((job, self.clock.seconds())),
            lambda job: self.expired.append((job, self.clock.seconds())))


def test_admission_paces_to_the_rate() -> None:
    r = _Recorder(BeepLimits(max_concurrent=100, max_per_second=4, burst=2, queue_size=10,
                             max_age=60))
    for name in "abcdef":
        assert r.admission.offer(name, deadline=60) is None
    for _ in range(32):
        r.clock.advance(0.0625)  # exact in binary: the times below compare exactly
    assert r.started == [("a", 0), ("b", 0), ("c", 0.25), ("d", 0.5), ("e", 0.75), ("f", 1.0)]


def test_admission_concurrency_limit() -> None:
    r = _Recorder(BeepLimits(max_concurrent=2, max_per_second=1000, burst=100, queue_size=10,
                             max_age=60))
    for name in "abcd":
        r.admission.offer(name, deadline=60)
    assert [job for job, _ in r.started] == ["a", "b"]
    assert (r.admission.active, r.admission.queued) == (2, 2)
    r.clock.advance(5)
    assert len(r.started) == 2
    r.admission.release()
    assert [job for job, _ in r.started] == ["a", "b", "c"]
    r.admission.release()
    r.admission.release()
    assert [job for job, _ in r.started] == ["a", "b", "c", "d"]
    assert r.admission.active == 1


def test_admission_queue_bound() -> None:
    r = _Recorder(BeepLimits(max_concurrent=1, max_per_second=1000, burst=100, queue_size=2,
                             max_age=60))
    assert [r.admission.offer(name, deadline=60) for name in "abcd"] == \
        [None, None, None, "queue full (2 waiting)"]


def test_admission_expires_queued_work_at_its_deadline() -> None:
    r = _Recorder(BeepLimits(max_concurrent=1, max_per_second=1000, burst=100, queue_size=10,
                             max_age=60))
    r.admission.offer("a", deadline=100)
    r.admission.offer("b", deadline=10)
    r.admission.offer("c", deadline=5)  # out of order: expiry is exact anyway
    r.clock.advance(4.999)
    assert r.expired == []
    r.clock.advance(0.001)
    assert r.expired == [("c", 5)]
    r.clock.advance(5)
    assert r.expired == [("c", 5), ("b", 10)]
    assert r.admission.queued == 0
    r.admission.release()
    assert [job for job, _ in r.started] == ["a"]


def test_emitter_rate_limit() -> None:
    h = Harness(config(limits={"max_per_second": 10, "burst": 1}))
    for _ in range(5):
        h.submit()
    assert len(h.new()) == 1
    h.advance(0.1)
    assert len(h.new()) == 1
    for _ in range(3):
        h.advance(0.1)
    assert len(h.new()) == 3


def test_emitter_concurrency_limit_and_queue_refusal() -> None:
    h = Harness(config(limits={"max_concurrent": 2, "queue_size": 1}))
    first = h.submit()
    h.submit()
    h.submit()
    refused = h.submit()
    outcome = outcome_of(refused)
    assert outcome.kind is OutcomeKind.REFUSED and outcome.reason == "queue full (1 waiting)"
    invites = h.new()
    assert len(invites) == 2
    h.answer(invites[0], 486, "Busy Here")
    assert outcome_of(first).kind is OutcomeKind.BUSY
    assert [s.method for s in h.new()] == ["ACK", "INVITE"]  # the queued one starts


def test_emitter_expires_what_cannot_start_in_time() -> None:
    h = Harness(config(limits={"max_concurrent": 1, "max_age_s": 60},
                       timers={"timer_b_ms": 100_000}))
    h.submit()  # occupies the only slot for 100 s
    waiting = h.submit()
    h.advance(59.9)
    assert waiting == []
    h.advance(0.1)
    outcome = outcome_of(waiting)
    assert outcome.kind is OutcomeKind.EXPIRED and outcome.attempts == 0


def test_emitter_old_attempt_expires_at_once() -> None:
    h = Harness()
    h.advance(100)
    outcome = outcome_of(h.submit(created_at=30.0))
    assert outcome.kind is OutcomeKind.EXPIRED
    assert h.new() == []


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"callee_class": "off_net"}, "no route for callee class 'off_net'"),
    ({"callee": "12ab"}, "callee '12ab' is not an E.164 number"),
    ({"caller": "0912345678"}, "caller '0912345678' is not an E.164 number"),
])
def test_emitter_refuses_what_it_cannot_route(kwargs: dict[str, Any], reason: str) -> None:
    h = Harness()
    outcome = outcome_of(h.submit(**kwargs))
    assert outcome.kind is OutcomeKind.REFUSED and outcome.reason == reason


def test_disabled_route_refused() -> None:
    h = Harness(config(routes={"on_net": {"host": "192.0.2.50", "domain": "x.net",
                                          "enabled": False}}))
    outcome = outcome_of(h.submit())
    assert outcome.reason == "route on_net disabled"


def test_retry_busy_after_delay_then_rang() -> None:
    h = Harness(config(retry={"count": 1, "delay_s": 20}))
    results = h.submit()
    [first] = h.new()
    h.answer(first, 486, "Busy Here")
    assert h.methods() == ["ACK"]
    assert results == []
    h.advance(19.9)
    assert h.new() == []
    h.advance(0.1)
    [second] = h.new()
    assert second.method == "INVITE"
    assert second.header("Call-ID") != first.header("Call-ID")
    h.answer(second, 180, "Ringing")
    h.advance(0.4)
    h.answer(second, 487, "Request Terminated")
    outcome = outcome_of(results)
    assert outcome.kind is OutcomeKind.RANG and outcome.attempts == 2
    assert outcome.call_id == second.header("Call-ID")


def test_retry_count_is_respected() -> None:
    h = Harness(config(retry={"count": 1, "delay_s": 5, "outcomes": ["unavailable"]}))
    results = h.submit()
    h.answer(h.new()[0], 480, "Temporarily Unavailable")
    h.advance(5)
    second = [s for s in h.new() if s.method == "INVITE"]
    h.answer(second[0], 480, "Temporarily Unavailable")
    h.advance(60)
    outcome = outcome_of(results)
    assert outcome.kind is OutcomeKind.UNAVAILABLE and outcome.attempts == 2
    assert [s.method for s in h.new()] == ["ACK"]


def test_retry_off_by_default_and_not_for_other_outcomes() -> None:
    h = Harness(config(retry={"count": 2, "outcomes": ["busy"]}))
    results = h.submit()
    h.answer(h.new()[0], 404, "Not Found")
    assert outcome_of(results).kind is OutcomeKind.NOT_FOUND
    h2 = Harness()
    results = h2.submit()
    h2.answer(h2.new()[0], 486, "Busy Here")
    assert outcome_of(results).attempts == 1


def test_stop_cancels_calls_in_progress_and_waits() -> None:
    h = Harness(config(limits={"max_concurrent": 2}))
    ringing = h.submit()
    trying = h.submit()
    queued = h.submit()
    one, two = h.new()
    h.answer(one, 180, "Ringing")
    h.answer(two, 100, "Trying", to_tag=None)
    stopped: list[Any] = []
    h.emitter.stopService().addBoth(stopped.append)
    assert outcome_of(queued).reason == "emitter stopping"
    cancels = h.new()
    assert sorted(c.header("Call-ID") for c in cancels if c.method == "CANCEL") == \
        sorted([one.header("Call-ID"), two.header("Call-ID")])
    assert outcome_of(h.submit()).reason == "emitter not running"
    h.answer(one, 487, "Request Terminated")
    assert stopped == []
    h.answer(two, 487, "Request Terminated")
    assert stopped == [None]
    assert outcome_of(ringing).kind is OutcomeKind.STOPPED
    assert outcome_of(trying).kind is OutcomeKind.STOPPED
    assert h.port.closed


def test_stop_gives_up_after_grace() -> None:
    h = Harness(config(shutdown_grace_ms=2000))
    results = h.submit()  # no response ever: no CANCEL possible
    stopped: list[Any] = []
    h.emitter.stopService().addBoth(stopped.append)
    h.advance(1.9)
    assert stopped == []
    h.advance(0.1)
    assert stopped == [None]
    assert outcome_of(results).kind is OutcomeKind.STOPPED
    assert h.port.closed
