"""The beep emitter against SIPp playing B's network, over real loopback sockets.

Every test captures the traffic on ``lo`` and has tshark decode it: each message SIPp saw
must be a SIP PDU, with no malformed packet and no error-level expert item.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer
from twisted.internet import reactor as _reactor

from interceptor.core.section import Section
from interceptor.core.vocabulary import OutcomeKind
from interceptor.sip.config import parse_sip
from interceptor.sip.emitter import BeepEmitter
from interceptor.sip.outcome import BeepOutcome, BeepRequest
from tests.peers.capture import CaptureFactory, PacketCapture
from tests.sip.conftest import SippFactory
from tests.sip.sipp import EXIT_ALL_OK, SippUas, TracedMessage, free_port

logger = logging.getLogger(__name__)

pytestmark = pytest.mark.integration
reactor: Any = _reactor  # zope interfaces are opaque to mypy

RING_RANGE_MS = (300.0, 500.0)


def make_emitter(port: int, transport: str = "udp", **sip: Any) -> BeepEmitter:
    raw: dict[str, Any] = {
        "local_address": "127.0.0.1",
        "routes": {"on_net": {"host": "127.0.0.1", "port": port, "domain": "ims.test",
                              "transport": transport}},
    }
    raw.update(sip)
    return BeepEmitter(parse_sip(Section(raw, ("sip",))), reactor, seed=port)


def request(index: int) -> BeepRequest:
    return BeepRequest(f"attempt-{index}", "+84901234567", f"+8491234{index:04d}", "on_net",
                       reactor.seconds())


@defer.inlineCallbacks
def beep(emitter: BeepEmitter, count: int = 1, timeout: float = 30.0) -> Any:
    """Start the emitter, send ``count`` beeps, stop it; returns the outcomes."""
    yield emitter.startService()
    try:
        waits = [emitter.submit(request(index)).addTimeout(timeout, reactor)
                 for index in range(count)]
        outcomes = yield defer.gatherResults(waits, consumeErrors=True)
    finally:
        yield emitter.stopService()
    return outcomes


def assert_decodes_cleanly(capture: PacketCapture, uas: SippUas) -> None:
    capture.stop()
    capture.assert_clean()
    decoded = sorted((pdu.call_id or "", pdu.cseq or "", pdu.method or str(pdu.status_code))
                     for pdu in capture.sip_messages())
    traced = sorted((m.header("Call-ID") or "", m.header("CSeq") or "",
                     m.method or str(m.status)) for m in uas.messages())
    assert decoded == traced, capture.summary()


def by_call(messages: list[TracedMessage]) -> dict[str, list[TracedMessage]]:
    calls: dict[str, list[TracedMessage]] = {}
    for message in messages:
        calls.setdefault(message.header("Call-ID") or "", []).append(message)
    return calls


@pytest_twisted.inlineCallbacks
def test_ring_then_cancel(sipp_factory: SippFactory, packet_capture_factory: CaptureFactory) -> Any:
    """180 -> CANCEL 300..500 ms later as SIPp measures it; 200/487/ACK complete the call."""
    calls = 5
    uas = sipp_factory("ring_cancel.xml", calls=calls)
    capture = packet_capture_factory(sip_udp_ports=[uas.port])
    outcomes: list[BeepOutcome] = yield beep(make_emitter(uas.port), calls)
    assert (yield uas.wait()) == EXIT_ALL_OK, uas.screen()

    assert [o.kind for o in outcomes] == [OutcomeKind.RANG] * calls
    assert all(o.final_code == 487 for o in outcomes)
    for outcome in outcomes:
        assert outcome.ring_time is not None and 0.3 <= outcome.ring_time <= 0.5
    rtds = uas.rtds("ring")
    assert len(rtds) == calls
    logger.info("SIPp 180->CANCEL (ms): %s", rtds)
    assert all(RING_RANGE_MS[0] <= rtd <= RING_RANGE_MS[1] for rtd in rtds), rtds
    for call_id, messages in by_call(uas.messages()).items():
        sent_180 = next(m for m in messages if m.status == 180)
        cancel = next(m for m in messages if m.method == "CANCEL")
        delay_ms = (cancel.time - sent_180.time) * 1000
        assert RING_RANGE_MS[0] <= delay_ms <= RING_RANGE_MS[1], (call_id, delay_ms)
        invite = next(m for m in messages if m.method == "INVITE")
        ack = next(m for m in messages if m.method == "ACK")
        assert invite.header("X-Beepcall") == "1"
        assert ack.header("Via") == invite.header("Via")  # same transaction
        assert [m.method or m.status for m in messages] == \
            ["INVITE", 100, 180, "CANCEL", 200, 487, "ACK"]
    assert_decodes_cleanly(capture, uas)


@pytest.mark.parametrize(("scenario", "status", "kind"), [
    ("busy.xml", 486, OutcomeKind.BUSY),
    ("not_found.xml", 404, OutcomeKind.NOT_FOUND),
    ("unavailable.xml", 480, OutcomeKind.UNAVAILABLE),
])
@pytest_twisted.inlineCallbacks
def test_final_response_is_acked(sipp_factory: SippFactory, packet_capture_factory: CaptureFactory,
                                 scenario: str, status: int, kind: OutcomeKind) -> Any:
    uas = sipp_factory(scenario)
    capture = packet_capture_factory(sip_udp_ports=[uas.port])
    [outcome] = yield beep(make_emitter(uas.port))
    assert (yield uas.wait()) == EXIT_ALL_OK, uas.screen()  # the scenario ends with the ACK
    assert outcome.kind is kind and outcome.final_code == status
    messages = uas.messages()
    assert [m.method or m.status for m in messages] == ["INVITE", 100, status, "ACK"]
    invite, ack = messages[0], messages[-1]
    assert ack.header("Via") == invite.header("Via")
    assert ack.first_line.split()[1] == invite.first_line.split()[1]
    assert (ack.header("To") or "").endswith(";tag=" + (messages[2].header("To") or "")
                                             .split(";tag=")[1])
    assert_decodes_cleanly(capture, uas)


@pytest_twisted.inlineCallbacks
def test_answered_at_once_is_acked_and_byed(sipp_factory: SippFactory,
                                           packet_capture_factory: CaptureFactory) -> Any:
    uas = sipp_factory("answer.xml")
    capture = packet_capture_factory(sip_udp_ports=[uas.port])
    [outcome] = yield beep(make_emitter(uas.port))
    assert (yield uas.wait()) == EXIT_ALL_OK, uas.screen()  # ACK and BYE arrived
    assert outcome.kind is OutcomeKind.ANSWERED and outcome.final_code == 200
    messages = uas.messages()
    assert [m.method or m.status for m in messages] == ["INVITE", 200, "ACK", "BYE", 200]
    invite, ok, ack, bye = messages[:4]
    contact = f"sip:b@127.0.0.1:{uas.port}"
    for request_ in (ack, bye):
        assert request_.first_line.split()[1] == contact
        assert request_.header("Route") == f"<sip:127.0.0.1:{uas.port};lr>"
        assert request_.header("Via") != invite.header("Via")  # new transactions
        assert request_.header("To") == ok.header("To")
    assert_decodes_cleanly(capture, uas)


@pytest_twisted.inlineCallbacks
def test_no_answer_at_all_ends_on_timer_b(sipp_factory: SippFactory,
                                         packet_capture_factory: CaptureFactory) -> Any:
    uas = sipp_factory("silent.xml", pause_ms=6000)
    capture = packet_capture_factory(sip_udp_ports=[uas.port])
    [outcome] = yield beep(make_emitter(uas.port, timers={"timer_b_ms": 2000}))
    assert outcome.kind is OutcomeKind.NO_RESPONSE and outcome.final_code is None
    assert outcome.times.final is not None and outcome.times.invite_sent is not None
    assert 1.95 <= outcome.times.final - outcome.times.invite_sent <= 2.3
    uas.stop()
    invites = [m for m in uas.messages() if m.method == "INVITE"]
    offsets = [round(m.time - invites[0].time, 1) for m in invites]
    assert offsets == [0.0, 0.5, 1.5], offsets  # Timer A: T1, then doubled
    assert len({m.text for m in invites}) == 1  # retransmissions are identical
    assert_decodes_cleanly(capture, uas)


@pytest_twisted.inlineCallbacks
def test_trying_only_is_cancelled_after_ring_wait(sipp_factory: SippFactory,
                                                 packet_capture_factory: CaptureFactory) -> Any:
    uas = sipp_factory("trying_only.xml")
    capture = packet_capture_factory(sip_udp_ports=[uas.port])
    [outcome] = yield beep(make_emitter(uas.port, ring_wait_ms=1000))
    assert (yield uas.wait()) == EXIT_ALL_OK, uas.screen()
    assert outcome.kind is OutcomeKind.NO_RING and outcome.final_code == 487
    [wait] = uas.rtds("wait")
    assert 950 <= wait <= 1100, wait  # 100 Trying -> CANCEL, SIPp's measure
    assert_decodes_cleanly(capture, uas)


@pytest_twisted.inlineCallbacks
def test_unanswered_first_invite_is_retransmitted(sipp_factory: SippFactory,
                                                 packet_capture_factory: CaptureFactory) -> Any:
    """SIPp sits on the first INVITE for 800 ms (as if it were lost): the retransmission
    arrives ~500 ms after it, and the call then completes as usual."""
    uas = sipp_factory("ring_cancel.xml", pause_ms=800)
    capture = packet_capture_factory(sip_udp_ports=[uas.port])
    [outcome] = yield beep(make_emitter(uas.port))
    assert (yield uas.wait()) == EXIT_ALL_OK, uas.screen()
    assert outcome.kind is OutcomeKind.RANG
    messages = uas.messages()
    assert [m.method or m.status for m in messages] == \
        ["INVITE", "INVITE", 100, 180, "CANCEL", 200, 487, "ACK"]
    first, second = messages[0], messages[1]
    assert first.text == second.text
    assert 0.45 <= second.time - first.time <= 0.6, second.time - first.time
    assert uas.stats().get("1_INVITE_Retrans", "1") != "0"
    [rtd] = uas.rtds("ring")
    assert RING_RANGE_MS[0] <= rtd <= RING_RANGE_MS[1]
    assert_decodes_cleanly(capture, uas)


@pytest_twisted.inlineCallbacks
def test_ring_then_cancel_over_tcp(sipp_factory: SippFactory,
                                   packet_capture_factory: CaptureFactory) -> Any:
    calls = 3
    uas = sipp_factory("ring_cancel.xml", calls=calls, transport="t1")
    capture = packet_capture_factory(sip_tcp_ports=[uas.port])
    outcomes = yield beep(make_emitter(uas.port, transport="tcp"), calls)
    assert (yield uas.wait()) == EXIT_ALL_OK, uas.screen()
    assert [o.kind for o in outcomes] == [OutcomeKind.RANG] * calls
    rtds = uas.rtds("ring")
    assert len(rtds) == calls
    assert all(RING_RANGE_MS[0] <= rtd <= RING_RANGE_MS[1] for rtd in rtds), rtds
    invite = next(m for m in uas.messages() if m.method == "INVITE")
    assert (invite.header("Via") or "").startswith("SIP/2.0/TCP 127.0.0.1")
    capture.stop()
    capture.assert_clean()
    assert len(capture.sip_messages()) == len(uas.messages())


@pytest_twisted.inlineCallbacks
def test_port_unreachable_is_a_network_error() -> Any:
    port = free_port()  # nothing listens: the kernel answers ICMP port unreachable
    [outcome] = yield beep(make_emitter(port), timeout=5)
    assert outcome.kind is OutcomeKind.NETWORK_ERROR
    assert outcome.reason == f"ICMP port unreachable from 127.0.0.1:{port}"
    assert outcome.times.final is not None and outcome.times.invite_sent is not None
    assert outcome.times.final - outcome.times.invite_sent < 0.4  # before any retransmission
