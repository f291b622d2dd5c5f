"""Beep call flows on a fake reactor: timers, CANCEL, ACK, BYE, outcomes. No real time."""

from __future__ import annotations

import pytest
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from interceptor.core.vocabulary import OutcomeKind
from tests.sip.fakes import Harness, config, outcome_of, read, response

T1 = 0.5


def test_invite_shape() -> None:
    h = Harness()
    h.submit()
    [invite] = h.new()
    assert invite.method == "INVITE"
    assert invite.uri == "sip:+84912345678@ims.example.net;user=phone"
    assert h.port.connected == ("192.0.2.50", 5060)
    via = invite.header("Via")
    assert via.startswith(f"SIP/2.0/UDP 192.0.2.10:{h.port.port};branch=z9hG4bK")
    assert via.endswith(";rport")
    assert invite.header("From").startswith("<sip:+84901234567@ims.example.net;user=phone>;tag=")
    assert invite.header("To") == "<sip:+84912345678@ims.example.net;user=phone>"
    assert invite.header("P-Asserted-Identity") == "<sip:+84901234567@ims.example.net;user=phone>"
    assert invite.header("X-Beepcall") == "1"
    assert invite.header("P-Charging-Vector").startswith("icid-value=beepcall-")
    assert invite.header("Max-Forwards") == "70"
    assert invite.cseq == "1 INVITE"
    assert invite.header("Contact") == f"<sip:beepcall@192.0.2.10:{h.port.port}>"
    assert invite.header("Content-Type") == "application/sdp"
    assert int(invite.header("Content-Length")) == len(invite.body)
    sdp = invite.body.decode()
    assert "c=IN IP4 192.0.2.10\r\n" in sdp and "m=audio 49170 RTP/AVP 0 8\r\n" in sdp
    assert "a=inactive\r\n" in sdp


def test_tel_uri_and_configured_caller() -> None:
    h = Harness(config(routes={"international": {
        "host": "192.0.2.60", "domain": "ims.example.net", "uri_scheme": "tel",
        "caller_msisdn": "+84900000001"}}, sdp={"enabled": False}))
    h.submit(callee="4915112345678", callee_class="international")
    [invite] = h.new()
    assert invite.uri == "tel:+4915112345678"
    assert invite.header("To") == "<tel:+4915112345678>"
    assert invite.header("From").startswith("<tel:+84900000001>;tag=")
    assert invite.header("P-Asserted-Identity") == "<tel:+84900000001>"
    assert invite.all("Content-Type") == [] and invite.body == b""
    assert h.port.connected == ("192.0.2.60", 5060)


def test_timer_a_retransmits_doubling_then_timer_b() -> None:
    h = Harness()
    results = h.submit()
    [invite] = h.new()
    times = []
    for _ in range(400):
        h.advance(0.125)
        for sent in h.new():
            assert sent.raw == invite.raw  # a retransmission is byte-identical
            times.append(h.reactor.seconds())
        if results:
            break
    # T1=0.5: at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5; Timer B (64*T1 = 32 s) ends it.
    assert times == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    outcome = outcome_of(results)
    assert outcome.kind is OutcomeKind.NO_RESPONSE
    assert outcome.times.final == 32.0
    assert outcome.final_code is None
    h.advance(60)
    assert h.new() == []  # no CANCEL without a provisional response (RFC 3261 9.1)


def test_timer_b_configurable() -> None:
    h = Harness(config(timers={"timer_b_ms": 2000}, ring_wait_ms=8000))
    results = h.submit()
    h.advance(1.999)
    assert results == []
    h.advance(0.001)
    assert outcome_of(results).kind is OutcomeKind.NO_RESPONSE


def test_provisional_stops_retransmissions() -> None:
    h = Harness()
    h.submit()
    [invite] = h.new()
    h.answer(invite, 100, "Trying", to_tag=None)
    h.advance(5)
    assert h.new() == []


