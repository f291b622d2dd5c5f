"""The codec: what we build is valid SIP (checked with an independent parser), and what we
parse is read robustly."""

from __future__ import annotations

import random

import pytest

from interceptor.sip.message import (
    IdSource,
    OutgoingRequest,
    SipParseError,
    SipRequest,
    SipResponse,
    ack_for_non2xx,
    address_param,
    address_uri,
    build_response,
    cancel_for,
    parse_message,
    split_commas,
)
from interceptor.sip.sdp import build_offer, rejecting_answer

INVITE = OutgoingRequest(
    method="INVITE",
    uri="sip:+84912345678@ims.example.net;user=phone",
    sent_by="SIP/2.0/UDP 192.0.2.10:5070",
    branch="z9hG4bKabc123",
    from_="<sip:+84901234567@ims.example.net;user=phone>;tag=f1",
    to="<sip:+84912345678@ims.example.net;user=phone>",
    call_id="cid1@192.0.2.10",
    cseq=1,
    contact="<sip:beepcall@192.0.2.10:5070>",
    extra=(("P-Asserted-Identity", "<sip:+84901234567@ims.example.net;user=phone>"),
           ("X-Beepcall", "1")),
    content_type="application/sdp",
    body=build_offer("192.0.2.10", 49170, "inactive", 42),
)


def test_ids_have_rfc3261_branch_and_differ() -> None:
    ids = IdSource(random.Random(1))
    branches = {ids.branch() for _ in range(1000)}
    assert len(branches) == 1000
    assert all(branch.startswith("z9hG4bK") for branch in branches)
    assert ids.call_id("h").endswith("@h") and ids.tag() != ids.tag()


def test_built_requests_parse_with_an_independent_parser() -> None:
    sipmessage = pytest.importorskip("sipmessage")
    for request in (INVITE, cancel_for(INVITE), ack_for_non2xx(INVITE, INVITE.to + ";tag=b")):
        parsed = sipmessage.Message.parse(request.encode())
        assert parsed.method == request.method
        assert str(parsed.uri) == request.uri
        [via] = parsed.via
        assert via.parameters["branch"] == "z9hG4bKabc123"
        assert parsed.call_id == "cid1@192.0.2.10"
        assert parsed.cseq.sequence == 1 and parsed.cseq.method == request.method
        assert parsed.body == request.body
        assert parsed.content_length == len(request.body)
    tel = OutgoingRequest("INVITE", "tel:+84912345678", "SIP/2.0/UDP 192.0.2.10:5070",
                          "z9hG4bKx", "<tel:+84901234567>;tag=1", "<tel:+84912345678>", "c",
                          1)
    assert str(sipmessage.Message.parse(tel.encode()).to_address) == "<tel:+84912345678>"


def test_cancel_and_ack_derivation() -> None:
    cancel = cancel_for(INVITE, extra=(("X-Beepcall", "1"),))
    assert (cancel.method, cancel.uri, cancel.branch, cancel.cseq, cancel.to, cancel.from_) == \
        ("CANCEL", INVITE.uri, INVITE.branch, 1, INVITE.to, INVITE.from_)
    assert cancel.body == b"" and cancel.contact is None
    ack = ack_for_non2xx(INVITE, INVITE.to + ";tag=b")
    assert ack.encode().startswith(
        b"ACK sip:+84912345678@ims.example.net;user=phone SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKabc123;rport\r\n")
    assert b"CSeq: 1 ACK\r\n" in ack.encode()


def test_parse_response_with_compact_forms_folding_and_lists() -> None:
    data = (b"SIP/2.0 180 Ringing\r\n"
            b"v: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKabc123;rport=5070;received=1.2.3.4,"
            b" SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKother\r\n"
            b"f: <sip:+84901234567@ims.example.net;user=phone>;tag=f1\r\n"
            b"t: \"B, the callee\" <sip:+84912345678@ims.example.net;user=phone>\r\n"
            b"  ;tag=b9\r\n"
            b"i: cid1@192.0.2.10\r\n"
            b"CSeq:   1   INVITE\r\n"
            b"m: <sip:b@198.51.100.7;transport=udp>\r\n"
            b"Record-Route: <sip:p1;lr>, <sip:p2;lr>\r\nRecord-Route: <sip:p3;lr>\r\n"
            b"l: 0\r\n\r\n")
    response = parse_message(data)
    assert isinstance(response, SipResponse)
    assert (response.status, response.reason_phrase) == (180, "Ringing")
    assert response.branch == "z9hG4bKabc123"
    assert response.call_id == "cid1@192.0.2.10"
    assert (response.cseq_number, response.cseq_method) == (1, "INVITE")
    assert response.to_tag == "b9" and response.from_tag == "f1"
    assert response.all("record-route") == ["<sip:p1;lr>", "<sip:p2;lr>", "<sip:p3;lr>"]
    assert len(response.all("Via")) == 2
    assert address_uri(response.all("contact")[0]) == "sip:b@198.51.100.7;transport=udp"


