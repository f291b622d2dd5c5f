"""The ESME's timing and bookkeeping on a fake transport and ``task.Clock``: window,
response timeouts, enquire_link, generic_nack, throttling back-off, reconnect delays.
(The real-server tests in test_smpp_client.py prove the protocol against an SMSC.)"""

from __future__ import annotations

from dataclasses import replace
from io import BytesIO
from typing import Any

import pytest
from smpp.pdu import operations as op
from smpp.pdu import pdu_types as t
from smpp.pdu.pdu_encoding import PDUEncoder
from twisted.internet import task
from twisted.internet.testing import StringTransport

from interceptor.smpp import codec
from interceptor.smpp.bind import SmppBind
from interceptor.smpp.config import BindConfig, PoolConfig
from interceptor.smpp.messages import Address, DeliveryReceipt, ShortMessage, parse_receipt
from interceptor.smpp.pool import SmppPool, SubmitFailedError
from interceptor.smpp.protocol import (
    BindLostError,
    EsmeProtocol,
    ResponseTimeoutError,
    SmppStatusError,
)

ENCODER = PDUEncoder()
CONFIG = BindConfig(name="b", host="127.0.0.1", port=2775, system_id="sys", password="pw",
                    window=2, enquire_link_interval=30, response_timeout=5)
MESSAGE = ShortMessage(Address("84912000001"), Address("84987000002"), 0, b"hi")


class Listener:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.receipts: list[DeliveryReceipt] = []

    def bound(self, session: EsmeProtocol) -> None:
        self.events.append("bound")

    def bind_refused(self, session: EsmeProtocol, error: SmppStatusError) -> None:
        self.events.append(f"refused {error.code:#x}")

    def closed(self, session: EsmeProtocol, reason: str) -> None:
        self.events.append("closed")

    def window_open(self, session: EsmeProtocol) -> None:
        self.events.append("window")

    def receipt(self, receipt: DeliveryReceipt) -> None:
        self.receipts.append(receipt)


def sent(transport: StringTransport) -> list[Any]:
    data = transport.value()
    transport.clear()
    pdus, offset = [], 0
    while offset < len(data):
        length = codec.frame_length(data, offset)
        pdus.append(ENCODER.decode(BytesIO(data[offset:offset + length])))
        offset += length
    return pdus


def feed(session: EsmeProtocol, *pdus: Any) -> None:
    session.dataReceived(b"".join(ENCODER.encode(pdu) for pdu in pdus))


def bound_session(config: BindConfig = CONFIG) -> tuple[EsmeProtocol, StringTransport,
                                                          task.Clock, Listener]:
    clock, listener, transport = task.Clock(), Listener(), StringTransport()
    session = EsmeProtocol(config, clock, listener)
    session.makeConnection(transport)
    [bind] = sent(transport)
    assert codec.command(bind) == "bind_transceiver"
    assert (bind.params["system_id"], bind.params["password"]) == (b"sys", b"pw")
    feed(session, op.BindTransceiverResp(seqNum=bind.seqNum, system_id="smsc"))
    assert listener.events == ["bound"]
    return session, transport, clock, listener


def test_window_submit_and_responses_split_across_reads() -> None:
    session, transport, _, listener = bound_session()
    first, second = session.submit(MESSAGE), session.submit(MESSAGE)
    assert session.window_room == 0
    a, b = sent(transport)
    wire = ENCODER.encode(op.SubmitSMResp(seqNum=a.seqNum, message_id="id-a")) + \
        ENCODER.encode(op.SubmitSMResp(seqNum=b.seqNum, message_id="id-b"))
    for index in range(0, len(wire), 7):  # TCP may cut PDUs anywhere
        session.dataReceived(wire[index:index + 7])
    assert (first.result, second.result) == ("id-a", "id-b")
    assert session.window_room == 2 and listener.events.count("window") == 2


def test_response_timeout_frees_the_window_and_late_answers_are_ignored() -> None:
    session, transport, clock, _ = bound_session()
    submitted = session.submit(MESSAGE)
    [pdu] = sent(transport)
    failures: list[Any] = []
    submitted.addErrback(failures.append)
    clock.advance(4.9)
    assert not failures
    clock.advance(0.2)
    assert failures and failures[0].check(ResponseTimeoutError)
    assert session.window_room == 2
    feed(session, op.SubmitSMResp(seqNum=pdu.seqNum, message_id="late"))  # no error


