"""The Diameter agent as a Twisted service: listen, dial OCS peers, stop gracefully."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from twisted.application import service
from twisted.internet import defer

from interceptor.core.reactor import ListeningPort, Reactor
from interceptor.diameter.agent import DiameterAgent, RelayObserver
from interceptor.diameter.config import RelayConfig
from interceptor.diameter.messages import IdentifierSource, MessageFactory
from interceptor.diameter.transport import OutboundConnector, ResponderFactory

logger = logging.getLogger(__name__)


class DiameterAgentService(service.Service):
    """Owns the agent, its listening port and one connector per OCS peer."""

    def __init__(self, config: RelayConfig, reactor: Reactor,
                 observer: RelayObserver | None = None, seed: int | None = None) -> None:
        self.config = config
        self.reactor = reactor
        rng = random.Random(seed)
        ids = IdentifierSource(time.time(), rng.getrandbits(32))
        self.agent = DiameterAgent(config, reactor, MessageFactory(config.identity, ids),
                                   observer=observer, seed=rng.getrandbits(32))
        self.connectors = [
            OutboundConnector(self.agent, peer, reactor, config.timers,
                              random.Random(rng.getrandbits(32)))
            for peer in self.agent.peers.values() if peer.config.connect
        ]
        self.port: ListeningPort | None = None

    def startService(self) -> None:
        listen = self.config.listen
        # Listen first: a port in use is a startup error before anything is dialled.
        self.port = self.reactor.listenTCP(listen.port, ResponderFactory(self.agent),
                                           backlog=listen.backlog, interface=listen.address)
        super().startService()
        logger.info("Diameter agent %s listening on %s:%d", self.config.identity.origin_host,
                    listen.address, self.listening_port)
        self.agent.start()
        for connector in self.connectors:
            connector.start()

    @property
    def listening_port(self) -> int:
        assert self.port is not None
        return int(self.port.getHost().port)

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        super().stopService()
        if self.port is not None:
            yield self.port.stopListening()
        yield self.agent.stop()