def test_ring_timer_cancels_at_exactly_400ms() -> None:
    h = Harness()
    results = h.submit()
    [invite] = h.new()
    h.advance(0.05)
    h.answer(invite, 100, "Trying", to_tag=None)
    h.advance(0.02)
    h.answer(invite, 180, "Ringing")
    h.advance(0.399)
    assert h.new() == []
    h.advance(0.001)
    [cancel] = h.new()
    assert cancel.method == "CANCEL"
    assert cancel.uri == invite.uri
    assert cancel.branch == invite.branch
    assert cancel.header("Via") == invite.header("Via")
    assert cancel.header("Call-ID") == invite.header("Call-ID")
    assert cancel.header("From") == invite.header("From")
    assert cancel.header("To") == invite.header("To")  # no tag of the 180
    assert cancel.cseq == "1 CANCEL"
    assert cancel.header("Content-Length") == "0"
    h.answer(cancel, 200, "OK")
    h.answer(invite, 487, "Request Terminated")
    [ack] = h.new()
    assert ack.method == "ACK" and ack.branch == invite.branch and ack.uri == invite.uri
    assert ack.header("To") == invite.header("To") + ";tag=btag"
    assert ack.cseq == "1 ACK"
    outcome = outcome_of(results)
    assert outcome.kind is OutcomeKind.RANG
    assert outcome.final_code == 487
    assert outcome.ring_time == pytest.approx(0.4)
    times = outcome.times
    assert (times.invite_sent, times.first_provisional, times.ringing) == \
        pytest.approx((0.0, 0.05, 0.07))
    assert times.cancel_sent == pytest.approx(0.47)
    assert outcome.call_id == invite.header("Call-ID")
    assert outcome.attempts == 1
    assert h.emitter.active == 0


def test_ring_time_from_config_and_183() -> None:
    h = Harness(config(ring_time_ms=300))
    results = h.submit()
    [invite] = h.new()
    h.answer(invite, 183, "Session Progress")
    h.advance(0.3)
    [cancel] = h.new()
    assert cancel.method == "CANCEL"
    h.answer(invite, 487, "Request Terminated")
    assert outcome_of(results).ring_time == pytest.approx(0.3)


def test_cancel_retransmitted_on_timer_e_until_answered() -> None:
    h = Harness()
    h.submit()
    [invite] = h.new()
    h.answer(invite, 180, "Ringing")
    h.advance(0.4)
    [cancel] = h.new()
    h.advance(0.5)
    assert [s.raw for s in h.new()] == [cancel.raw]
    h.advance(1.0)
    assert [s.raw for s in h.new()] == [cancel.raw]
    h.answer(cancel, 200, "OK")
    h.advance(10)
    assert h.new() == []


def test_cancel_without_final_gives_up_after_64_t1() -> None:
    h = Harness(config(timers={"timer_b_ms": 4000}))
    results = h.submit()
    [invite] = h.new()
    h.answer(invite, 180, "Ringing")
    h.advance(0.4)
    [cancel] = h.new()
    h.answer(cancel, 200, "OK")
    h.advance(3.999)
    assert results == []
    h.advance(0.001)
    outcome = outcome_of(results)
    assert outcome.kind is OutcomeKind.RANG and outcome.final_code is None


@pytest.mark.parametrize(("status", "reason", "kind"), [
    (486, "Busy Here", OutcomeKind.BUSY),
    (600, "Busy Everywhere", OutcomeKind.BUSY),
    (480, "Temporarily Unavailable", OutcomeKind.UNAVAILABLE),
    (404, "Not Found", OutcomeKind.NOT_FOUND),
    (604, "Does Not Exist Anywhere", OutcomeKind.NOT_FOUND),
    (603, "Decline", OutcomeKind.DECLINED),
    (503, "Service Unavailable", OutcomeKind.NETWORK_ERROR),
    (403, "Forbidden", OutcomeKind.REJECTED),
    (488, "Not Acceptable Here", OutcomeKind.REJECTED),
])
def test_final_responses_are_acked_and_mapped(status: int, reason: str,
                                             kind: OutcomeKind) -> None:
    h = Harness()
    results = h.submit()
    [invite] = h.new()
    h.answer(invite, 100, "Trying", to_tag=None)
    h.answer(invite, status, reason)
    [ack] = h.new()
    assert ack.method == "ACK" and ack.branch == invite.branch
    assert ack.header("To").endswith(";tag=btag")
    outcome = outcome_of(results)
    assert outcome.kind is kind
    assert outcome.final_code == status
    assert outcome.reason == f"{status} {reason}"
    assert outcome.ring_time is None


def test_retransmitted_final_is_acked_again_without_second_outcome() -> None:
    h = Harness()
    results = h.submit()
    [invite] = h.new()
    h.answer(invite, 486, "Busy Here")
    [ack] = h.new()
    for _ in range(3):
        h.advance(0.5)
        h.answer(invite, 486, "Busy Here")
        assert [s.raw for s in h.new()] == [ack.raw]  # one ACK per retransmission
    assert len(results) == 1 and outcome_of(results).kind is OutcomeKind.BUSY
    h.advance(32)  # Timer D over: now it is a stray response, dropped
    h.answer(invite, 486, "Busy Here")
    assert h.new() == []


