"""Test doubles for the SIP emitter: a clock-reactor with fake UDP ports, and a scripted
"B network" that reads what the emitter sent and answers it.

The network side deliberately does not use ``interceptor.sip.message`` to read requests or
build responses, so the codec is not checked against itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import defer, task
from twisted.internet.address import IPv4Address
from twisted.internet.error import MessageLengthError

from interceptor.core.section import Section
from interceptor.sip.config import SipConfig, parse_sip
from interceptor.sip.emitter import BeepEmitter
from interceptor.sip.outcome import BeepOutcome, BeepRequest

NEXT_HOP = ("192.0.2.50", 5060)
LOCAL = "192.0.2.10"


class FakeUdpPort:
    """What ``listenUDP`` returns (a connected UDP socket); records what is written."""

    def __init__(self, reactor: FakeReactor, port: int, protocol: Any, interface: str) -> None:
        self.reactor = reactor
        self.port = port
        self.protocol = protocol
        self.interface = interface
        self.connected: tuple[str, int] | None = None
        self.written: list[bytes] = []
        self.error: Exception | None = None  # raised by the next write
        self.refuse = False  # next write "gets" ECONNREFUSED (Twisted calls connectionRefused)
        self.closed = False

    def connect(self, host: str, port: int) -> None:
        self.connected = (host, port)

    def getHost(self) -> IPv4Address:
        return IPv4Address("UDP", self.interface, self.port)

    def write(self, data: bytes, addr: Any = None) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        if self.refuse:
            self.refuse = False
            self.protocol.connectionRefused()
            return
        self.written.append(data)

    def stopListening(self) -> defer.Deferred[None]:
        self.closed = True
        self.protocol.doStop()
        return defer.succeed(None)

    def deliver(self, data: bytes) -> None:
        """A datagram arrives from the next hop."""
        assert self.connected is not None
        self.protocol.datagramReceived(data, self.connected)


class FakeReactor(task.Clock):
    """task.Clock plus ``listenUDP`` (fake ports) and ``resolve``."""

    def __init__(self) -> None:
        super().__init__()
        self.udp_ports: list[FakeUdpPort] = []
        self.tcp_connects: list[tuple[str, int, Any]] = []
        self.resolved: list[str] = []
        self._next_port = 40000

    def listenUDP(self, port: int, protocol: Any, interface: str = "",
                  maxPacketSize: int = 8192) -> FakeUdpPort:  # noqa: N803 (Twisted API)
        if port == 0:
            self._next_port += 1
            port = self._next_port
        udp = FakeUdpPort(self, port, protocol, interface)
        self.udp_ports.append(udp)
        protocol.makeConnection(udp)
        return udp

    def resolve(self, name: str, timeout: Any = None) -> defer.Deferred[str]:
        self.resolved.append(name)
        return defer.succeed("192.0.2.99")

    def connectTCP(self, host: str, port: int, factory: Any, timeout: float = 30,
                   bindAddress: Any = None) -> None:  # noqa: N803 (Twisted API)
        self.tcp_connects.append((host, port, factory))


# --- reading what the emitter sent, answering it ---------------------------------------
@dataclass
class Sent:
    """A request as the network sees it: start line and raw header lines."""

    raw: bytes
    method: str
    uri: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str:
        values = self.all(name)
        assert values, f"{self.method} has no {name}:\n{self.raw.decode()}"
        return values[0]

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    @property
    def branch(self) -> str:
        match = re.search(r";branch=([^;,\s]+)", self.header("Via"))
        assert match
        return match.group(1)

    @property
    def cseq(self) -> str:
        return self.header("CSeq")


def read(raw: bytes) -> Sent:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    method, uri, version = lines[0].split(" ")
    assert version == "SIP/2.0", lines[0]
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return Sent(raw, method, uri, headers, body)


def response(to: Sent, status: int, reason: str, to_tag: str | None = "btag",
             extra: tuple[str, ...] = (), body: bytes = b"", **overrides: str) -> bytes:
    """A response to ``to`` the way a UAS builds it (RFC 3261 §8.2.6)."""
    lines = [f"SIP/2.0 {status} {reason}"]
    lines += [f"Via: {via}" for via in to.all("Via")]
    lines.append(f"From: {to.header('From')}")
    to_value = to.header("To")
    if to_tag is not None and ";tag=" not in to_value:
        to_value += f";tag={to_tag}"
    lines.append(f"To: {overrides.get('to', to_value)}")
    lines.append(f"Call-ID: {overrides.get('call_id', to.header('Call-ID'))}")
    lines.append(f"CSeq: {overrides.get('cseq', to.cseq)}")
    lines += list(extra)
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def config(**sip: Any) -> SipConfig:
    """A parsed ``sip`` section: one on_net route to NEXT_HOP unless ``routes`` is given."""
    raw: dict[str, Any] = {
        "local_address": LOCAL,
        "routes": {"on_net": {"host": NEXT_HOP[0], "port": NEXT_HOP[1],
                              "domain": "ims.example.net"}},
    }
    raw.update(sip)
    return parse_sip(Section(raw, ("sip",)))


class Harness:
    """An emitter on a FakeReactor with the network side at hand."""

    def __init__(self, sip_config: SipConfig | None = None) -> None:
        self.reactor = FakeReactor()
        self.config = sip_config or config()
        self.emitter = BeepEmitter(self.config, self.reactor, seed=7)
        started = self.emitter.startService()
        assert started.called
        self.port = self.reactor.udp_ports[0] if self.reactor.udp_ports else \
            FakeUdpPort(self.reactor, 0, None, LOCAL)
        self._seen = 0
        self._counter = 0

    def submit(self, callee: str = "+84912345678", caller: str = "+84901234567",
               callee_class: str = "on_net", created_at: float | None = None) -> list[Any]:
        """Submit a beep; the returned list receives the outcome when it comes."""
        self._counter += 1
        request = BeepRequest(f"att-{self._counter}", caller, callee, callee_class,
                              self.reactor.seconds() if created_at is None else created_at)
        results: list[Any] = []
        self.emitter.submit(request).addBoth(results.append)
        return results

    @property
    def sent(self) -> list[Sent]:
        return [read(raw) for raw in self.port.written]

    def new(self) -> list[Sent]:
        """Requests sent since the last call."""
        written = self.port.written
        fresh = [read(raw) for raw in written[self._seen:]]
        self._seen = len(written)
        return fresh

    def methods(self) -> list[str]:
        return [sent.method for sent in self.new()]

    def answer(self, to: Sent, status: int, reason: str, **kwargs: Any) -> None:
        self.port.deliver(response(to, status, reason, **kwargs))

    def advance(self, seconds: float) -> None:
        self.reactor.advance(seconds)

    def last(self, method: str) -> Sent:
        matching = [sent for sent in self.sent if sent.method == method]
        assert matching, f"no {method} sent"
        return matching[-1]


def outcome_of(results: list[Any]) -> BeepOutcome:
    assert len(results) == 1, results
    result = results[0]
    assert isinstance(result, BeepOutcome), result
    return result


__all__ = ["FakeReactor", "Harness", "MessageLengthError", "config", "outcome_of", "read",
           "response"]
