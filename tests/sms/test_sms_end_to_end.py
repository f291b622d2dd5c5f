"""The whole promise with the SMS: CTF -> interceptor -> OCS answering 4012 -> SIPp
rings B (beep) and the test SMSC receives the SMS to B with the advertisement; the
attempt row records message id, parts, status, campaign, and the delivery receipt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from interceptor.app.relay import Interceptor
from interceptor.config.loader import parse_config
from interceptor.core.avps import CREDIT_LIMIT_REACHED
from interceptor.diameter.traffic import CallAttempt, cca, ccr, e164
from interceptor.storage.engine import make_engine
from interceptor.storage.migrate import upgrade
from interceptor.storage.models import AdCampaign, Attempt, CallbackWatch
from tests.beeps.test_end_to_end import _config
from tests.diameter.harness import CLIENT_HOST, RecordingOcs, client_through, wait_until
from tests.sip.sipp import SippUas
from tests.sms.harness import Database, sms_section
from tests.sms.smsc import Smsc

pytestmark = pytest.mark.integration

A, B = "84912000001", "84987000002"


@pytest_twisted.inlineCallbacks
def test_out_of_credit_call_beeps_b_and_sends_the_sms_with_the_ad(
        sqlite_url: str, tmp_path: Path, password: str) -> Any:
    upgrade(sqlite_url)
    campaign = Database(sqlite_url)
    campaign_id = campaign.campaign("topup", "Nạp thẻ ngay: *100#")
    campaign.close()
    smsc = yield Smsc().start()
    sipp = SippUas("ring_cancel.xml", tmp_path, calls=1).start()
    ocs = RecordingOcs("ocs1.test", lambda r: cca(r, "ocs1.test", "ocs.test",
                                                  CREDIT_LIMIT_REACHED))
    raw = _config(sqlite_url, tmp_path / "spool", sipp.port)
    raw["sms"] = sms_section(smsc.port)
    raw["peers"]["ocs"][0]["port"] = ocs.listen()
    interceptor = Interceptor(parse_config(raw), reactor, seed=2)
    interceptor.startService()
    engine = make_engine(sqlite_url)

    def row() -> Any:
        with engine.connect() as connection:
            return connection.execute(select(Attempt)).first()

    try:
        client = yield client_through(interceptor)
        call = CallAttempt("beep-sms;1", CLIENT_HOST, "client.test", "ocs.test",
                           subscription_ids=e164(A), called_party_address=f"tel:+{B}")
        yield client.request(ccr(call, hop_by_hop=1))
        exit_code = yield sipp.wait(timeout=30)
        assert exit_code == 0, sipp.screen()
        yield smsc.wait(lambda: smsc.of("message"), timeout=20, what="the SMS")
        yield wait_until(lambda: row() is not None and row().sms_status == "delivered",
                         timeout=15)
    finally:
        yield interceptor.stopService()
        yield ocs.port.stopListening()
        sipp.stop()
        yield smsc.stop()
    attempt = row()
    with engine.connect() as connection:
        ad = connection.execute(select(AdCampaign)).one()
    engine.dispose()
    assert (attempt.status, attempt.beep_outcome) == ("beeped", "rang")
    [message] = smsc.of("message")
    assert message["destination"] == B and message["source"] == A
    assert message["data_coding"] == 8  # Vietnamese: UCS-2
    assert message["text"].startswith("0912000001 đã gọi cho bạn lúc ")
    assert message["text"].endswith(". - Nạp thẻ ngay: *100#")
    assert attempt.sms_message_id == message["message_ids"][0] == attempt.sms_message_ids
    assert (attempt.sms_parts, attempt.sms_campaign_id, attempt.sms_dlr_state) == \
        (1, campaign_id, "DELIVRD")
    assert attempt.sms_queued_at <= attempt.sms_sent_at <= attempt.sms_delivered_at
    assert (ad.impressions, ad.delivered) == (1, 1)


@pytest_twisted.inlineCallbacks
def test_without_beeps_the_policy_still_decides_and_the_sms_goes(
        sqlite_url: str, tmp_path: Path, password: str) -> Any:
    """No ``sip`` section: every attempt passes the policy, the allowed ones become
    ``sms_only`` and get the SMS; a redial within the pair interval gets nothing."""
    upgrade(sqlite_url)
    smsc = yield Smsc().start()
    ocs = RecordingOcs("ocs1.test", lambda r: cca(r, "ocs1.test", "ocs.test",
                                                  CREDIT_LIMIT_REACHED))
    raw = _config(sqlite_url, tmp_path / "spool", 5060)
    del raw["sip"]
    raw["sms"] = sms_section(smsc.port)
    raw["peers"]["ocs"][0]["port"] = ocs.listen()
    interceptor = Interceptor(parse_config(raw), reactor, seed=3)
    interceptor.startService()
    engine = make_engine(sqlite_url)

    def rows() -> dict[str, tuple[str, str | None, str | None]]:
        with engine.connect() as connection:
            return {r.session_id: (r.status, r.status_reason, r.sms_status)
                    for r in connection.execute(select(Attempt))}

    try:
        client = yield client_through(interceptor)
        for index in (1, 2):  # A calls B twice: the pair interval allows one notice
            call = CallAttempt(f"sms-only;{index}", CLIENT_HOST, "client.test", "ocs.test",
                               subscription_ids=e164(A), called_party_address=f"tel:+{B}")
            yield client.request(ccr(call, hop_by_hop=index))
        yield smsc.wait(lambda: smsc.of("message"), timeout=20, what="the SMS")
        yield wait_until(lambda: rows().get("sms-only;1", ("",))[0] == "sms_only" and
                         rows()["sms-only;1"][2] in ("submitted", "delivered") and
                         rows().get("sms-only;2", ("",))[0] == "suppressed", timeout=15)
    finally:
        yield interceptor.stopService()
        yield ocs.port.stopListening()
        yield smsc.stop()
    final = rows()
    with engine.connect() as connection:
        watches = connection.execute(select(CallbackWatch.kind, CallbackWatch.watch_key)
                                     .order_by(CallbackWatch.kind)).all()
    engine.dispose()
    assert final["sms-only;2"] == ("suppressed", "policy:pair_interval", None)
    [message] = smsc.of("message")
    assert message["destination"] == B
    # The submitted SMS is a notice: B calling A back (or A calling B) is watched for.
    assert [tuple(watch) for watch in watches] == [("callee", B[-9:]), ("caller", A[-9:])]
