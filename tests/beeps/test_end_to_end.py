"""The whole promise over real sockets: CTF -> interceptor -> OCS answering 4012 ->
SIPp, as B's network, receives an INVITE presenting A to B, rings, gets CANCELled ~400 ms
later, and the attempt row says "rang"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from sqlalchemy import insert, select
from twisted.internet import reactor

from interceptor.app.relay import Interceptor
from interceptor.config.loader import parse_config
from interceptor.core.avps import CREDIT_LIMIT_REACHED
from interceptor.diameter.traffic import CallAttempt, cca, ccr, e164
from interceptor.storage.engine import make_engine
from interceptor.storage.migrate import upgrade
from interceptor.storage.models import Attempt
from tests.diameter.harness import (
    CLIENT_HOST,
    RecordingOcs,
    agent_config,
    client_through,
    wait_until,
)
from tests.sip.sipp import SippUas

pytestmark = pytest.mark.integration

A, B = "84912000001", "84987000002"


def _config(database_url: str, spool: Path, sipp_port: int) -> dict[str, Any]:
    route = {"host": "127.0.0.1", "port": sipp_port, "domain": "ims.test"}
    return {**agent_config([("ocs1.test", 0)]), "detection": {"enabled": True},
            "numbering": {"country_code": 84, "on_net_prefixes": ["8491"]},
            "database": {"url": database_url, "spool_dir": str(spool),
                         "flush_interval": 0.05},
            "sip": {"routes": {"on_net": route, "off_net": route, "international": route}},
            "policy": {"thresholds": {"quiet_hours": {"window": "off"}}}}


@pytest_twisted.inlineCallbacks
def test_out_of_credit_call_becomes_a_beep_that_rings_b(sqlite_url: str,
                                                         tmp_path: Path) -> Any:
    upgrade(sqlite_url)
    sipp = SippUas("ring_cancel.xml", tmp_path, calls=1).start()
    ocs = RecordingOcs("ocs1.test", lambda r: cca(r, "ocs1.test", "ocs.test",
                                                  CREDIT_LIMIT_REACHED))
    raw = _config(sqlite_url, tmp_path / "spool", sipp.port)
    raw["peers"]["ocs"][0]["port"] = ocs.listen()
    interceptor = Interceptor(parse_config(raw), reactor, seed=2)
    interceptor.startService()
    engine = make_engine(sqlite_url)

    def row() -> Any:
        with engine.connect() as connection:
            return connection.execute(select(Attempt)).first()

    try:
        client = yield client_through(interceptor)
        call = CallAttempt("beep;1", CLIENT_HOST, "client.test", "ocs.test",
                           subscription_ids=e164(A), called_party_address=f"tel:+{B}")
        yield client.request(ccr(call, hop_by_hop=1))
        exit_code = yield sipp.wait(timeout=30)
        assert exit_code == 0, sipp.screen()
        yield wait_until(lambda: row() is not None and row().status == "beeped", timeout=15)
    finally:
        yield interceptor.stopService()
        yield ocs.port.stopListening()
        sipp.stop()
    attempt = row()
    engine.dispose()
    assert (attempt.status, attempt.beep_outcome, attempt.beep_sip_code) == \
        ("beeped", "rang", 487)
    assert 300 <= attempt.ring_time_ms <= 500
    assert attempt.beep_presented_as == f"+{A}"
    assert attempt.rang_at <= attempt.cancel_sent_at <= attempt.beep_ended_at

    invite = next(m for m in sipp.messages() if m.method == "INVITE")
    assert f"+{A}" in (invite.header("From") or "")
    assert f"+{A}" in (invite.header("P-Asserted-Identity") or "")
    assert f"+{B}" in (invite.header("To") or "")
    assert invite.first_line.startswith(f"INVITE sip:+{B}@ims.test;user=phone")
    assert invite.header("X-Beepcall") == "1"
    assert sipp.rtds("ring") and all(300 <= rtd <= 500 for rtd in sipp.rtds("ring"))  # ms


@pytest_twisted.inlineCallbacks
def test_unbeeped_attempts_are_picked_up_at_start_once(sqlite_url: str,
                                                        tmp_path: Path) -> Any:
    """Crash safety: what a previous run recorded but did not beep is beeped at start,
    unless too old; what it had claimed ("beeping") is never beeped twice."""
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(insert(Attempt), [
            _row("left-over", now - timedelta(seconds=5), "recorded"),
            _row("too-old", now - timedelta(minutes=10), "recorded"),
            _row("was-beeping", now - timedelta(seconds=5), "beeping"),
        ])
    sipp = SippUas("ring_cancel.xml", tmp_path, calls=1).start()
    raw = _config(sqlite_url, tmp_path / "spool", sipp.port)
    raw["peers"]["ocs"][0]["port"] = 3868  # no OCS here: nothing is relayed in this test
    interceptor = Interceptor(parse_config(raw), reactor, seed=4)
    interceptor.startService()

    def statuses() -> dict[str, tuple[str, str | None]]:
        with engine.connect() as connection:
            return {r.session_id: (r.status, r.beep_outcome)
                    for r in connection.execute(select(Attempt))}

    try:
        exit_code = yield sipp.wait(timeout=30)
        assert exit_code == 0, sipp.screen()
        yield wait_until(lambda: statuses()["left-over"] == ("beeped", "rang"), timeout=15)
    finally:
        yield interceptor.stopService()
        sipp.stop()
    final = statuses()
    engine.dispose()
    assert final == {"left-over": ("beeped", "rang"), "too-old": ("failed", "expired"),
                     "was-beeping": ("beeping", None)}
    assert len([m for m in sipp.messages() if m.method == "INVITE"]) == 1


def _row(session: str, occurred_at: datetime, status: str) -> dict[str, Any]:
    return {"attempt_id": session, "occurred_at": occurred_at, "session_id": session,
            "result_code": 4012, "result_code_source": "top_level",
            "client_peer": CLIENT_HOST, "caller_e164": A, "callee_e164": B,
            "callee_class": "off_net", "status": status}