def test_answered_before_cancel_acks_and_byes() -> None:
    h = Harness()
    results = h.submit()
    [invite] = h.new()
    h.answer(invite, 180, "Ringing")
    h.advance(0.1)
    h.answer(invite, 200, "OK", extra=(
        "Contact: <sip:b@198.51.100.7:5080;transport=udp>",
        "Record-Route: <sip:p2.example.net;lr>",
        "Record-Route: <sip:p1.example.net;lr>"),
        body=b"v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\n"
             b"t=0 0\r\nm=audio 30000 RTP/AVP 0\r\n")
    ack, bye = h.new()
    for request in (ack, bye):
        assert request.uri == "sip:b@198.51.100.7:5080;transport=udp"
        assert request.all("Route") == ["<sip:p1.example.net;lr>", "<sip:p2.example.net;lr>"]
        assert request.header("To") == invite.header("To") + ";tag=btag"
        assert request.header("From") == invite.header("From")
        assert request.branch != invite.branch
    assert ack.method == "ACK" and ack.cseq == "1 ACK" and ack.body == b""
    assert bye.method == "BYE" and bye.cseq == "2 BYE" and ack.branch != bye.branch
    outcome = outcome_of(results)
    assert outcome.kind is OutcomeKind.ANSWERED and outcome.final_code == 200
    h.advance(1)
    assert [s.raw for s in h.new()] == [bye.raw]  # Timer E: the BYE again; no CANCEL
    assert h.emitter.active == 1  # the BYE is still out
    h.answer(bye, 200, "OK")
    assert h.emitter.active == 0


def test_200_racing_cancel_is_acked_and_byed_once() -> None:
    h = Harness()
    results = h.submit()
    [invite] = h.new()
    h.answer(invite, 180, "Ringing")
    h.advance(0.4)
    [cancel] = h.new()
    assert cancel.method == "CANCEL"
    h.answer(invite, 200, "OK", extra=("Contact: <sip:b@198.51.100.7>",))
    ack, bye = h.new()
    assert (ack.method, bye.method) == ("ACK", "BYE")
    h.answer(cancel, 200, "OK")
    h.answer(invite, 200, "OK", extra=("Contact: <sip:b@198.51.100.7>",))  # retransmitted
    assert [s.raw for s in h.new()] == [ack.raw]  # the same ACK again, no second BYE
    h.answer(bye, 200, "OK")
    outcome = outcome_of(results)
    assert outcome.kind is OutcomeKind.ANSWERED
    assert outcome.ring_time == pytest.approx(0.4)


def test_200_to_invite_without_sdp_offer_gets_answer_in_ack() -> None:
    h = Harness(config(sdp={"enabled": False}))
    h.submit()
    [invite] = h.new()
    h.answer(invite, 200, "OK", extra=("Contact: <sip:b@198.51.100.7>",),
             body=b"v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\n"
                  b"t=0 0\r\nm=audio 30000 RTP/AVP 0 8\r\n")
    ack, _ = h.new()
    assert ack.header("Content-Type") == "application/sdp"
    assert b"m=audio 0 RTP/AVP 0\r\n" in ack.body


def test_trying_only_cancels_after_ring_wait() -> None:
    h = Harness(config(ring_wait_ms=2000))
    results = h.submit()
    [invite] = h.new()
    h.answer(invite, 100, "Trying", to_tag=None)
    h.advance(1.999)
    assert h.new() == []
    h.advance(0.001)
    [cancel] = h.new()
    assert cancel.method == "CANCEL"
    h.answer(cancel, 200, "OK")
    h.answer(invite, 487, "Request Terminated")
    outcome = outcome_of(results)
    assert outcome.kind is OutcomeKind.NO_RING
    assert outcome.times.ringing is None and outcome.ring_time is None
    assert outcome.times.cancel_sent == pytest.approx(2.0)


def test_cancel_waits_for_a_provisional_response() -> None:
    h = Harness(config(ring_wait_ms=1000))
    results = h.submit()
    [invite] = h.new()
    h.advance(1.2)  # ring-wait over, nothing back yet: only INVITE retransmissions
    assert {s.method for s in h.new()} == {"INVITE"}
    h.answer(invite, 100, "Trying", to_tag=None)
    [cancel] = h.new()
    assert cancel.method == "CANCEL"
    h.answer(invite, 487, "Request Terminated")
    assert outcome_of(results).kind is OutcomeKind.NO_RING


def test_icmp_unreachable_is_network_error() -> None:
    h = Harness()
    results = h.submit()
    h.new()
    h.port.refuse = True
    h.advance(0.5)  # the retransmission "meets" the ICMP error
    h.advance(0)
    outcome = outcome_of(results)
    assert outcome.kind is OutcomeKind.NETWORK_ERROR
    assert "ICMP port unreachable" in outcome.reason


