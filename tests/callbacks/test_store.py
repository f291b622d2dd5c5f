"""Callback attribution rules in SQL, on SQLite and PostgreSQL: which call links to which
attempt and how, the window, and watches that survive a restart and expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert, select
from twisted.internet import defer, task

from interceptor.callbacks.config import CallbacksConfig
from interceptor.callbacks.service import CallbackAttribution
from interceptor.callbacks.store import (
    CallStart,
    Notice,
    active_watches,
    add_usage,
    create_watches,
    link_call,
)
from interceptor.detection import build_detection
from interceptor.detection.config import DetectionConfig
from interceptor.numbers import NumberingConfig
from interceptor.storage.models import Attempt, CallbackWatch

A, B, C = "84912000001", "84912000002", "84912000003"
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
CONFIG = CallbacksConfig(window=1800, tariffs={"on_net": Decimal(600)})




def _attempt(engine: Engine, attempt_id: str, caller: str = A, callee: str = B,
             **values: Any) -> None:
    row = {"attempt_id": attempt_id, "occurred_at": T0, "session_id": attempt_id,
           "result_code": 4012, "result_code_source": "top_level", "client_peer": "c",
           "caller_e164": caller, "callee_e164": callee, "callee_class": "on_net",
           "status": "beeped", "beep_outcome": "rang", **values}
    with engine.begin() as connection:
        connection.execute(insert(Attempt), [row])


def _row(engine: Engine, attempt_id: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(select(Attempt).where(Attempt.attempt_id == attempt_id)).one()


def _start(minutes: float, calling: str, called: str, session: str = "s1") -> CallStart:
    return CallStart(T0 + timedelta(minutes=minutes), session, calling, called)


def test_callback_links_to_the_latest_notification_of_the_pair(engine: Engine) -> None:
    _attempt(engine, "old")
    _attempt(engine, "new")
    create_watches(engine, [Notice("old", T0), Notice("new", T0 + timedelta(minutes=2))],
                   CONFIG.window)
    assert link_call(engine, _start(1, C, A), CONFIG) is None  # C is not watched
    assert link_call(engine, _start(3, B, C), CONFIG) is None  # B calls someone else
    link = link_call(engine, _start(5, B, A), CONFIG)
    assert link is not None and (link.attempt_id, link.kind) == ("new", "callback")
    assert link.delay_ms == 3 * 60_000
    # One outcome per pair: the older attempt's watches ended too.
    assert {(w.attempt_id, w.kind) for w in link.resolved} == {
        ("old", "callee"), ("old", "caller"), ("new", "callee"), ("new", "caller")}
    assert link_call(engine, _start(6, B, A, "s2"), CONFIG) is None
    usage = add_usage(engine, "s1", 45, False, CONFIG)
    assert usage is not None and usage.charged_seconds == 45 and usage.session is None
    usage = add_usage(engine, "s1", 30, True, CONFIG)
    assert usage is not None and usage.session is not None
    row = _row(engine, "new")
    assert (row.callback_kind, row.callback_charged_seconds, row.callback_revenue) == \
        ("callback", 75, Decimal("750.00"))
    assert _row(engine, "old").callback_kind is None
    assert add_usage(engine, "s1", 10, True, CONFIG) is None  # session over
    with engine.connect() as connection:
        assert connection.execute(select(CallbackWatch)).all() == []


def test_topped_up_after_sms_and_the_window(engine: Engine) -> None:
    _attempt(engine, "topup")
    _attempt(engine, "sms", caller=C, callee=B, beep_outcome="busy", status="failed",
             sms_status="delivered")
    _attempt(engine, "late", caller=C, callee=A)
    create_watches(engine, [Notice("topup", T0), Notice("sms", T0), Notice("late", T0)],
                   CONFIG.window)
    link = link_call(engine, _start(10, A, B), CONFIG)  # A topped up and called B
    assert link is not None and (link.attempt_id, link.kind) == ("topup", "topped_up")
    link = link_call(engine, _start(29, B, C, "s2"), CONFIG)  # B calls C: SMS-only
    assert link is not None and (link.attempt_id, link.kind) == ("sms", "after_sms")
    assert link_call(engine, _start(31, A, C, "s3"), CONFIG) is None  # after the window
    assert _row(engine, "late").callback_kind is None


def test_watches_survive_a_restart_and_expire(engine: Engine) -> None:
    _attempt(engine, "kept")
    _attempt(engine, "gone", caller=C, callee=B)
    create_watches(engine, [Notice("kept", T0), Notice("gone", T0 - timedelta(hours=1))],
                   CONFIG.window)
    # A new process starts: expired watches are dropped, the others come back.
    watches = active_watches(engine, T0 + timedelta(minutes=1))
    assert {(w.attempt_id, w.kind) for w in watches} == {("kept", "callee"),
                                                         ("kept", "caller")}
    clock = task.Clock()
    clock.advance((T0 + timedelta(minutes=1)).timestamp())
    detection = build_detection(DetectionConfig())
    service = CallbackAttribution(CallbacksConfig(window=1800, sweep_interval=60), engine,
                                  _SyncRunner(), clock, detection.extractor,
                                  detection.classifier, NumberingConfig(country_code="84"))
    published: list[dict[str, Any]] = []
    service.publish = published.append
    service.start()
    assert service.full_state() == {"reset": True, "add_keys": [A[-9:], B[-9:]],
                                    "add_sessions": []}
    clock.advance(30 * 60)  # the window ends; the sweep tells the relay
    assert sorted(published[-1]["remove_keys"]) == sorted([A[-9:], B[-9:]])
    assert service.watching == 0
    with engine.connect() as connection:
        assert connection.execute(select(CallbackWatch)).all() == []


class _SyncRunner:
    """Runs the SQL at once (the unit under test is the bookkeeping, not threads)."""

    def run(self, fn: Any, *args: Any) -> defer.Deferred[Any]:
        return defer.maybeDeferred(fn, *args)
