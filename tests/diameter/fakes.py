"""In-memory pieces for unit tests: an agent on a task.Clock, connections on
StringTransports, and helpers to read what the agent wrote.
"""

from __future__ import annotations

import struct
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from interceptor.config.loader import parse_config
from interceptor.demo.peers import peer_identity
from interceptor.diameter import codec
from interceptor.diameter.agent import DiameterAgent
from interceptor.diameter.connection import PeerConnection
from interceptor.diameter.framing import DiameterProtocol
from interceptor.diameter.messages import IdentifierSource, MessageFactory
from tests.diameter.harness import agent_config


class Wire:
    """One connection as the agent sees it, and the bytes it wrote."""

    def __init__(self, agent: DiameterAgent, remote_ip: str, initiator: bool = False,
                 expected: str | None = None) -> None:
        expected_peer = agent.peers[expected] if expected else None
        self.connection: PeerConnection = agent.new_connection(remote_ip, initiator,
                                                               expected_peer)
        self.protocol = DiameterProtocol(self.connection,
                                         agent.config.limits.max_message_length)
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", remote_ip, 3868))
        self.protocol.makeConnection(self.transport)
        self._read = 0

    def feed(self, data: bytes) -> None:
        self.protocol.dataReceived(data)

    def sent(self) -> list[bytes]:
        """Messages written since the last call."""
        data = self.transport.value()[self._read:]
        self._read += len(data)
        return split_messages(data)

    def lose(self) -> None:
        from twisted.internet.error import ConnectionDone
        from twisted.python.failure import Failure

        self.protocol.connectionLost(Failure(ConnectionDone()))

    @property
    def closed(self) -> bool:
        return bool(self.transport.disconnecting)


def split_messages(data: bytes) -> list[bytes]:
    out = []
    offset = 0
    while offset < len(data):
        length = struct.unpack_from("!I", data, offset)[0] & 0xFFFFFF
        out.append(data[offset:offset + length])
        offset += length
    return out


def make_agent(clock: Clock | None = None, ocs: tuple[str, ...] = ("ocs1.test", "ocs2.test"),
               **kwargs: Any) -> tuple[DiameterAgent, Clock]:
    clock = clock or Clock()
    raw = agent_config([(name, 3868 + i) for i, name in enumerate(ocs)], **kwargs)
    config = parse_config(raw).relay
    factory = MessageFactory(config.identity, IdentifierSource(0, 1))
    agent = DiameterAgent(config, clock, factory, seed=3)
    agent.start()
    return agent, clock


def peer_factory(origin_host: str, realm: str = "peer.test") -> MessageFactory:
    return MessageFactory(peer_identity(origin_host, realm), IdentifierSource(0, 99))


def open_client(agent: DiameterAgent, host: str = "cscf.test",
                ip: str = "127.0.0.1") -> Wire:
    wire = Wire(agent, ip)
    wire.feed(peer_factory(host).cer())
    [cea] = wire.sent()
    assert codec.result_code(cea) == 2001
    return wire


def open_ocs(agent: DiameterAgent, host: str) -> Wire:
    """An OCS connection we dialled, opened by its CEA."""
    wire = Wire(agent, "127.0.0.1", initiator=True, expected=host)
    [cer] = wire.sent()
    wire.feed(peer_factory(host, "ocs.test").cea(codec.parse_header(cer)))
    assert agent.peers[host].usable
    return wire
