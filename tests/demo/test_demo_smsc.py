"""The demo's built-in SMSC against the real ESME (interceptor.smpp) over loopback TCP:
bind checks, reassembly (UDH 8/16-bit, SAR), UCS-2 and GSM text, receipts on the
SMSC's clock, enquire_link, generic_nack."""

from __future__ import annotations

import logging
import struct
from dataclasses import replace
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, task
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol

from interceptor.demo.smsc import DemoSmsc
from interceptor.smpp import BindConfig, DeliveryReceipt, PoolConfig, ShortMessage, SmppPool, codec
from interceptor.smpp.messages import Address
from interceptor.sms import gsm7
from tests.diameter.harness import wait_until

pytestmark = pytest.mark.integration

SYSTEM_ID, PASSWORD = "beepcall", "s3cr3t"
A, B = "84912000001", "84987000002"
# 97 characters outside GSM 03.38: UCS-2, two parts of at most 67
VIETNAMESE = ("0912 000 001 đã gọi cho bạn lúc 10:32. Gọi lại ngay nhé! - "
              "Nạp thẻ hôm nay, nhận thêm 50% giá trị: *100#")


def bind_config(port: int, **changes: Any) -> BindConfig:
    base = BindConfig(name="demo", host="127.0.0.1", port=port, system_id=SYSTEM_ID,
                      password=PASSWORD, reconnect_initial=0.05, reconnect_max=0.2,
                      reconnect_after_loss=0.05, response_timeout=2.0)
    return replace(base, **changes)


def make_pool(bind: BindConfig, receipts: list[DeliveryReceipt]) -> SmppPool:
    config = PoolConfig(binds=(bind,), max_per_second=2000, burst=100,
                        throttle_delay=0.02, throttle_delay_max=0.2)
    pool = SmppPool(config, reactor, receipts.append, seed=1)
    pool.startService()
    return pool


def parts_of(text: str, mode: str, reference: int = 42) -> tuple[int, list[ShortMessage]]:
    encoded = gsm7.encode(text)
    parts = gsm7.concatenate(encoded.chunks(), reference, mode)
    return encoded.data_coding, [
        ShortMessage(source=Address(A), destination=Address(B),
                     data_coding=encoded.data_coding, payload=part.payload, udhi=part.udhi,
                     sar=part.sar) for part in parts]


@pytest_twisted.inlineCallbacks
def test_esme_binds_sends_a_two_part_vietnamese_sms_and_gets_receipts() -> Any:
    clock = task.Clock()  # the SMSC's receipts wait on this clock, not on real time
    smsc = DemoSmsc(clock, SYSTEM_ID, PASSWORD, receipt_delay=30.0)
    port = smsc.listen(reactor)
    receipts: list[DeliveryReceipt] = []
    pool = make_pool(bind_config(port), receipts)
    try:
        yield wait_until(lambda: pool.ready, timeout=5)
        data_coding, parts = parts_of(VIETNAMESE, "udh")
        assert (data_coding, len(parts)) == (8, 2)
        ids = yield defer.gatherResults([pool.submit(part) for part in parts])
        [message] = smsc.messages
        assert (message.destination, message.source, message.text) == (B, A, VIETNAMESE)
        assert (message.data_coding, message.parts, message.concat) == (8, 2, "udh")
        assert list(message.message_ids) == ids and len(set(ids)) == 2
        clock.advance(29.9)
        yield task.deferLater(reactor, 0.1, lambda: None)  # nothing may arrive yet
        assert receipts == []
        clock.advance(0.1)
        yield wait_until(lambda: len(receipts) == 2, timeout=5)
        assert sorted(receipts, key=lambda r: r.message_id) == \
            [DeliveryReceipt(message_id, "DELIVRD", "000") for message_id in sorted(ids)]
        assert (smsc.counters.binds, smsc.counters.submits, smsc.counters.receipts) == (1, 2, 2)
    finally:
        yield pool.stopService()
        yield smsc.stop()
    assert smsc.sessions == set()  # the ESME unbound and the SMSC let it go


