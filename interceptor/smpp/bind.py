"""One bind kept up: ``ClientService`` reconnects, with exponential back-off after failed
connects or refused binds, and a short fixed delay after losing a bind that was up."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

from twisted.application import service
from twisted.application.internet import ClientService
from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.protocol import Factory

from interceptor.core.reactor import Reactor
from interceptor.smpp.config import BindConfig
from interceptor.smpp.messages import DeliveryReceipt
from interceptor.smpp.protocol import EsmeProtocol, SessionListener, SmppStatusError

logger = logging.getLogger(__name__)

EndpointFactory = Callable[[BindConfig], Any]


class _SessionFactory(Factory):
    def __init__(self, bind: SmppBind) -> None:
        self.bind = bind

    def buildProtocol(self, addr: Any) -> EsmeProtocol:
        return EsmeProtocol(self.bind.config, self.bind.clock, self.bind)


class SmppBind(service.Service):
    """Keeps ``config`` bound; tells ``owner`` (a SessionListener) what happens."""

    def __init__(self, config: BindConfig, reactor: Reactor, owner: SessionListener, *,
                 endpoint: EndpointFactory | None = None, seed: int | None = None,
                 unbind_timeout: float = 2.0) -> None:
        self.config = config
        self.unbind_timeout = unbind_timeout
        self.clock = reactor
        self.owner = owner
        self.session: EsmeProtocol | None = None  # the bound session, if any
        self.failures = 0  # consecutive failed connects or binds
        self.bind_refusals = 0
        self.paused_until = 0.0  # throttled: no submit_sm before this time
        self.throttle_streak = 0
        self._lost_bound = False
        self._random = random.Random(seed)
        target: Any = endpoint(config) if endpoint is not None else \
            HostnameEndpoint(reactor, config.host, config.port, timeout=10)
        factory: Any = _SessionFactory(self)
        self.client = ClientService(target, factory, retryPolicy=self.retry_delay, clock=reactor)

    def retry_delay(self, _attempts: int) -> float:
        """ClientService's retry policy (its own count resets on every TCP connect, so a
        refused bind would look like a first failure: we keep our own)."""
        if self._lost_bound:
            self._lost_bound = False
            return self.config.reconnect_after_loss
        self.failures += 1
        base = min(self.config.reconnect_max,
                   self.config.reconnect_initial * 2 ** min(self.failures - 1, 30))
        return base * (0.8 + 0.4 * self._random.random())

    def room(self, now: float) -> int:
        session = self.session
        if session is None or now < self.paused_until:
            return 0
        return session.window_room

    def startService(self) -> None:
        super().startService()
        self.client.startService()

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        """Unbind (waiting for unbind_resp), then stop reconnecting."""
        super().stopService()
        session = self.session
        if session is not None:
            yield session.unbind(self.unbind_timeout)
        yield self.client.stopService()

    # --- SessionListener (from our sessions), relayed to the owner ----------------------
    def bound(self, session: EsmeProtocol) -> None:
        self.failures = 0
        self.throttle_streak = 0
        self.paused_until = 0.0
        self.session = session
        self.owner.bound(session)

    def bind_refused(self, session: EsmeProtocol, error: SmppStatusError) -> None:
        self.bind_refusals += 1
        self.owner.bind_refused(session, error)

    def closed(self, session: EsmeProtocol, reason: str) -> None:
        if session is self.session:
            self.session = None
        self._lost_bound = session.was_bound
        self.owner.closed(session, reason)

    def window_open(self, session: EsmeProtocol) -> None:
        self.owner.window_open(session)

    def receipt(self, receipt: DeliveryReceipt) -> None:
        self.owner.receipt(receipt)