def test_send_error_is_network_error() -> None:
    h = Harness()
    h.port.error = OSError(101, "Network is unreachable")
    results = h.submit()
    outcome = outcome_of(results)
    assert outcome.kind is OutcomeKind.NETWORK_ERROR
    assert "Network is unreachable" in outcome.reason
    assert h.emitter.active == 0


def test_bad_responses_are_ignored() -> None:
    h = Harness()
    results = h.submit()
    [invite] = h.new()
    port = h.port
    port.deliver(b"\x00\xffgarbage")
    port.deliver(b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP x\r\n\r\n")  # no Call-ID etc.
    port.deliver(b"SIP/2.0 abc Ringing\r\n\r\n")
    h.answer(invite, 180, "Ringing", call_id="someone-else")  # wrong Call-ID
    h.answer(invite, 486, "Busy Here", cseq="7 INVITE")  # wrong CSeq number
    h.answer(invite, 180, "Ringing", cseq="1 BYE")  # no such transaction
    port.deliver(b"SIP/2.0 180 Ringing\r\n" + invite.raw.split(b"\r\n", 1)[1][:40])  # cut
    assert results == []
    assert h.emitter.layer.bad_messages >= 5
    h.advance(0.5)
    assert {s.method for s in h.new()} == {"INVITE"}  # still retransmitting: none counted
    h.answer(invite, 486, "Busy Here")
    assert outcome_of(results).kind is OutcomeKind.BUSY


def test_requests_from_the_network_are_answered() -> None:
    h = Harness()
    h.submit()
    [invite] = h.new()
    call_id = invite.header("Call-ID")
    request = (f"BYE sip:beepcall@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bKx"
               f"\r\nFrom: <sip:b@x>;tag=1\r\nTo: <sip:a@y>;tag=2\r\nCall-ID: {call_id}\r\n"
               "CSeq: 5 BYE\r\nContent-Length: 0\r\n\r\n").encode()
    h.port.deliver(request)
    h.port.deliver(request.replace(call_id.encode(), b"unknown"))
    statuses = [raw.split(b" ")[1] for raw in h.port.written[1:]]
    assert statuses == [b"200", b"481"]


def test_next_hop_name_is_resolved_at_start() -> None:
    h = Harness(config(routes={"on_net": {"host": "icscf.ims.example.net", "port": 5080,
                                          "domain": "ims.example.net"}}))
    assert h.reactor.resolved == ["icscf.ims.example.net"]
    assert h.port.connected == ("192.0.2.99", 5080)


def test_tcp_has_no_retransmissions_but_timer_b() -> None:
    h = Harness(config(routes={"on_net": {"host": "192.0.2.50", "domain": "ims.example.net",
                                          "transport": "tcp"}}, timers={"timer_b_ms": 5000}))
    results = h.submit()
    [(host, port, factory)] = h.reactor.tcp_connects
    assert (host, port) == ("192.0.2.50", 5060)
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    invite = read(transport.value())
    assert invite.header("Via").startswith("SIP/2.0/TCP 192.0.2.10;branch=z9hG4bK")
    assert invite.header("Contact") == "<sip:beepcall@192.0.2.10;transport=tcp>"
    transport.clear()
    h.advance(4.9)
    assert transport.value() == b""  # reliable transport: no Timer A
    protocol.dataReceived(response(invite, 180, "Ringing")[:50])
    protocol.dataReceived(response(invite, 180, "Ringing")[50:])
    h.advance(0.4)
    cancel = read(transport.value())
    assert cancel.method == "CANCEL"
    protocol.dataReceived(response(cancel, 200, "OK") + response(invite, 487, "Terminated"))
    assert outcome_of(results).kind is OutcomeKind.RANG


def test_tcp_connect_failure_is_network_error() -> None:
    h = Harness(config(routes={"on_net": {"host": "192.0.2.50", "domain": "ims.example.net",
                                          "transport": "tcp"}}))
    results = h.submit()
    [(_, _, factory)] = h.reactor.tcp_connects
    factory.clientConnectionFailed(None, Failure(ConnectionRefusedError("refused")))
    h.advance(0)
    outcome = outcome_of(results)
    assert outcome.kind is OutcomeKind.NETWORK_ERROR
    assert outcome.reason.startswith("TCP connect to 192.0.2.50:5060 failed")


def test_stop_while_a_retry_waits_delivers_the_last_outcome() -> None:
    h = Harness(config(retry={"count": 1, "delay_s": 30}))
    results = h.submit()
    h.answer(h.new()[0], 486, "Busy Here")
    assert results == []
    h.emitter.stopService()
    outcome = outcome_of(results)
    assert outcome.kind is OutcomeKind.BUSY and outcome.attempts == 1
    h.advance(60)
    assert [s.method for s in h.new()] == ["ACK"]
