"""Callback attribution over real sockets: CTF -> interceptor -> OCS 4012 -> SIPp rings
B; then B calls A (CCR-Initial from B, answered 2001) within the window: linked, and the
CCR-Update/Terminate CC-Time become the callback's charged seconds and revenue. After
the window the watch is gone (at the relay too) and the same call links nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from interceptor.app.relay import Interceptor
from interceptor.config.loader import parse_config
from interceptor.core.avps import CC_TERMINATE, CC_UPDATE, CREDIT_LIMIT_REACHED, SUCCESS
from interceptor.diameter import codec
from interceptor.diameter.traffic import CallAttempt, cca, ccr, e164
from interceptor.storage.engine import make_engine
from interceptor.storage.migrate import upgrade
from interceptor.storage.models import Attempt, CallbackWatch
from tests.diameter.harness import (
    CLIENT_HOST,
    RecordingOcs,
    agent_config,
    client_through,
    wait_until,
)
from tests.sip.sipp import SippUas

pytestmark = pytest.mark.integration

A, B = "84912000001", "84912000002"  # both on-net: B's own CCRs pass this interceptor


def _ocs(request: bytes) -> bytes:
    """A has no credit; everyone else has."""
    subscription = codec.find_avp(request, 443)
    data = codec.find_avp(request, 444, start=subscription.data_start,
                          end=subscription.data_end) if subscription else None
    caller = data.value(request).decode() if data else ""
    return cca(request, "ocs1.test", "ocs.test",
               CREDIT_LIMIT_REACHED if caller == A else SUCCESS)


def _config(database_url: str, spool: Path, sipp_port: int,
            callbacks: dict[str, Any]) -> dict[str, Any]:
    route = {"host": "127.0.0.1", "port": sipp_port, "domain": "ims.test"}
    return {**agent_config([("ocs1.test", 0)]), "detection": {"enabled": True},
            "numbering": {"country_code": 84, "on_net_prefixes": ["8491"]},
            "database": {"url": database_url, "spool_dir": str(spool),
                         "flush_interval": 0.05},
            "sip": {"routes": {"on_net": route, "off_net": route, "international": route}},
            "policy": {"thresholds": {"quiet_hours": {"window": "off"}}},
            "callbacks": callbacks}


@pytest_twisted.inlineCallbacks
def beeped(database_url: str, tmp_path: Path, callbacks: dict[str, Any],
           extra: dict[str, Any] | None = None) -> Any:
    """An interceptor whose attempt A->B has been beeped (rang) and is watched."""
    upgrade(database_url)
    sipp = SippUas("ring_cancel.xml", tmp_path, calls=1).start()
    ocs = RecordingOcs("ocs1.test", _ocs)
    raw = {**_config(database_url, tmp_path / "spool", sipp.port, callbacks),
           **(extra or {})}
    raw["peers"]["ocs"][0]["port"] = ocs.listen()
    interceptor = Interceptor(parse_config(raw), reactor, seed=3)
    interceptor.startService()
    client = yield client_through(interceptor)
    call = CallAttempt("a-calls-b;1", CLIENT_HOST, "client.test", "ocs.test",
                       subscription_ids=e164(A), calling_party_address=f"tel:+{A}",
                       called_party_address=f"tel:+{B}")
    answer = yield client.request(ccr(call, hop_by_hop=1))
    assert codec.result_code(answer) == CREDIT_LIMIT_REACHED
    exit_code = yield sipp.wait(timeout=30)
    assert exit_code == 0, sipp.screen()
    tap = interceptor.tap
    # The beep rang; the side work watches B (callback) and A (topped up) at the relay.
    yield wait_until(lambda: {B[-9:].encode(), A[-9:].encode()} <= tap.subscribers,
                     timeout=15)
    return interceptor, client, ocs, sipp


def b_calls_a(session: str, request_type: int = 1, number: int = 0,
               used: int | None = None, hop: int = 10) -> bytes:
    call = CallAttempt(session, CLIENT_HOST, "client.test", "ocs.test",
                       subscription_ids=e164(B), calling_party_address=f"tel:+{B}",
                       called_party_address=f"0{A[2:]}",
                       request_type=request_type, request_number=number,
                       used_seconds=used)
    return ccr(call, hop_by_hop=hop)


def _attempt(engine: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(select(Attempt)).one()


@pytest_twisted.inlineCallbacks
def test_callback_within_the_window_is_linked_and_charged(database_url: str,
                                                          tmp_path: Path) -> Any:
    interceptor, client, ocs, sipp = yield beeped(
        database_url, tmp_path, {"window": 1800, "tariffs": {"on_net": 600}})
    engine = make_engine(database_url)
    tap = interceptor.tap
    try:
        answer = yield client.request(b_calls_a("b-calls-a;1"))
        assert codec.result_code(answer) == SUCCESS
        yield wait_until(lambda: _attempt(engine).callback_at is not None, timeout=10)
        # The linked session is followed: its Session-Id is watched at the relay.
        yield wait_until(lambda: b"b-calls-a;1" in tap.sessions, timeout=10)
        yield client.request(b_calls_a("b-calls-a;1", CC_UPDATE, 1, used=60, hop=11))
        yield client.request(b_calls_a("b-calls-a;1", CC_TERMINATE, 2, used=35, hop=12))
        yield wait_until(lambda: _attempt(engine).callback_charged_seconds == 95, timeout=10)
        yield wait_until(lambda: b"b-calls-a;1" not in tap.sessions, timeout=10)
    finally:
        yield interceptor.stopService()
        yield ocs.port.stopListening()
        sipp.stop()
    row = _attempt(engine)
    with engine.connect() as connection:
        watches = connection.execute(select(CallbackWatch)).all()
    engine.dispose()
    assert (row.status, row.beep_outcome, row.callback_kind) == ("beeped", "rang", "callback")
    assert row.callback_session_id == "b-calls-a;1"
    assert row.callback_at > row.rang_at
    assert 0 < row.callback_delay_ms < 30_000
    assert row.callback_charged_seconds == 95
    assert row.callback_revenue == Decimal("950.00")  # 95 s at 600 per minute
    assert watches == []  # resolved: nothing left to watch
    # Only what matched went to the side work: the callback's CCR-I, its U and T.
    assert (tap.counters.callback_starts, tap.counters.callback_usage) == (1, 2)


@pytest_twisted.inlineCallbacks
def test_callback_after_the_window_is_not_linked(sqlite_url: str, tmp_path: Path) -> Any:
    interceptor, client, ocs, sipp = yield beeped(
        sqlite_url, tmp_path, {"window": 1, "sweep_interval": 0.1})
    engine = make_engine(sqlite_url)
    tap = interceptor.tap
    try:
        # The window ends: the watches expire in the side work and at the relay.
        yield wait_until(lambda: not tap.subscribers and not tap.sessions, timeout=10)
        assert tap.answer_filter is not None  # back to the plain out-of-credit test
        answer = yield client.request(b_calls_a("late;1"))
        assert codec.result_code(answer) == SUCCESS
        with engine.connect() as connection:
            left = connection.execute(select(CallbackWatch)).all()
        yield wait_until(lambda: interceptor.side_work.channel.backlog == 0, timeout=10)
    finally:
        yield interceptor.stopService()
        yield ocs.port.stopListening()
        sipp.stop()
    row = _attempt(engine)
    engine.dispose()
    assert row.beep_outcome == "rang"
    assert (row.callback_at, row.callback_kind, row.callback_session_id) == (None, None, None)
    assert tap.counters.callback_starts == 0
    assert left == []  # expired rows are deleted: the table stays bounded
