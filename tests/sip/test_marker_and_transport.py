"""Loop-safety predicates and the TCP framing."""

from __future__ import annotations

from typing import Any

from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from interceptor.sip.config import MarkerConfig
from interceptor.sip.marker import is_beep_call, is_beep_charging_id
from interceptor.sip.transport import SipStreamProtocol, TcpFlow
from tests.sip.fakes import Harness


def test_our_invite_is_a_beep_call() -> None:
    h = Harness()
    h.submit()
    [invite] = h.new()
    assert is_beep_call(invite.raw)
    assert is_beep_call(invite.headers)
    assert is_beep_call({"x-beepcall": " 1 "})
    assert not is_beep_call({"X-Beepcall": "0"})
    assert not is_beep_call(invite.raw.replace(b"X-Beepcall: 1\r\n", b""))
    assert not is_beep_call(b"garbage")
    other = MarkerConfig(header="X-Operator-Beep", value="yes")
    assert is_beep_call([("X-Operator-Beep", "yes")], other)
    assert not is_beep_call(invite.raw, other)


def test_charging_vector_icid_is_recognisable() -> None:
    h = Harness()
    h.submit()
    [invite] = h.new()
    pcv = invite.header("P-Charging-Vector")
    icid = pcv.split(";")[0].removeprefix("icid-value=")
    assert is_beep_charging_id(icid)
    assert is_beep_charging_id(icid.encode())
    assert not is_beep_charging_id("AyretyU0dm+6O2IrT5tAFrbHLso=023551024")
    assert not is_beep_charging_id(None)


class _Receiver:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.failures: list[str] = []

    def message_received(self, data: bytes, flow: Any) -> None:
        self.messages.append(data)

    def flow_failed(self, flow: Any, reason: str) -> None:
        self.failures.append(reason)


class _Reactor:
    def __init__(self) -> None:
        self.connects: list[tuple[Any, ...]] = []

    def connectTCP(self, host: str, port: int, factory: Any, timeout: float = 30,
                   bindAddress: Any = None) -> None:  # noqa: N803 (Twisted API)
        self.connects.append((host, port, factory, timeout, bindAddress))


def _flow() -> tuple[TcpFlow, _Reactor, _Receiver]:
    reactor, receiver = _Reactor(), _Receiver()
    flow = TcpFlow(reactor, receiver, ("192.0.2.50", 5060), "192.0.2.10", "192.0.2.10", 0,
                   65535, connect_timeout=4.0)
    return flow, reactor, receiver


def test_tcp_flow_dials_on_first_send_and_frames_responses() -> None:
    flow, reactor, receiver = _flow()
    assert flow.sent_by == "SIP/2.0/TCP 192.0.2.10"
    assert flow.send(b"INVITE 1") is None and flow.send(b"INVITE 2") is None
    assert len(reactor.connects) == 1 and reactor.connects[0][3] == 4.0
    protocol = reactor.connects[0][2].buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    assert transport.value() == b"INVITE 1INVITE 2"
    one = b"SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n"
    two = b"SIP/2.0 200 OK\r\nl: 4\r\n\r\nbody"
    stream = b"\r\n\r\n" + one + two + one
    for index in range(0, len(stream), 7):  # arrives in small pieces
        protocol.dataReceived(stream[index:index + 7])
    assert receiver.messages == [one, two, one]


def test_tcp_framing_rejects_message_without_length() -> None:
    flow, _, receiver = _flow()
    protocol = SipStreamProtocol(flow, 65535)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(b"SIP/2.0 100 Trying\r\nVia: x\r\n\r\n")
    assert receiver.messages == [] and transport.disconnecting


def test_tcp_connection_loss_fails_the_flow() -> None:
    flow, reactor, receiver = _flow()
    flow.send(b"x")
    protocol = reactor.connects[0][2].buildProtocol(None)
    protocol.makeConnection(StringTransport())
    protocol.connectionLost(Failure(ConnectionError("reset")))
    assert receiver.failures == ["TCP connection to 192.0.2.50:5060 lost: reset"]
    flow.send(b"y")
    assert len(reactor.connects) == 2  # dials again
