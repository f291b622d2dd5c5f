"""Queued attempts become SMS at a real SMSC (npm ``smpp`` server), results and delivery
receipts land in the attempt rows; nothing queued is lost while the SMSC is down."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import pytest_twisted

from tests.sms.harness import A, B, Database, parse, scheduler, sms_section
from tests.sms.smsc import Smsc, free_tcp_port

pytestmark = pytest.mark.integration


@pytest_twisted.inlineCallbacks
def test_vietnamese_ucs2_sms_with_ad_and_delivery_receipt(database: Database,
                                                         password: str) -> Any:
    smsc = yield Smsc().start()
    campaign = database.campaign("topup", "Nạp thẻ ngay: *100#")
    [attempt] = database.queue()
    sms = scheduler(parse(sms_section(smsc.port)), database)
    sms.startService()
    try:
        yield smsc.wait(lambda: database.status(attempt) == "delivered",
                        what="delivered")
    finally:
        yield sms.stopService()
        yield smsc.stop()
    [message] = smsc.of("message")
    assert message["text"] == "0912000001 đã gọi cho bạn lúc 10:32. - Nạp thẻ ngay: *100#"
    assert (message["data_coding"], message["destination"]) == (8, B)
    assert (message["source"], message["source_ton"], message["source_npi"]) == (A, 1, 1)
    row = database.rows()[attempt]
    assert row.sms_message_ids == message["message_ids"][0] == row.sms_message_id
    assert (row.sms_parts, row.sms_campaign_id, row.sms_dlr_state) == (1, campaign, "DELIVRD")
    assert row.sms_sent_at is not None and row.sms_delivered_at is not None
    stats = database.campaigns()["topup"]
    assert (stats.impressions, stats.delivered) == (1, 1)


@pytest.mark.parametrize("concatenation", ["udh", "sar"])
@pytest_twisted.inlineCallbacks
def test_long_text_goes_in_parts_the_smsc_reassembles(database: Database, password: str,
                                                      concatenation: str) -> Any:
    smsc = yield Smsc().start()
    long_template = "{caller} called you at {time}. " + "Call back for free today! " * 12
    raw = sms_section(smsc.port, concatenation=concatenation, max_parts=4,
                      templates={"en": {"to_callee": long_template + "{ad}"}}, language="en")
    [attempt] = database.queue()
    sms = scheduler(parse(raw), database)
    sms.startService()
    try:
        yield smsc.wait(lambda: database.status(attempt) == "delivered",
                        what="delivered")
    finally:
        yield sms.stopService()
        yield smsc.stop()
    [message] = smsc.of("message")
    assert message["text"] == long_template.format(caller="0912000001", time="10:32", ad="")
    assert message["parts"] == 3 and message["data_coding"] == 0
    assert message["concat"] == ("udh" if concatenation == "udh" else "sar")
    assert not smsc.of("reassembly_error")
    row = database.rows()[attempt]
    assert row.sms_parts == 3 and row.sms_message_ids.split() == message["message_ids"]


@pytest_twisted.inlineCallbacks
def test_the_ad_is_left_out_when_it_would_pass_the_part_budget(database: Database,
                                                               password: str) -> Any:
    smsc = yield Smsc(dlr=None).start()
    database.campaign("long", "x" * 40)
    raw = sms_section(smsc.port, max_parts=1, templates={"en": {
        "to_callee": "{caller} called you at {time}." + "." * 110 + "{ad}"}}, language="en")
    [attempt] = database.queue()
    sms = scheduler(parse(raw), database)
    sms.startService()
    try:
        yield smsc.wait(lambda: database.status(attempt) == "submitted",
                        what="submitted")
    finally:
        yield sms.stopService()
        yield smsc.stop()
    [message] = smsc.of("message")
    assert "x" not in message["text"] and message["parts"] == 1
    assert database.rows()[attempt].sms_campaign_id is None
    assert database.campaigns()["long"].impressions == 0


@pytest_twisted.inlineCallbacks
def test_smsc_down_queued_sms_wait_then_go_once_and_old_ones_expire(database: Database,
                                                                   password: str) -> Any:
    port = free_tcp_port()
    waiting = database.queue(5)
    [too_old] = database.queue(queued_ago=7200)
    sms = scheduler(parse(sms_section(port, max_age_s=3600)), database)
    sms.startService()
    smsc = Smsc(port=port)
    try:
        yield smsc.wait(lambda: database.status(too_old) == "expired",
                        what="expiry")
        yield smsc.wait(lambda: sms.pool.binds[0].failures >= 3, what="binds failing")
        assert {database.rows()[i].sms_status for i in waiting} == {"queued"}
        assert sms.counters.queue_depth == 5
        yield smsc.start()
        yield smsc.wait(lambda: database.count("delivered") == 5, what="all delivered")
    finally:
        yield sms.stopService()
        yield smsc.stop()
    assert len(smsc.of("message")) == 5  # each once
    assert database.rows()[too_old].sms_message_id is None


@pytest_twisted.inlineCallbacks
def test_throttling_answers_slow_down_and_every_sms_goes(database: Database,
                                                         password: str) -> Any:
    smsc = yield Smsc(throttle_every=3, dlr=None).start()
    ids = database.queue(30)
    sms = scheduler(parse(sms_section(smsc.port)), database)
    sms.startService()
    try:
        yield smsc.wait(lambda: database.count("submitted") == len(ids),
                        timeout=20, what="all submitted")
    finally:
        yield sms.stopService()
        yield smsc.stop()
    assert len(smsc.of("message")) == 30
    assert sms.pool.counters.throttled == len(smsc.of("throttled")) >= 10


@pytest_twisted.inlineCallbacks
def test_ads_rotate_by_weight_with_class_targets_and_daily_cap(database: Database,
                                                                password: str) -> Any:
    smsc = yield Smsc(dlr=None).start()
    database.campaign("heavy", "HEAVY", weight=3)
    database.campaign("light", "LIGHT", weight=1)
    database.campaign("capped", "CAPPED", weight=4, daily_cap=10)
    database.campaign("intl", "INTL", weight=100, classes="international")
    database.campaign("paused", "PAUSED", weight=100, status="paused")
    ids = database.queue(400)
    raw = sms_section(smsc.port, templates={"en": {"to_callee": "{caller} called.{ad}"}},
                      language="en")
    sms = scheduler(parse(raw), database)
    sms.startService()
    try:
        yield smsc.wait(lambda: database.count("submitted") == len(ids),
                        timeout=30, what="all submitted")
    finally:
        yield sms.stopService()
        yield smsc.stop()
    seen = Counter(message["text"].rsplit(" - ", 1)[-1] for message in smsc.of("message"))
    assert seen["CAPPED"] == 10
    assert seen["INTL"] == seen["PAUSED"] == 0
    assert seen["HEAVY"] + seen["LIGHT"] == 390
    assert 2.2 <= seen["HEAVY"] / seen["LIGHT"] <= 4.0  # weight 3:1 (binomial, n=390)
    campaigns = database.campaigns()
    assert {name: row.impressions for name, row in campaigns.items()} == {
        "heavy": seen["HEAVY"], "light": seen["LIGHT"], "capped": 10, "intl": 0, "paused": 0}


@pytest_twisted.inlineCallbacks
def test_senders_per_class_and_the_second_sms_to_a(database: Database, password: str) -> Any:
    smsc = yield Smsc(dlr=None).start()
    raw = sms_section(
        smsc.port, to_caller=True, language="en",
        templates={"en": {"to_callee": "{caller} called you.{ad}",
                          "to_caller": "We told {callee} you called. Top up: *100#"}},
        sender={"off_net": {"type": "short_code", "value": "9123"},
                "on_net": {"type": "alphanumeric", "value": "Beepcall"}},
        caller_sender={"type": "alphanumeric", "value": "MyOperator"})
    [on_net] = database.queue(callee_class="on_net")
    [off_net] = database.queue(callee_class="off_net", callee="84977000003")
    sms = scheduler(parse(raw), database)
    sms.startService()
    try:
        yield smsc.wait(lambda: len(smsc.of("message")) == 4, what="4 SMS")
        yield smsc.wait(lambda: database.count("submitted") == 2, what="rows")
    finally:
        yield sms.stopService()
        yield smsc.stop()
    seen = {(m["destination"], m["source"], m["source_ton"], m["text"])
            for m in smsc.of("message")}
    assert seen == {
        (B, "Beepcall", 5, "0912000001 called you."),
        ("84977000003", "9123", 3, "0912000001 called you."),
        (A, "MyOperator", 5, "We told 0987000002 you called. Top up: *100#"),
        (A, "MyOperator", 5, "We told 0977000003 you called. Top up: *100#"),
    }
    assert sms.counters.to_caller == 2
    assert {database.status(on_net), database.status(off_net)} == {"submitted"}


@pytest_twisted.inlineCallbacks
def test_the_queue_is_bounded_the_oldest_expire(database: Database, password: str) -> Any:
    port = free_tcp_port()
    oldest = database.queue(2, queued_ago=30)
    newest = database.queue(3, queued_ago=5)
    sms = scheduler(parse(sms_section(port, max_queued=3)), database)
    sms.startService()
    smsc = Smsc(port=port, dlr=None)
    try:
        yield smsc.wait(lambda: database.count("expired") == 2, what="trimmed")
        yield smsc.start()
        yield smsc.wait(lambda: database.count("submitted") == 3, what="the rest sent")
    finally:
        yield sms.stopService()
        yield smsc.stop()
    assert {database.status(i) for i in oldest} == {"expired"}
    assert {database.status(i) for i in newest} == {"submitted"}
    assert len(smsc.of("message")) == 3
