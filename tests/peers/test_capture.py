"""Self-checks of the packet capture fixture: decodes good traffic, flags malformed traffic."""

from __future__ import annotations

import logging
import socket
import struct

import pytest

from tests.peers.capture import CaptureFactory, free_udp_port
from tests.peers.freediameter import (
    CMD_CCR,
    CMD_CER,
    DCCA_APPLICATION_ID,
    ConnectPeer,
    FreeDiameterConfig,
    FreeDiameterFactory,
    StubFactory,
    answer_ccr,
    credit_control_request,
    free_tcp_port,
    realm_route,
)

logger = logging.getLogger(__name__)

pytestmark = pytest.mark.integration

AVP_ORIGIN_HOST = 264


def test_capture_decodes_cer_cea_between_freediameter_and_python_peer(
    freediameter_factory: FreeDiameterFactory,
    diameter_stub_factory: StubFactory,
    packet_capture_factory: CaptureFactory,
) -> None:
    """CER/CEA between freeDiameterd and the Python peer decode cleanly on non-standard ports."""
    agent = diameter_stub_factory("agent.test", "test")
    agent_port = agent.listen()
    fd_port = free_tcp_port()
    capture = packet_capture_factory(diameter_ports=[agent_port, fd_port])

    fd = freediameter_factory(
        FreeDiameterConfig(
            "fd.test", "test", port=fd_port, connect_peers=[ConnectPeer("agent.test", agent_port)]
        )
    )
    fd.wait_peer_open("agent.test")
    agent.wait_connected()
    fd.stop()  # DPR/DPA, then close: also captured
    capture.stop()

    messages = capture.diameter_messages()
    assert messages, capture.summary()
    cers = [m for m in messages if m.command_code == CMD_CER and m.is_request]
    ceas = [m for m in messages if m.command_code == CMD_CER and not m.is_request]
    assert len(cers) == 1 and len(ceas) == 1, "\n".join(map(str, messages))
    cer, cea = cers[0], ceas[0]
    assert cer.dst_port == agent_port and cea.src_port == agent_port
    assert (cea.hop_by_hop, cea.end_to_end) == (cer.hop_by_hop, cer.end_to_end)
    assert cer.avp("Origin-Host") == ["fd.test"]
    assert cea.avp("Origin-Host") == ["agent.test"]
    assert cea.result_code == 2001
    assert cer.flag_string == "R---" and cea.flag_string == "----"
    assert [m.command_code for m in messages].count(282) == 2, "DPR and DPA expected at stop"
    assert capture.problems() == [], capture.summary()
    capture.assert_clean()


def test_capture_decodes_relayed_ccr_session_id_and_route_record(
    freediameter_factory: FreeDiameterFactory,
    diameter_stub_factory: StubFactory,
    packet_capture_factory: CaptureFactory,
) -> None:
    """Both legs of a CCR relayed by freeDiameter decode with Session-Id and Route-Record."""
    ocs = diameter_stub_factory("ocs.ocs.test", "ocs.test", handlers={CMD_CCR: answer_ccr})
    ocs_port = ocs.listen()
    relay_port = free_tcp_port()
    capture = packet_capture_factory(diameter_ports=[relay_port, ocs_port])
    relay = freediameter_factory(
        FreeDiameterConfig(
            "relay.test",
            "test",
            port=relay_port,
            connect_peers=[ConnectPeer("ocs.ocs.test", ocs_port)],
            accept_peers=["interceptor.test"],
            routes=[realm_route("ocs.test", "ocs.ocs.test")],
        )
    )
    relay.wait_peer_open("ocs.ocs.test")
    client = diameter_stub_factory("interceptor.test", "test")
    client.connect("127.0.0.1", relay_port)
    session = "interceptor.test;7;1"
    cca = client.request(credit_control_request(session, "interceptor.test", "test", "ocs.test"))
    assert cca.result_code == 2001
    capture.stop()

    ccrs = [m for m in capture.diameter_messages() if m.command_code == CMD_CCR]
    legs = {(m.is_request, m.dst_port == ocs_port or m.src_port == ocs_port): m for m in ccrs}
    assert len(ccrs) == 4 and len(legs) == 4, "\n".join(map(str, ccrs))
    client_ccr, ocs_ccr = legs[(True, False)], legs[(True, True)]
    assert {m.session_id for m in ccrs} == {session}
    assert all(m.application_id == DCCA_APPLICATION_ID and m.is_proxyable for m in ccrs)
    assert client_ccr.route_records == []
    assert ocs_ccr.route_records == ["interceptor.test"]
    assert ocs_ccr.end_to_end == client_ccr.end_to_end  # relays keep end-to-end
    assert legs[(False, False)].hop_by_hop == client_ccr.hop_by_hop
    assert legs[(False, True)].result_code == 2001
    capture.assert_clean()


def _cer_with_bad_avp_length() -> bytes:
    """A CER whose only AVP claims 200 bytes while 16 are present."""
    value = b"bad.host"
    avp = struct.pack("!IB", AVP_ORIGIN_HOST, 0x40) + (200).to_bytes(3, "big") + value
    length = 20 + len(avp)
    header = (
        bytes([1])
        + length.to_bytes(3, "big")
        + bytes([0x80])
        + CMD_CER.to_bytes(3, "big")
        + struct.pack("!III", 0, 0x1234, 0x5678)
    )
    return header + avp


def test_capture_reports_malformed_diameter(
    diameter_stub_factory: StubFactory, packet_capture_factory: CaptureFactory
) -> None:
    """A Diameter message with a bad AVP length is reported as malformed (so the check can fail)."""
    agent = diameter_stub_factory("agent.test", "test")
    port = agent.listen()
    capture = packet_capture_factory(diameter_ports=[port])

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(_cer_with_bad_avp_length())
        # the stub fails to parse it and closes: EOF proves the bytes went through
        sock.settimeout(5)
        assert sock.recv(100) == b""
    capture.stop()

    messages = capture.diameter_messages()
    assert [(m.command_code, m.hop_by_hop) for m in messages] == [(CMD_CER, 0x1234)], (
        capture.summary()
    )
    problems = capture.problems()
    assert problems, capture.summary()
    assert all(p.frame == messages[0].frame for p in problems)
    assert any(p.malformed and p.protocol == "diameter" and "AVP" in p.message for p in problems), (
        problems
    )
    with pytest.raises(AssertionError, match=r"MALFORMED/Malformed"):
        capture.assert_clean()
    assert agent.errors, "the stub should also have rejected the message"


def test_capture_decodes_sip_over_udp(packet_capture_factory: CaptureFactory) -> None:
    """UDP ports declared as SIP are decoded as SIP."""
    sip_port = free_udp_port()
    capture = packet_capture_factory(sip_udp_ports=[sip_port])
    options = (
        f"OPTIONS sip:probe@127.0.0.1:{sip_port} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-selfcheck\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:test@127.0.0.1>;tag=1\r\n"
        f"To: <sip:probe@127.0.0.1:{sip_port}>\r\n"
        "Call-ID: selfcheck-call-id\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(options, ("127.0.0.1", sip_port))
    capture.stop()

    sip = capture.sip_messages()
    assert [(m.method, m.call_id) for m in sip] == [("OPTIONS", "selfcheck-call-id")], (
        capture.summary()
    )
    assert capture.diameter_messages() == []
    capture.assert_clean()
