"""Self-checks of the freeDiameter fixtures, without the interceptor."""

from __future__ import annotations

import logging
import socket
from collections.abc import Generator
from pathlib import Path

import pytest
import pytest_twisted
from diameter.message import Message
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory, Protocol

from tests.peers.freediameter import (
    CMD_CCR,
    CMD_CER,
    CMD_DPR,
    CMD_DWR,
    ConnectPeer,
    FreeDiameterConfig,
    FreeDiameterDaemon,
    FreeDiameterFactory,
    StubFactory,
    answer_ccr,
    base_protocol_answer,
    credit_control_request,
    free_tcp_port,
    in_thread,
    realm_route,
    require_binary,
)

logger = logging.getLogger(__name__)

pytestmark = pytest.mark.integration

RELAY_APPLICATION_ID = 0xFFFFFFFF


def test_two_freediameter_daemons_open_and_exchange_capabilities(
    freediameter_factory: FreeDiameterFactory,
) -> None:
    """B whitelists A (acl_wl); A ConnectPeer's B; both reach STATE_OPEN with CER/CEA logged."""
    b = freediameter_factory(FreeDiameterConfig("b.test", "test", accept_peers=["a.test"]))
    a = freediameter_factory(
        FreeDiameterConfig("a.test", "test", connect_peers=[ConnectPeer("b.test", b.port)])
    )

    a.wait_peer_open("b.test")
    b.wait_peer_open("a.test")
    assert a.peer_state("b.test") == "STATE_OPEN"
    assert b.peer_state("a.test") == "STATE_OPEN"

    a.assert_capabilities_exchanged("b.test")
    b.assert_capabilities_exchanged("a.test")
    cer_sent = a.find_messages(CMD_CER, peer="b.test", direction="SND", is_request=True)
    cer_received = b.find_messages(CMD_CER, peer="a.test", direction="RCV", is_request=True)
    assert cer_sent and cer_received
    assert cer_sent[0].hop_by_hop == cer_received[0].hop_by_hop
    assert cer_received[0].origin_host == "a.test"
    assert b.find_messages(CMD_CER, peer="a.test", direction="SND", is_request=False)
    assert a.error_lines() == [] and b.error_lines() == []


def test_freediameter_as_client_of_python_agent_sends_cer_and_dwr(
    freediameter_factory: FreeDiameterFactory, diameter_stub_factory: StubFactory
) -> None:
    """freeDiameter (client mode) connects to a Python agent: valid CER, then DWR after Tw."""
    agent = diameter_stub_factory("interceptor.test", "test")
    port = agent.listen()
    fd = freediameter_factory(
        FreeDiameterConfig(
            "pgw.client.test",
            "client.test",
            tw_timer=6,
            connect_peers=[ConnectPeer("interceptor.test", port)],
        )
    )

    fd.wait_peer_open("interceptor.test")
    agent.wait_connected()
    cer = agent.wait_for(CMD_CER, is_request=True)
    assert cer.origin_host == b"pgw.client.test"
    assert cer.origin_realm == b"client.test"
    assert cer.host_ip_address, "CER must carry Host-IP-Address"
    assert cer.vendor_id == 0
    assert cer.product_name == "freeDiameter"
    assert RELAY_APPLICATION_ID in cer.auth_application_id
    fd.assert_capabilities_exchanged("interceptor.test")

    dwr = agent.wait_for(CMD_DWR, is_request=True, timeout=6 + 6)
    assert dwr.origin_host == b"pgw.client.test"
    fd.assert_watchdog_exchanged("interceptor.test")
    assert agent.errors == []
    assert fd.error_lines() == []


def test_freediameter_as_upstream_relay_routes_realm_to_python_ocs(
    freediameter_factory: FreeDiameterFactory, diameter_stub_factory: StubFactory
) -> None:
    """Upstream mode: client -> freeDiameter (acl_wl + rt_default on realm) -> Python OCS."""
    ocs = diameter_stub_factory("ocs.ocs.test", "ocs.test", handlers={CMD_CCR: answer_ccr})
    ocs_port = ocs.listen()
    relay = freediameter_factory(
        FreeDiameterConfig(
            "relay.test",
            "test",
            connect_peers=[ConnectPeer("ocs.ocs.test", ocs_port)],
            accept_peers=["interceptor.test"],
            routes=[realm_route("ocs.test", "ocs.ocs.test")],
        )
    )
    relay.wait_peer_open("ocs.ocs.test")

    client = diameter_stub_factory("interceptor.test", "test")
    cea = client.connect("127.0.0.1", relay.port)
    assert cea.origin_host == b"relay.test"
    relay.wait_peer_open("interceptor.test")

    ccr = credit_control_request("interceptor.test;1;42", "interceptor.test", "test", "ocs.test")
    cca = client.request(ccr)

    assert cca.result_code == 2001
    assert cca.origin_host == b"ocs.ocs.test"
    assert cca.session_id == "interceptor.test;1;42"
    at_ocs = ocs.wait_for(CMD_CCR, is_request=True)
    assert at_ocs.route_record == [b"interceptor.test"]
    assert any(
        "FORWARDING: 'Credit-Control-Request'" in line for line in relay.log_lines("FORWARDING:")
    )
    forwarded = relay.find_messages(CMD_CCR, peer="ocs.ocs.test", direction="SND", is_request=True)
    assert forwarded and forwarded[0].avp_values("Session-Id") == ["interceptor.test;1;42"]
    assert relay.error_lines() == []


