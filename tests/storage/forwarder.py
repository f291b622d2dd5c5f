"""A database outage without touching the shared server: a TCP forwarder in front of
PostgreSQL that the test closes (every connection cut, new ones refused) and reopens."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import make_url
from twisted.internet import reactor
from twisted.protocols.portforward import ProxyFactory, ProxyServer


class _TrackedProxy(ProxyServer):
    def connectionMade(self) -> None:
        self.factory.open.add(self)  # type: ignore[attr-defined]
        super().connectionMade()

    def connectionLost(self, reason: Any = None) -> None:
        self.factory.open.discard(self)  # type: ignore[attr-defined]
        super().connectionLost(reason)


class Forwarder:
    """127.0.0.1:port -> PostgreSQL; ``down()`` cuts every connection and refuses new
    ones, ``up()`` listens again on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.factory = ProxyFactory(host, port)
        self.factory.protocol = _TrackedProxy
        self.factory.open = set()  # type: ignore[attr-defined]
        self.listening: Any = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        self.port = self.listening.getHost().port

    def down(self) -> Any:
        for connection in list(self.factory.open):  # type: ignore[attr-defined]
            connection.transport.abortConnection()
        return self.listening.stopListening()

    def up(self) -> None:
        self.listening = reactor.listenTCP(self.port, self.factory, interface="127.0.0.1")


def through(forwarder: Forwarder, url: str) -> str:
    """``url`` with its port replaced by the forwarder's."""
    return make_url(url).set(port=forwarder.port).render_as_string(hide_password=False)


def forwarder_for(url: str) -> Forwarder:
    real = make_url(url)
    return Forwarder(real.host or "127.0.0.1", real.port or 5432)
