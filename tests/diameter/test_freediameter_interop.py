"""The interceptor against freeDiameter, an independent Diameter implementation, over TCP:
as our client peer (it dials us) and as our upstream peer (we dial it), with tshark
checking that everything on the wire decodes as valid Diameter.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer

from interceptor.core import avps
from interceptor.diameter import codec
from interceptor.diameter.traffic import CallAttempt, ccr
from tests.diameter.harness import (
    AGENT_HOST,
    CLIENT_HOST,
    RecordingOcs,
    agent_config,
    connect_client,
    ocs_echo,
    start_agent,
    wait_until,
)
from tests.peers.capture import CaptureFactory, PacketCapture
from tests.peers.freediameter import (
    CMD_CCR,
    CMD_CER,
    CMD_DWR,
    ConnectPeer,
    FreeDiameterConfig,
    FreeDiameterFactory,
    StubFactory,
    answer_ccr,
    credit_control_request,
    free_tcp_port,
    in_thread,
    realm_route,
)

pytestmark = pytest.mark.integration

FD_CLIENT = "pgw.client.test"
FD_UPSTREAM = "dra.test"


def _with_fd_client(config: dict[str, Any]) -> dict[str, Any]:
    config["peers"]["clients"].append({"origin_host": FD_CLIENT, "addresses": ["127.0.0.1"]})
    config["timers"]["watchdog"] = 6
    return config


@pytest_twisted.inlineCallbacks
def test_freediameter_as_client_peer_relays_ccr_through_the_interceptor(
    freediameter_factory: FreeDiameterFactory, diameter_stub_factory: StubFactory,
    packet_capture_factory: CaptureFactory,
) -> Generator[defer.Deferred[Any], Any, None]:
    """stub CTF -> freeDiameter (relay) -> interceptor -> OCS, and back."""
    ocs = RecordingOcs("ocs1.test", ocs_echo("ocs1.test"))
    ocs_port = ocs.listen()
    agent_port = free_tcp_port()
    fd_port = free_tcp_port()
    capture: PacketCapture = yield in_thread(packet_capture_factory,
                                             diameter_ports=[agent_port, ocs_port, fd_port])
    config = _with_fd_client(agent_config([("ocs1.test", ocs_port)]))
    config["listen"]["port"] = agent_port
    service = start_agent(config)
    fd = None
    try:
        yield wait_until(lambda: service.agent.peers["ocs1.test"].usable)
        fd = freediameter_factory(FreeDiameterConfig(
            FD_CLIENT, "client.test", port=fd_port, accept_peers=["ctf.client.test"],
            connect_peers=[ConnectPeer(AGENT_HOST, agent_port)],
            routes=[realm_route("ocs.test", AGENT_HOST)]))
        yield in_thread(fd.wait_peer_open, AGENT_HOST)
        yield in_thread(fd.assert_capabilities_exchanged, AGENT_HOST)
        assert service.agent.peers[FD_CLIENT].usable

        ctf = diameter_stub_factory("ctf.client.test", "client.test")
        yield in_thread(ctf.connect, "127.0.0.1", fd_port)
        request = credit_control_request("ctf;1;relay", "ctf.client.test", "client.test",
                                         "ocs.test")
        answer = yield in_thread(ctf.request, request)
        assert answer.result_code == 2001
        assert answer.session_id == "ctf;1;relay"

        [relayed] = ocs.received
        route_records = [span.value(relayed) for span in codec.iter_avps(
            relayed, avps.HEADER_LENGTH, len(relayed)) if span.code == avps.AVP_ROUTE_RECORD]
        # freeDiameter recorded the CTF; we recorded freeDiameter, last.
        assert route_records == [b"ctf.client.test", FD_CLIENT.encode()]

        # Watchdogs both ways: freeDiameter's DWR answered, ours answered by it.
        yield in_thread(fd.assert_watchdog_exchanged, AGENT_HOST)
        yield wait_until(lambda: service.agent.peers[FD_CLIENT].connection is not None
                         and not service.agent.peers[FD_CLIENT].connection.dwr_outstanding
                         and service.agent.counters.requests_relayed == 1, timeout=15)
        dwr_from_us = fd.find_messages(CMD_DWR, peer=AGENT_HOST, direction="RCV",
                                       is_request=True)
        dwr_to_us = fd.find_messages(CMD_DWR, peer=AGENT_HOST, direction="SND",
                                     is_request=True)
        assert dwr_from_us or dwr_to_us
        assert fd.error_lines() == []
    finally:
        if fd is not None:
            yield in_thread(fd.stop)
        yield service.stopService()
        yield ocs.port.stopListening()
    yield in_thread(capture.stop)
    pdus = capture.diameter_messages()
    commands = {pdu.command_code for pdu in pdus}
    assert {CMD_CER, CMD_CCR} <= commands
    capture.assert_clean()


@pytest_twisted.inlineCallbacks
def test_freediameter_as_upstream_peer(
    freediameter_factory: FreeDiameterFactory, diameter_stub_factory: StubFactory,
) -> Generator[defer.Deferred[Any], Any, None]:
    """CTF -> interceptor -> freeDiameter (relay) -> OCS stub, and back."""
    ocs = diameter_stub_factory("ocs.ocs.test", "ocs.test", handlers={CMD_CCR: answer_ccr})
    ocs_port = ocs.listen()
    fd_port = free_tcp_port()
    fd = freediameter_factory(FreeDiameterConfig(
        FD_UPSTREAM, "test", port=fd_port, accept_peers=[AGENT_HOST],
        connect_peers=[ConnectPeer("ocs.ocs.test", ocs_port)],
        routes=[realm_route("ocs.test", "ocs.ocs.test")]))
    yield in_thread(fd.wait_peer_open, "ocs.ocs.test")
    config = agent_config([(FD_UPSTREAM, fd_port)])
    config["timers"]["watchdog"] = 6
    service = start_agent(config)
    try:
        yield wait_until(lambda: service.agent.peers[FD_UPSTREAM].usable, timeout=15)
        yield in_thread(fd.wait_peer_open, AGENT_HOST)
        yield in_thread(fd.assert_capabilities_exchanged, AGENT_HOST)
        client = yield connect_client(service.listening_port)
        answers = yield defer.gatherResults([
            client.request(ccr(CallAttempt(f"up;{i}", CLIENT_HOST, "client.test",
                                           "ocs.test"), hop_by_hop=500 + i))
            for i in range(20)])
        assert [codec.parse_header(a).hop_by_hop for a in answers] == \
            [500 + i for i in range(20)]
        assert all(codec.result_code(a) == 2001 for a in answers)
        sessions = sorted(m.session_id for m in ocs.received() if m.header.command_code
                          == CMD_CCR)
        assert sessions == sorted(f"up;{i}" for i in range(20))
        yield in_thread(fd.assert_watchdog_exchanged, AGENT_HOST)
        assert fd.error_lines() == []
    finally:
        yield service.stopService()
        yield in_thread(fd.stop)