def test_config_rejects_tw_below_six_seconds(tmp_path: Path) -> None:
    """TwTimer < 6 s is refused before freeDiameter is started."""
    daemon = FreeDiameterDaemon(FreeDiameterConfig("x.test", "test", tw_timer=5), tmp_path)
    with pytest.raises(ValueError, match="TwTimer"):
        daemon.start()
    assert not daemon.is_running()


def test_missing_binary_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing freeDiameterd makes the fixture fail (not skip) with the install command."""
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception, match="apt-get install"):
        require_binary("freeDiameterd", "apt-get install -y freediameterd freediameter-extensions")


def test_restart_keeps_port_and_reconnects(
    freediameter_factory: FreeDiameterFactory, diameter_stub_factory: StubFactory
) -> None:
    """stop() really ends the process (DPR sent, port free); start() again reuses the port."""
    agent = diameter_stub_factory("interceptor.test", "test")
    agent_port = agent.listen()
    fd = freediameter_factory(
        FreeDiameterConfig(
            "pgw.test", "test", connect_peers=[ConnectPeer("interceptor.test", agent_port)]
        )
    )
    fd.wait_peer_open("interceptor.test")
    port = fd.port

    assert fd.stop() == 0
    assert not fd.is_running()
    agent.wait_for(CMD_DPR, is_request=True)
    with socket.socket() as sock:  # the daemon's listening port is released
        sock.bind(("0.0.0.0", port))

    mark = agent.mark()
    fd.start()
    assert fd.port == port
    fd.wait_peer_open("interceptor.test")  # only this run's log is searched
    assert fd.state_changes()[0].new == "STATE_OPEN"
    agent.wait_for(CMD_CER, is_request=True, since=mark)


class _TwistedAgent(Protocol):
    """Diameter agent inside the reactor: answers CER/DWR/DPR, records requests."""

    def __init__(self, received: list[Message]) -> None:
        self.received = received
        self._buffer = b""

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 4:
            length = int.from_bytes(self._buffer[1:4], "big")
            if len(self._buffer) < length:
                return
            raw, self._buffer = self._buffer[:length], self._buffer[length:]
            request = Message.from_bytes(raw)
            self.received.append(request)
            answer = base_protocol_answer(request, "interceptor.test", "test")
            if answer is not None:
                self.transport.write(answer.as_bytes())


@pytest_twisted.inlineCallbacks
def test_freediameter_client_of_agent_running_in_reactor(
    freediameter_factory: FreeDiameterFactory,
) -> Generator[Deferred[object], object, None]:
    """Usage pattern for pytest-twisted: wait with in_thread() so the reactor keeps serving."""
    received: list[Message] = []
    factory = Factory.forProtocol(lambda: _TwistedAgent(received))
    listening = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        port = listening.getHost().port
        fd = freediameter_factory(
            FreeDiameterConfig(
                "pgw.test", "test", connect_peers=[ConnectPeer("interceptor.test", port)]
            )
        )
        yield in_thread(fd.wait_peer_open, "interceptor.test")
        yield in_thread(fd.assert_capabilities_exchanged, "interceptor.test")
        assert [m.header.command_code for m in received] == [CMD_CER]
        exit_code = yield in_thread(fd.stop)  # DPR is answered by the reactor meanwhile
        assert exit_code == 0
        assert fd.find_messages(CMD_DPR, peer="interceptor.test", is_request=False)
    finally:
        yield listening.stopListening()


def test_fixed_port_is_used(freediameter_factory: FreeDiameterFactory) -> None:
    """An explicit port is written to the config and listened on."""
    port = free_tcp_port()
    fd = freediameter_factory(FreeDiameterConfig("lonely.test", "test", port=port))
    assert fd.is_running() and fd.port == port
    assert f"Port = {port};" in fd.config_path.read_text()
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
