"""Minimal Diameter peers for the demo and the tests: a charging client (CTF) that
sends requests and collects answers, and an OCS that answers them by a policy.

They speak real Diameter over real TCP (CER/CEA, DWR/DWA, DPR/DPA) but are not agents.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from twisted.internet import defer
from twisted.internet.protocol import ClientFactory, Factory
from twisted.python.failure import Failure

from interceptor.core import avps
from interceptor.diameter import codec, messages
from interceptor.diameter.config import AgentIdentity
from interceptor.diameter.framing import DiameterProtocol
from interceptor.diameter.messages import IdentifierSource, MessageFactory

logger = logging.getLogger(__name__)

RequestHandler = Callable[[bytes], bytes | None]


def peer_identity(origin_host: str, origin_realm: str) -> AgentIdentity:
    return AgentIdentity(origin_host=origin_host, origin_realm=origin_realm,
                         host_ip_addresses=("127.0.0.1",), product_name="beepcall-demo-peer")


class SimplePeer:
    """One connection's controller. ``initiator`` peers send CER when connected."""

    def __init__(self, factory: MessageFactory, initiator: bool,
                 handler: RequestHandler | None = None) -> None:
        self.factory = factory
        self.initiator = initiator
        self.handler = handler
        self.protocol: DiameterProtocol | None = None
        self.ready: defer.Deferred[SimplePeer] = defer.Deferred()
        self.closed: defer.Deferred[None] = defer.Deferred()
        self.open = False
        self.remote_origin_host: str | None = None
        self.cea_result: int | None = None
        self.received: list[bytes] = []  # every message, in order, as received
        self._waiting: dict[int, defer.Deferred[bytes]] = {}

    # -- FrameController -------------------------------------------------------------

    def connection_made(self, protocol: DiameterProtocol) -> None:
        self.protocol = protocol
        if self.initiator:
            protocol.send(self.factory.cer())

    def message_received(self, message: bytes) -> None:
        self.received.append(message)
        header = codec.parse_header(message)
        if header.command_code == avps.CMD_CAPABILITIES_EXCHANGE:
            self._capabilities(message, header)
        elif header.command_code == avps.CMD_DEVICE_WATCHDOG and header.is_request:
            self.send(self.factory.dwa(header))
        elif header.command_code == avps.CMD_DISCONNECT_PEER and header.is_request:
            self.send(self.factory.dpa(header))
            self.open = False
        elif header.command_code == avps.CMD_DISCONNECT_PEER and self.protocol is not None:
            self.protocol.close()  # our DPR was answered
        elif header.is_request:
            answer = self.handler(message) if self.handler else None
            if answer is not None:
                self.send(answer)
        else:
            waiting = self._waiting.pop(header.hop_by_hop, None)
            if waiting is not None:
                waiting.callback(message)

    def framing_error(self, reason: str, header: bytes | None, result: int | None) -> None:
        logger.warning("demo peer framing error: %s", reason)

    def connection_lost(self, reason: Failure) -> None:
        self.open = False
        waiting, self._waiting = self._waiting, {}
        for deferred in waiting.values():
            deferred.errback(ConnectionError("connection lost"))
        if not self.ready.called:
            self.ready.errback(ConnectionError(
                f"closed before capabilities exchange (CEA result {self.cea_result})"))
        self.closed.callback(None)

    # -- use -------------------------------------------------------------------------

    def _capabilities(self, message: bytes, header: codec.Header) -> None:
        if header.is_request:
            self.send(self.factory.cea(header))
            self.remote_origin_host = messages.parse_capabilities(message).origin_host
            self._opened()
            return
        capabilities = messages.parse_capabilities(message)
        self.cea_result = capabilities.result_code
        self.remote_origin_host = capabilities.origin_host
        if capabilities.result_code == avps.SUCCESS:
            self._opened()

    def _opened(self) -> None:
        self.open = True
        if not self.ready.called:
            self.ready.callback(self)

    def send(self, message: bytes) -> None:
        if self.protocol is not None:
            self.protocol.send(message)

    def request(self, message: bytes) -> defer.Deferred[bytes]:
        """Send a request; the Deferred fires with its answer."""
        deferred: defer.Deferred[bytes] = defer.Deferred()
        self._waiting[codec.parse_header(message).hop_by_hop] = deferred
        self.send(message)
        return deferred

    def disconnect(self) -> defer.Deferred[None]:
        """DPR (RFC 6733 §5.4), close on the DPA; the Deferred fires once closed."""
        if self.protocol is not None:
            if self.open:
                self.open = False
                self.send(self.factory.dpr(avps.DISCONNECT_REBOOTING))
            else:
                self.protocol.close()
        return self.closed


class PeerServerFactory(Factory):
    """Accepts connections, one SimplePeer each (the OCS side)."""

    def __init__(self, origin_host: str, origin_realm: str,
                 handler: RequestHandler | None) -> None:
        self.message_factory = MessageFactory(peer_identity(origin_host, origin_realm),
                                              IdentifierSource(time.time(),
                                                               random.getrandbits(32)))
        self.handler = handler
        self.peers: list[SimplePeer] = []
        self.connected: defer.Deferred[SimplePeer] = defer.Deferred()

    def buildProtocol(self, addr: object) -> DiameterProtocol:
        peer = SimplePeer(self.message_factory, initiator=False, handler=self.handler)
        self.peers.append(peer)
        if not self.connected.called:
            peer.ready.addCallback(self._first_ready)
        return DiameterProtocol(peer, 1 << 20)

    def _first_ready(self, peer: SimplePeer) -> SimplePeer:
        if not self.connected.called:
            self.connected.callback(peer)
        return peer


class PeerClientFactory(ClientFactory):
    """Dials out as one SimplePeer (the charging-client side)."""

    def __init__(self, origin_host: str, origin_realm: str,
                 handler: RequestHandler | None = None) -> None:
        self.message_factory = MessageFactory(peer_identity(origin_host, origin_realm),
                                              IdentifierSource(time.time(),
                                                               random.getrandbits(32)))
        self.peer = SimplePeer(self.message_factory, initiator=True, handler=handler)

    def buildProtocol(self, addr: object) -> DiameterProtocol:
        return DiameterProtocol(self.peer, 1 << 20)

    def clientConnectionFailed(self, connector: object, reason: Failure) -> None:
        if not self.peer.ready.called:
            self.peer.ready.errback(reason)
