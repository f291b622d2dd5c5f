"""Real-socket harness: an interceptor between a simulated CTF and simulated OCSes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.task import deferLater

from interceptor.config.loader import parse_config
from interceptor.demo.peers import PeerClientFactory, PeerServerFactory, SimplePeer
from interceptor.diameter.service import DiameterAgentService
from interceptor.diameter.traffic import cca

AGENT_HOST = "interceptor.test"
CLIENT_HOST = "cscf.test"


def ocs_echo(origin_host: str, result: int = 2001) -> Callable[[bytes], bytes]:
    def handler(request: bytes) -> bytes:
        return cca(request, origin_host, "ocs.test", result)
    return handler


@dataclass
class RecordingOcs:
    """An OCS stub that records each request as received and answers via ``handler``."""

    origin_host: str
    handler: Callable[[bytes], bytes | None]
    received: list[bytes] = field(default_factory=list)
    factory: PeerServerFactory | None = None
    port: Any = None

    def __call__(self, request: bytes) -> bytes | None:
        self.received.append(request)
        return self.handler(request)

    def listen(self) -> int:
        self.factory = PeerServerFactory(self.origin_host, "ocs.test", self)
        self.port = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        return int(self.port.getHost().port)

    def connections(self) -> list[SimplePeer]:
        assert self.factory is not None
        return self.factory.peers


def agent_config(ocs: list[tuple[str, int]], *, default_route: bool = True,
                 timers: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
                 secondary: list[str] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "agent": {"origin_host": AGENT_HOST, "origin_realm": "test",
                  "host_ip_addresses": ["127.0.0.1"]},
        "listen": {"address": "127.0.0.1", "port": 0},
        "peers": {
            "clients": [{"origin_host": CLIENT_HOST, "addresses": ["127.0.0.1"]}],
            "ocs": [{"origin_host": host, "realm": "ocs.test", "address": "127.0.0.1",
                     "port": port} for host, port in ocs],
        },
        "routing": {
            "realms": [{"realm": "ocs.test",
                        "primary": [host for host, _ in ocs if host not in (secondary or [])],
                        "secondary": secondary or []}],
            "default": [host for host, _ in ocs] if default_route else [],
        },
        "timers": {"reconnect_initial": 0.05, "reconnect_max": 0.5,
                   "reconnect_after_loss": 0.05, "request_timeout": 2,
                   **(timers or {})},
        "detection": {"enabled": False},
    }
    config.update(extra or {})
    return config


def start_agent(raw: dict[str, Any]) -> DiameterAgentService:
    service = DiameterAgentService(parse_config(raw).relay, reactor, seed=7)
    service.startService()
    return service


@defer.inlineCallbacks
def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> Any:
    """Poll a condition on the real reactor (for real sockets only)."""
    waited = 0.0
    while not predicate():
        if waited >= timeout:
            raise AssertionError("condition not reached in time")
        yield deferLater(reactor, 0.01, lambda: None)
        waited += 0.01


@defer.inlineCallbacks
def connect_client(port: int, origin_host: str = CLIENT_HOST) -> Any:
    factory = PeerClientFactory(origin_host, "client.test")
    reactor.connectTCP("127.0.0.1", port, factory)
    peer = yield factory.peer.ready
    return peer


@defer.inlineCallbacks
def client_through(interceptor: Any) -> Any:
    """Once the interceptor's OCS connections are up, a CTF connected to it."""
    agent = interceptor.agent_service.agent
    yield wait_until(lambda: all(peer.usable for peer in agent.peers.values()
                                 if peer.config.role == "ocs"))
    client = yield connect_client(interceptor.agent_service.listening_port)
    return client