def test_parse_body_by_content_length() -> None:
    head = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n"
            b"To: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n")
    assert parse_message(head + b"Content-Length: 4\r\n\r\nabcdEXTRA").body == b"abcd"
    assert parse_message(head + b"\r\nbody").body == b"body"  # no Content-Length over UDP
    with pytest.raises(SipParseError, match="Content-Length 9 but 4"):
        parse_message(head + b"Content-Length: 9\r\n\r\nabcd")


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "no end of headers"),
    (b"hello world\r\n\r\n", "bad start line"),
    (b"SIP/2.0 99 Odd\r\n\r\n", "bad status line"),
    (b"SIP/2.0 180 Ringing\r\nnocolon\r\n\r\n", "header line without a name"),
    (b"SIP/2.0 180 Ringing\r\nCall-ID: x\r\n\r\n", "no Via"),
    (b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: x\r\n"
     b"CSeq: one INVITE\r\n\r\n", "bad CSeq"),
    (b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n",
     "no From or To"),
    (b"SIP/2.0 180 \xff\xfe\r\n\r\n", "not UTF-8"),
])
def test_parse_errors(data: bytes, reason: str) -> None:
    with pytest.raises(SipParseError, match=reason):
        parse_message(data)


def test_oversized_message_refused() -> None:
    with pytest.raises(SipParseError, match="exceeds"):
        parse_message(b"x" * 2000, max_size=1500)


def test_header_helpers() -> None:
    assert split_commas('"Doe, J" <sip:j@h;a=1,2>;tag=x, <sip:k@h>') == \
        ['"Doe, J" <sip:j@h;a=1,2>;tag=x', "<sip:k@h>"]
    assert address_param("<sip:a@h;tag=no>;tag=yes", "tag") == "yes"
    assert address_param("sip:a@h;tag=z", "tag") == "z"
    assert address_param("<sip:a@h>", "tag") is None
    assert address_uri("sip:a@h;tag=1") == "sip:a@h"


def test_build_response_to_request() -> None:
    request = parse_message(
        b"BYE sip:beepcall@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1\r\n"
        b"Via: SIP/2.0/UDP p2;branch=z9hG4bK2\r\nFrom: <sip:b@h>;tag=1\r\nTo: <sip:a@h>\r\n"
        b"Call-ID: c\r\nCSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n")
    assert isinstance(request, SipRequest)
    response = build_response(request, 200, to_tag="t")
    assert response == (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1\r\n"
                        b"Via: SIP/2.0/UDP p2;branch=z9hG4bK2\r\nFrom: <sip:b@h>;tag=1\r\n"
                        b"To: <sip:a@h>;tag=t\r\nCall-ID: c\r\nCSeq: 3 BYE\r\n"
                        b"Content-Length: 0\r\n\r\n")


def test_sdp_offer_and_rejecting_answer() -> None:
    offer = build_offer("192.0.2.10", 49170, "sendrecv", 7).decode()
    assert offer.splitlines() == [
        "v=0", "o=- 7 7 IN IP4 192.0.2.10", "s=-", "c=IN IP4 192.0.2.10", "t=0 0",
        "m=audio 49170 RTP/AVP 0 8", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000",
        "a=sendrecv"]
    answer = rejecting_answer(b"v=0\r\nm=audio 3000 RTP/AVP 8 0\r\nm=video 3002 RTP/AVP 96\r\n",
                              "2001:db8::1", 9)
    assert answer is not None
    assert answer.decode().splitlines()[-3:] == ["t=0 0", "m=audio 0 RTP/AVP 8",
                                                 "m=video 0 RTP/AVP 96"]
    assert b"c=IN IP6 2001:db8::1" in answer
    assert rejecting_answer(b"v=0\r\n", "192.0.2.1", 1) is None
