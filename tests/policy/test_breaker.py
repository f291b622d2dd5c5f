"""The circuit breaker on task.Clock: opens on the failure ratio over a sliding window,
pauses for the cool-down, probes one at a time, closes on a good probe."""

from __future__ import annotations

from twisted.internet.task import Clock

from interceptor.policy.breaker import BreakerSettings, CircuitBreaker

SETTINGS = BreakerSettings(failure_ratio=0.5, window=10.0, min_samples=4, cooldown=30.0)


def breaker() -> tuple[CircuitBreaker, Clock, list[str]]:
    clock = Clock()
    changes: list[str] = []
    cb = CircuitBreaker("beeps", clock, SETTINGS)
    cb.on_change = lambda _, state: changes.append(state.value)
    return cb, clock, changes


def test_stays_closed_below_min_samples_or_ratio() -> None:
    cb, _, _ = breaker()
    for ok in (False, False, False):  # 3 < min_samples
        cb.record(ok)
    assert cb.state == "closed" and cb.allow()
    cb, _clock, _ = breaker()
    for ok in (True, True, True, False, True):  # 1 of 5 < 50%
        cb.record(ok)
    assert cb.state == "closed"


def test_opens_at_the_ratio_then_half_opens_after_cooldown_and_closes_on_success() -> None:
    cb, clock, changes = breaker()
    for ok in (True, False, True, False):  # 2 of 4 = 50%
        cb.record(ok)
    assert cb.state == "open" and not cb.allow()
    clock.advance(29.9)
    assert not cb.allow() and round(cb.retry_in(), 1) == 0.1
    clock.advance(0.1)
    assert cb.state == "half_open"
    assert cb.allow()  # the probe
    assert not cb.allow()  # only one at a time
    cb.record(True)
    assert cb.state == "closed" and cb.allow()
    assert changes == ["open", "half_open", "closed"]
    assert cb.ratio() == (0, 0)  # a fresh window


def test_a_failed_probe_opens_it_again_for_a_full_cooldown() -> None:
    cb, clock, changes = breaker()
    for _ in range(4):
        cb.record(False)
    clock.advance(30)
    assert cb.allow()
    cb.record(False)
    assert cb.state == "open" and cb.openings == 2
    clock.advance(29)
    assert not cb.allow()
    clock.advance(1)
    assert cb.allow()
    assert changes == ["open", "half_open", "open", "half_open"]


def test_old_outcomes_leave_the_sliding_window() -> None:
    cb, clock, _ = breaker()
    cb.record(False)
    cb.record(False)
    clock.advance(10.0)  # both fall out
    for ok in (True, True, False):
        cb.record(ok)
    assert cb.ratio() == (1, 3) and cb.state == "closed"
    cb.record(False)  # 2 of 4
    assert cb.state == "open"


def test_settings_change_at_runtime() -> None:
    cb, _clock, _ = breaker()
    cb.update(BreakerSettings(failure_ratio=0.9, window=10.0, min_samples=4, cooldown=5.0))
    for ok in (True, False, False, False):  # 75% < 90%
        cb.record(ok)
    assert cb.state == "closed"
