"""CTF -> interceptor -> OCS over real TCP, with detection and recording on, into SQLite
and PostgreSQL: exactly the out-of-credit voice call attempts become rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from sqlalchemy import Engine, select
from twisted.internet import defer, reactor, task

from interceptor.app.relay import Interceptor
from interceptor.config.loader import parse_config
from interceptor.core import avps
from interceptor.core.avps import (
    CC_UPDATE,
    CONTEXT_GY_DATA,
    CONTEXT_MMTEL,
    CREDIT_CONTROL_NOT_APPLICABLE,
    CREDIT_LIMIT_REACHED,
    SUCCESS,
)
from interceptor.diameter import codec
from interceptor.diameter.traffic import CallAttempt, cca, ccr, e164
from interceptor.storage import blacklist as blacklist_store
from interceptor.storage.blacklist import BlacklistItem
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

pytestmark = pytest.mark.integration

# session id -> (Result-Code at top level, Result-Code inside MSCC or None)
ANSWERS: dict[str, tuple[int, int | None]] = {
    "top-4012": (CREDIT_LIMIT_REACHED, None),
    "mscc-4012": (SUCCESS, CREDIT_LIMIT_REACHED),
    "ok-2001": (SUCCESS, None),
    "na-4011": (CREDIT_CONTROL_NOT_APPLICABLE, None),
    "gy-4012": (CREDIT_LIMIT_REACHED, None),
    "update-4012": (CREDIT_LIMIT_REACHED, None),
    "mmtel-national-4012": (CREDIT_LIMIT_REACHED, None),
    "bad-callee-4012": (CREDIT_LIMIT_REACHED, None),
    "blocked-4012": (CREDIT_LIMIT_REACHED, None),
}


def _ocs_policy(request: bytes) -> bytes:
    session = codec.find_avp(request, avps.AVP_SESSION_ID).value(request).decode()
    top, mscc = ANSWERS[session]
    return cca(request, "ocs1.test", "ocs.test", top,
               mscc_result_codes=None if mscc is None else [mscc])


def _attempts() -> list[CallAttempt]:
    def call(session: str, **kwargs: Any) -> CallAttempt:
        return CallAttempt(session, CLIENT_HOST, "client.test", "ocs.test", **kwargs)

    return [
        call("top-4012", subscription_ids=e164("84912000001"),
             called_party_address="tel:+84987000002"),
        call("mscc-4012", subscription_ids=(), calling_party_address="sip:+84912000003@ims.test;"
             "user=phone", called_party_address="tel:+44 20 7946 0018"),
        call("ok-2001"),
        call("na-4011"),
        call("gy-4012", service_context=CONTEXT_GY_DATA, called_party_address=None),
        call("update-4012", request_type=CC_UPDATE, request_number=1),
        call("mmtel-national-4012", service_context=CONTEXT_MMTEL,
             subscription_ids=e164("84912000004"), called_party_address=None,
             requested_party_address="tel:0903-123-456"),
        call("bad-callee-4012", subscription_ids=e164("84912000005"),
             called_party_address="sip:alice@x.test"),
        call("blocked-4012", subscription_ids=e164("84912000006"),
             called_party_address="tel:+84912000099"),
    ]


def _config(database_url: str, spool: Path) -> dict[str, Any]:
    return {**agent_config([("ocs1.test", 0)]), "detection": {"enabled": True},
            "numbering": {"country_code": 84, "on_net_prefixes": ["8491", "8494"]},
            "database": {"url": database_url, "spool_dir": str(spool), "flush_interval": 0.05,
                         "blacklist_refresh": 0.2}}


@pytest_twisted.inlineCallbacks
def test_only_out_of_credit_voice_attempts_are_recorded(database_url: str,
                                                        tmp_path: Path) -> Any:
    upgrade(database_url)
    engine = make_engine(database_url)
    blacklist_store.upsert(engine, [BlacklistItem(
        number="84912000006", scope="caller", reason="test", expires_at=None,
        added_by="pytest")])
    ocs = RecordingOcs("ocs1.test", _ocs_policy)
    raw = _config(database_url, tmp_path / "spool")
    raw["peers"]["ocs"][0]["port"] = ocs.listen()
    interceptor = Interceptor(parse_config(raw), reactor, seed=1)
    interceptor.startService()
    try:
        client = yield client_through(interceptor)
        answers = yield defer.gatherResults([
            client.request(ccr(attempt, hop_by_hop=i + 1, end_to_end=i + 1))
            for i, attempt in enumerate(_attempts())])
        assert len(answers) == len(ANSWERS)
    finally:
        yield interceptor.stopService()
        yield ocs.port.stopListening()
    with engine.connect() as connection:
        rows = {row.session_id: row for row in connection.execute(select(Attempt))}
    engine.dispose()

    assert set(rows) == {"top-4012", "mscc-4012", "mmtel-national-4012", "bad-callee-4012",
                         "blocked-4012"}
    top = rows["top-4012"]
    assert (top.caller_e164, top.callee_e164, top.callee_class) == \
        ("84912000001", "84987000002", "off_net")
    assert (top.result_code, top.result_code_source, top.status) == \
        (4012, "top_level", "recorded")
    assert (top.client_peer, top.ocs_peer) == (CLIENT_HOST, "ocs1.test")
    assert top.service_context_id == "32260@3gpp.org" and top.cc_request_type == 1
    assert top.occurred_at.astimezone(UTC) <= datetime.now(UTC)

    mscc = rows["mscc-4012"]
    assert (mscc.caller_e164, mscc.callee_e164, mscc.callee_class) == \
        ("84912000003", "442079460018", "international")
    assert (mscc.result_code, mscc.result_code_source) == (4012, "mscc")

    national = rows["mmtel-national-4012"]
    assert (national.callee_raw, national.callee_e164, national.callee_class) == \
        ("tel:0903-123-456", "84903123456", "off_net")

    bad = rows["bad-callee-4012"]
    assert bad.callee_e164 is None and bad.callee_class == "unknown"
    assert bad.normalisation_failure and "callee" in bad.normalisation_failure

    blocked = rows["blocked-4012"]
    assert (blocked.status, blocked.status_reason) == ("suppressed", "blacklist:caller")
    assert blocked.callee_class == "on_net"



@pytest_twisted.inlineCallbacks
def test_running_interceptor_honours_a_new_blacklist_entry(sqlite_url: str,
                                                          tmp_path: Path) -> Any:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    ocs = RecordingOcs("ocs1.test", _ocs_policy)
    raw = _config(sqlite_url, tmp_path / "spool")
    raw["peers"]["ocs"][0]["port"] = ocs.listen()
    interceptor = Interceptor(parse_config(raw), reactor, seed=1)
    interceptor.startService()
    try:
        client = yield client_through(interceptor)
        first = CallAttempt("top-4012", CLIENT_HOST, "client.test", "ocs.test",
                            subscription_ids=e164("84912000001"),
                            called_party_address="tel:+84987000002")
        yield client.request(ccr(first, hop_by_hop=1))
        yield wait_until(lambda: _statuses(engine) == [("recorded", None)], timeout=15)
        # An operator opts B out while the interceptor runs (as `beepcall blacklist add`);
        # B's next refused call is suppressed within a few seconds, without a restart.
        blacklist_store.upsert(engine, [BlacklistItem(number="84987000002", scope="callee",
                                                      reason="opt-out", added_by="pytest")])
        hop_by_hop = 2
        while ("suppressed", "blacklist:callee") not in _statuses(engine):
            assert hop_by_hop < 60, "blacklist change not honoured within 6 s"
            yield client.request(ccr(first, hop_by_hop=hop_by_hop))
            yield task.deferLater(reactor, 0.1, lambda: None)
            hop_by_hop += 1
    finally:
        yield interceptor.stopService()
        yield ocs.port.stopListening()
    statuses = _statuses(engine)
    engine.dispose()
    first_suppressed = statuses.index(("suppressed", "blacklist:callee"))
    assert set(statuses[:first_suppressed]) == {("recorded", None)}
    assert set(statuses[first_suppressed:]) == {("suppressed", "blacklist:callee")}


def _statuses(engine: Engine) -> list[tuple[str, str | None]]:
    with engine.connect() as connection:
        return [(row.status, row.status_reason) for row in connection.execute(
            select(Attempt).order_by(Attempt.occurred_at))]