@pytest_twisted.inlineCallbacks
def test_sar_udh16_and_gsm_texts_are_reassembled() -> Any:
    smsc = DemoSmsc(reactor, SYSTEM_ID, PASSWORD, receipt_delay=0.01)
    port = smsc.listen(reactor)
    receipts: list[DeliveryReceipt] = []
    pool = make_pool(bind_config(port), receipts)
    gsm_text = "B called you at 10:32 {urgent} ~ " * 6  # GSM with extension characters
    try:
        yield wait_until(lambda: pool.ready, timeout=5)
        _, sar_parts = parts_of(VIETNAMESE, "sar", reference=0x1234)
        yield defer.gatherResults([pool.submit(part) for part in reversed(sar_parts)])
        data_coding, gsm_parts = parts_of(gsm_text, "udh", reference=7)
        assert (data_coding, len(gsm_parts)) == (0, 2)
        # the same message with 16-bit reference UDHs (IEI 0x08), parts out of order
        udh16 = [replace(part, payload=bytes([6, 0x08, 4, 0x01, 0x02, 2, index])
                         + part.payload[6:])
                 for index, part in enumerate(gsm_parts, 1)]
        yield defer.gatherResults([pool.submit(part) for part in reversed(udh16)])
        yield pool.submit(ShortMessage(source=Address(A), destination=Address(B),
                                       data_coding=0,
                                       payload=b"".join(gsm7.encode("Hi €5").units),
                                       registered_delivery=False))
        yield wait_until(lambda: len(receipts) == 4, timeout=5)
    finally:
        yield pool.stopService()
        yield smsc.stop()
    assert [(m.concat, m.parts, m.data_coding, m.text) for m in smsc.messages] == [
        ("sar", 2, 8, VIETNAMESE), ("udh16", 2, 0, gsm_text), (None, 1, 0, "Hi €5")]
    assert smsc.counters.receipts == 4  # none for the SMS that asked for none


@pytest_twisted.inlineCallbacks
def test_wrong_password_is_refused(caplog: Any) -> Any:
    caplog.set_level(logging.ERROR)
    smsc = DemoSmsc(reactor, SYSTEM_ID, PASSWORD)
    port = smsc.listen(reactor)
    pool = make_pool(bind_config(port, password="wrong"), [])
    try:
        yield wait_until(lambda: smsc.counters.bind_refusals >= 2, timeout=5)
        assert not pool.ready and pool.counters.bind_refusals >= 2
        assert smsc.counters.binds == 0
    finally:
        yield pool.stopService()
        yield smsc.stop()
    assert "ESME_RINVPASWD" in caplog.text


class _RawClient(Protocol):
    """Sends PDUs as they are and collects every frame that comes back."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self._pending: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self._pending.append(data)
        stream = b"".join(self._pending)
        offset = 0
        while len(stream) - offset >= 4 and \
                len(stream) - offset >= codec.frame_length(stream, offset):
            length = codec.frame_length(stream, offset)
            self.frames.append(stream[offset:offset + length])
            offset += length
        self._pending = [stream[offset:]] if offset < len(stream) else []


@pytest_twisted.inlineCallbacks
def test_enquire_link_unknown_commands_and_submit_before_bind() -> Any:
    smsc = DemoSmsc(reactor, SYSTEM_ID, PASSWORD)
    port = smsc.listen(reactor)
    client = _RawClient()
    yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
    _, [message] = parts_of("hello", "udh")
    try:
        transport: Any = client.transport
        # submit_sm before any bind, enquire_link, an unknown command id (0x99), in one write
        transport.write(codec.encode(codec.submit_sm(message, 1))
                        + codec.encode(codec.enquire_link(2))
                        + struct.pack("!IIII", 16, 0x99, 0, 3))
        yield wait_until(lambda: len(client.frames) == 3, timeout=5)
        answers = [codec.decode(frame) for frame in client.frames]
        assert [(codec.command(pdu), codec.sequence(pdu)) for pdu in answers] == [
            ("submit_sm_resp", 1), ("enquire_link_resp", 2), ("generic_nack", 3)]
        assert [codec.status(pdu) for pdu in answers] == [0x04, 0, codec.ESME_RINVCMDID]
        assert smsc.messages == []
    finally:
        yield smsc.stop()