def test_throttled_and_generic_nack_statuses() -> None:
    session, transport, _, _ = bound_session()
    throttled, nacked = session.submit(MESSAGE), session.submit(MESSAGE)
    a, b = sent(transport)
    errors: list[Any] = []
    throttled.addErrback(errors.append)
    nacked.addErrback(errors.append)
    feed(session, op.SubmitSMResp(seqNum=a.seqNum, status=t.CommandStatus.ESME_RTHROTTLED),
         op.GenericNack(seqNum=b.seqNum, status=t.CommandStatus.ESME_RINVCMDLEN))
    assert [(e.value.code, e.value.transient) for e in errors] == [(0x58, True), (0x02, False)]
    assert errors[1].value.command == "generic_nack"


def test_enquire_link_keepalive_and_dead_link() -> None:
    session, transport, clock, _ = bound_session()
    clock.advance(30)
    [enquire] = sent(transport)
    assert codec.command(enquire) == "enquire_link"
    feed(session, op.EnquireLinkResp(seqNum=enquire.seqNum))
    clock.advance(30)
    [_again] = sent(transport)
    clock.advance(5.1)  # unanswered: the link is dead
    assert transport.disconnecting
    # and the SMSC's own enquire_link is answered
    feed(session, op.EnquireLink(seqNum=77))
    [answer] = sent(transport)
    assert (codec.command(answer), answer.seqNum) == ("enquire_link_resp", 77)


def test_bind_refused_then_lost_fails_outstanding_and_reports() -> None:
    clock, listener, transport = task.Clock(), Listener(), StringTransport()
    session = EsmeProtocol(CONFIG, clock, listener)
    session.makeConnection(transport)
    [bind] = sent(transport)
    feed(session, op.BindTransceiverResp(seqNum=bind.seqNum,
                                         status=t.CommandStatus.ESME_RINVPASWD))
    assert listener.events == ["refused 0xe"] and transport.disconnecting
    session, transport, _, listener = bound_session()
    pending = session.submit(MESSAGE)
    errors: list[Any] = []
    pending.addErrback(errors.append)
    session.connectionLost()
    assert errors[0].check(BindLostError) and listener.events[-1] == "closed"


def test_delivery_receipt_is_answered_and_reported() -> None:
    session, transport, _, listener = bound_session()
    receipt = op.DeliverSM(
        seqNum=9, service_type="", source_addr_ton=t.AddrTon.INTERNATIONAL,
        source_addr_npi=t.AddrNpi.ISDN, source_addr="84987000002",
        dest_addr_ton=t.AddrTon.INTERNATIONAL, dest_addr_npi=t.AddrNpi.ISDN,
        destination_addr="84912000001",
        esm_class=t.EsmClass(t.EsmClassMode.DEFAULT, t.EsmClassType.SMSC_DELIVERY_RECEIPT),
        protocol_id=0, priority_flag=t.PriorityFlag.LEVEL_0, schedule_delivery_time=None,
        validity_period=None, registered_delivery=t.RegisteredDelivery(
            t.RegisteredDeliveryReceipt.NO_SMSC_DELIVERY_RECEIPT_REQUESTED),
        replace_if_present_flag=t.ReplaceIfPresentFlag.DO_NOT_REPLACE,
        data_coding=t.DataCoding(), sm_default_msg_id=0,
        short_message=b"id:abc sub:001 dlvrd:001 submit date:2611251032 done "
                      b"date:2611251032 stat:DELIVRD err:000 text:")
    feed(session, receipt)
    [answer] = sent(transport)
    assert (codec.command(answer), answer.seqNum) == ("deliver_sm_resp", 9)
    assert listener.receipts == [DeliveryReceipt("abc", "DELIVRD", "000")]


def test_receipt_parsing_prefers_tlvs() -> None:
    assert parse_receipt("id:1 stat:UNDELIV err:012") == DeliveryReceipt("1", "UNDELIV", "012")
    assert parse_receipt("id:1 stat:ENROUTE", "x9", 2) == DeliveryReceipt("x9", "DELIVRD", None)
    assert parse_receipt("hello") is None


