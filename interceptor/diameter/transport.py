"""TCP plumbing: the listening factory for peers that dial in, and a reconnecting
connector per OCS peer (back-off after failures, a separate short delay after loss).
"""

from __future__ import annotations

import logging
import random

from twisted.internet.interfaces import IAddress, IConnector
from twisted.internet.protocol import ClientFactory, Factory
from twisted.python.failure import Failure

from interceptor.core import avps
from interceptor.core.reactor import Clock, DelayedCall, Reactor
from interceptor.diameter.agent import DiameterAgent, Peer
from interceptor.diameter.config import TimerConfig
from interceptor.diameter.framing import DiameterProtocol

logger = logging.getLogger(__name__)


class ResponderFactory(Factory):
    """Builds a protocol for each peer that connects to us."""

    def __init__(self, agent: DiameterAgent) -> None:
        self.agent = agent

    def buildProtocol(self, addr: IAddress | None) -> DiameterProtocol | None:
        if self.agent.stopping:
            return None
        host = getattr(addr, "host", "?")
        connection = self.agent.new_connection(host, initiator=False)
        return DiameterProtocol(connection, self.agent.config.limits.max_message_length)


class _DialFactory(ClientFactory):
    def __init__(self, connector: OutboundConnector) -> None:
        self.connector = connector

    def buildProtocol(self, addr: IAddress | None) -> DiameterProtocol:
        return self.connector.build_protocol()

    def clientConnectionFailed(self, connector: IConnector, reason: Failure) -> None:
        self.connector.dial_failed(reason)


class OutboundConnector:
    """Keeps one OCS peer connected: dial, and after a failure or a loss, dial again."""

    def __init__(self, agent: DiameterAgent, peer: Peer, reactor: Reactor,
                 timers: TimerConfig, rng: random.Random) -> None:
        self.agent = agent
        self.peer = peer
        self.reactor: Reactor = reactor
        self.clock: Clock = reactor
        self.timers = timers
        self.rng = rng
        self.failures = 0
        self.stopped = False
        self._call: DelayedCall | None = None
        self._dialling = False
        peer.connector = self

    def start(self) -> None:
        self._dial()

    def stop(self) -> None:
        self.stopped = True
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def build_protocol(self) -> DiameterProtocol:
        config = self.peer.config
        assert config.address is not None
        connection = self.agent.new_connection(config.address, initiator=True,
                                               expected_peer=self.peer)
        return DiameterProtocol(connection, self.agent.config.limits.max_message_length)

    def _dial(self) -> None:
        self._call = None
        if self.stopped or self._dialling or self.peer.connection is not None:
            return
        config = self.peer.config
        assert config.address is not None
        logger.info("connecting to %s at %s:%d", self.peer.name, config.address, config.port)
        self._dialling = True
        self.reactor.connectTCP(config.address, config.port, _DialFactory(self),
                                timeout=self.timers.connect_timeout)

    def _schedule(self, delay: float) -> None:
        if self.stopped:
            return
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = self.clock.callLater(delay, self._dial)

    def _backoff(self) -> float:
        base = self.timers.reconnect_initial * 2 ** min(self.failures - 1, 16)
        return min(base, self.timers.reconnect_max) * self.rng.uniform(0.8, 1.2)

    def dial_failed(self, reason: Failure) -> None:
        self._dialling = False
        self.failures += 1
        delay = self._backoff()
        logger.warning("cannot connect to %s (%s); retrying in %.1fs", self.peer.name,
                       reason.getErrorMessage(), delay)
        self._schedule(delay)

    def opened(self) -> None:
        self.failures = 0

    def connection_lost(self, was_open: bool, disconnect_cause: int | None) -> None:
        self._dialling = False
        if was_open:
            delay = self.timers.reconnect_after_loss
            if disconnect_cause == avps.DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU:
                delay = self.timers.reconnect_max
        else:
            self.failures += 1
            delay = self._backoff()
        if self.peer.connection is None:
            logger.info("reconnecting to %s in %.1fs", self.peer.name, delay)
            self._schedule(delay)

    def peer_down(self) -> None:
        """The peer's connection that it dialled is gone: dial it ourselves."""
        if not self._dialling and (self._call is None or not self._call.active()):
            self._schedule(self.timers.reconnect_after_loss)