def test_unbind_waits_for_the_answer() -> None:
    session, transport, _, _ = bound_session()
    closed = session.unbind()
    [unbind] = sent(transport)
    assert codec.command(unbind) == "unbind" and not transport.disconnecting
    feed(session, op.UnbindResp(seqNum=unbind.seqNum))
    assert transport.disconnecting
    session.connectionLost()
    assert closed.called


def test_reconnect_delays_back_off_after_failures_and_are_short_after_a_loss() -> None:
    config = replace(CONFIG, reconnect_initial=1.0, reconnect_max=8.0,
                     reconnect_after_loss=0.25)
    bind = SmppBind(config, task.Clock(), Listener(), endpoint=lambda _: None, seed=1)
    delays = [bind.retry_delay(n) for n in range(1, 6)]
    for delay, base in zip(delays, [1, 2, 4, 8, 8], strict=True):
        assert 0.8 * base <= delay <= 1.2 * base
    session = EsmeProtocol(config, task.Clock(), bind)
    session.was_bound = True
    bind.bound(session)
    assert bind.failures == 0
    bind.closed(session, "lost")
    assert bind.retry_delay(1) == 0.25  # a bind that was up: back soon
    assert 0.8 <= bind.retry_delay(1) <= 1.2  # then failures back off again


def test_pool_pauses_a_throttled_bind_on_the_clock_then_resends() -> None:
    clock = task.Clock()
    config = PoolConfig(binds=(CONFIG,), max_per_second=1000, burst=10, throttle_delay=0.5,
                        throttle_delay_max=4.0)
    pool = SmppPool(config, clock, lambda r: None, endpoint=lambda _: None)
    pool._accepting = True
    transport = StringTransport()
    session = EsmeProtocol(CONFIG, clock, pool.binds[0])
    session.makeConnection(transport)
    [bind] = sent(transport)
    feed(session, op.BindTransceiverResp(seqNum=bind.seqNum, system_id="smsc"))
    done = pool.submit(MESSAGE)
    [first] = sent(transport)
    feed(session, op.SubmitSMResp(seqNum=first.seqNum, status=t.CommandStatus.ESME_RMSGQFUL))
    clock.advance(0.49)
    assert sent(transport) == []  # paused
    clock.advance(0.02)
    [second] = sent(transport)
    feed(session, op.SubmitSMResp(seqNum=second.seqNum,
                                  status=t.CommandStatus.ESME_RTHROTTLED))
    clock.advance(0.99)
    assert sent(transport) == []  # the pause doubles
    clock.advance(0.02)
    [third] = sent(transport)
    feed(session, op.SubmitSMResp(seqNum=third.seqNum, message_id="ok"))
    assert done.result == "ok"
    assert (pool.counters.throttled, pool.counters.resubmits) == (2, 2)


def test_pool_tps_cap_and_set_rate() -> None:
    clock = task.Clock()
    config = PoolConfig(binds=(replace(CONFIG, window=100),), max_per_second=10, burst=1)
    pool = SmppPool(config, clock, lambda r: None, endpoint=lambda _: None)
    pool._accepting = True
    transport = StringTransport()
    session = EsmeProtocol(replace(CONFIG, window=100), clock, pool.binds[0])
    session.makeConnection(transport)
    [bind] = sent(transport)
    feed(session, op.BindTransceiverResp(seqNum=bind.seqNum, system_id="smsc"))
    for _ in range(5):
        pool.submit(MESSAGE)
    assert len(sent(transport)) == 1
    clock.advance(0.1)
    assert len(sent(transport)) == 1
    pool.set_rate(1000)
    for _ in range(3):
        clock.advance(0.001)
    assert len(sent(transport)) == 3
    with pytest.raises(ValueError):
        pool.set_rate(0)


def test_pool_stop_fails_queued_parts_as_transient() -> None:
    pool = SmppPool(PoolConfig(binds=(CONFIG,)), task.Clock(), lambda r: None,
                    endpoint=lambda _: None)
    pool._accepting = True
    waiting = pool.submit(MESSAGE)  # no bind up: it waits
    errors: list[Any] = []
    waiting.addErrback(errors.append)
    pool._accepting = False
    pool.stopService()
    assert errors and errors[0].check(SubmitFailedError) and errors[0].value.transient
