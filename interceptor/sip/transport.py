"""Thin transports: move whole SIP messages between a next hop and the transaction layer.

UDP: one socket per next hop, *connected* to it, so an ICMP port unreachable comes back
as ``connectionRefused``. TCP: one client connection per next hop, dialled on first use,
framed by Content-Length (RFC 3261 §18.3). Responses come back on the same connection;
there is no TCP listener, so in-dialog requests from B can only use it too.
"""

from __future__ import annotations

import errno
import logging
import socket
from typing import Any, Protocol

from twisted.internet import error as net_error
from twisted.internet import udp
from twisted.internet.interfaces import IHalfCloseableDescriptor, IReactorFDSet
from twisted.internet.protocol import ClientFactory, DatagramProtocol, connectionDone
from twisted.internet.protocol import Protocol as StreamProtocol
from twisted.python.failure import Failure
from zope.interface import implementer  # type: ignore[import-untyped]  # no stubs

from interceptor.core.reactor import Reactor

logger = logging.getLogger(__name__)

_TRANSIENT_SEND_ERRORS = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS})


class FlowReceiver(Protocol):
    def message_received(self, data: bytes, flow: Any) -> None: ...

    def flow_failed(self, flow: Any, reason: str) -> None: ...


def host_port(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


class UdpFlow(DatagramProtocol):
    """A UDP socket connected to one next hop."""

    reliable = False

    def __init__(self, receiver: FlowReceiver, remote: tuple[str, int],
                 advertised_host: str, receive_buffer: int = 0) -> None:
        self.receiver = receiver
        self.remote = remote
        self.advertised_host = advertised_host
        self.receive_buffer = receive_buffer
        self.local_port = 0
        self.sent_by = ""
        self.contact_address = ""
        self.sent = 0
        self.received = 0

    @property
    def _transport(self) -> Any:
        return self.transport

    def startProtocol(self) -> None:
        transport = self._transport
        transport.connect(*self.remote)
        if self.receive_buffer:
            _set_receive_buffer(transport, self.receive_buffer)
        self.local_port = int(transport.getHost().port)
        address = host_port(self.advertised_host, self.local_port)
        self.sent_by = f"SIP/2.0/UDP {address}"
        self.contact_address = address
        logger.info("SIP/UDP %s -> %s", address, host_port(*self.remote))

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.received += 1
        self.receiver.message_received(datagram, self)

    def connectionRefused(self) -> None:
        self.receiver.flow_failed(
            self, f"ICMP port unreachable from {host_port(*self.remote)}")

    def send(self, data: bytes) -> str | None:
        transport = self._transport
        if transport is None:
            return "socket closed"
        try:
            transport.write(data)
        except net_error.MessageLengthError:
            return f"message of {len(data)} bytes too long for UDP"
        except OSError as error:
            if error.errno in _TRANSIENT_SEND_ERRORS:
                logger.warning("UDP send to %s dropped (%s); retransmission will cover it",
                               host_port(*self.remote), error.strerror)
                return None
            return f"send failed: {error.strerror or error}"
        self.sent += 1
        return None

    def close(self) -> Any:
        transport = self._transport
        return transport.stopListening() if transport is not None else None


def _set_receive_buffer(transport: Any, size: int) -> None:
    """Bursts of responses must not overflow the default (~200 kB) socket buffer."""
    get_handle = getattr(transport, "getHandle", None)
    if get_handle is None:
        return
    sock = get_handle()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    except OSError as error:
        logger.warning("cannot set SO_RCVBUF to %d: %s", size, error.strerror)
        return
    logger.debug("SO_RCVBUF now %d", sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


class SipStreamProtocol(StreamProtocol):
    """Cuts a byte stream into SIP messages by the blank line and Content-Length."""

    def __init__(self, flow: TcpFlow, max_size: int) -> None:
        self.flow = flow
        self.max_size = max_size
        self._chunks: list[bytes] = []
        self._length = 0
        self._needed = 1

    def connectionMade(self) -> None:
        self.flow.connected(self)

    def dataReceived(self, data: bytes) -> None:
        self._chunks.append(data)
        self._length += len(data)
        if self._length < self._needed:
            return
        buffer = b"".join(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        self._chunks = []
        self._length = 0
        offset = self._frames(buffer)
        if offset is None:
            return
        if offset < len(buffer):
            rest = buffer[offset:]
            self._chunks = [rest]
            self._length = len(rest)

    def _frames(self, buffer: bytes) -> int | None:
        """Deliver every whole message; returns where the unfinished rest starts."""
        offset = 0
        end = len(buffer)
        while offset < end:
            while buffer.startswith(b"\r\n", offset):
                offset += 2  # keep-alive CRLFs
            if offset >= end:
                break
            head_end = buffer.find(b"\r\n\r\n", offset)
            if head_end < 0:
                if end - offset > self.max_size:
                    self._abort("headers too long")
                    return None
                self._needed = end - offset + 1
                return offset
            length = _content_length(buffer[offset:head_end])
            if length is None:
                self._abort("no valid Content-Length on a stream")
                return None
            total = head_end + 4 + length - offset
            if total > self.max_size:
                self._abort(f"message of {total} bytes too long")
                return None
            if end - offset < total:
                self._needed = total
                return offset
            self.flow.message_received(buffer[offset:offset + total])
            offset += total
        self._needed = 1
        return offset

    def _abort(self, reason: str) -> None:
        logger.warning("SIP/TCP %s: %s; closing", host_port(*self.flow.remote), reason)
        self._chunks = []
        self._length = 0
        transport: Any = self.transport
        transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.flow.disconnected(self, reason)


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() in (b"content-length", b"l"):
            try:
                length = int(value.strip())
            except ValueError:
                return None
            return length if length >= 0 else None
    return None


class _TcpFactory(ClientFactory):
    def __init__(self, flow: TcpFlow) -> None:
        self.flow = flow

    def buildProtocol(self, addr: Any) -> SipStreamProtocol:
        return SipStreamProtocol(self.flow, self.flow.max_size)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.flow.connect_failed(reason)


class TcpFlow:
    """A TCP connection to one next hop, dialled when the first message is to be sent and
    again after it is lost; messages sent while dialling wait for it."""

    reliable = True

    def __init__(self, reactor: Reactor, receiver: FlowReceiver, remote: tuple[str, int],
                 advertised_host: str, local_address: str, local_port: int, max_size: int,
                 connect_timeout: float) -> None:
        self.reactor = reactor
        self.receiver = receiver
        self.remote = remote
        self.local_address = local_address
        self.local_port = local_port
        self.max_size = max_size
        self.connect_timeout = connect_timeout
        address = host_port(advertised_host, local_port or None)
        self.sent_by = f"SIP/2.0/TCP {address}"
        self.contact_address = f"{address};transport=tcp"
        self._protocol: SipStreamProtocol | None = None
        self._connecting = False
        self._waiting: list[bytes] = []
        self._closed = False
        self.sent = 0
        self.received = 0

    def send(self, data: bytes) -> str | None:
        if self._closed:
            return "transport closed"
        protocol = self._protocol
        if protocol is not None:
            transport: Any = protocol.transport
            transport.write(data)
            self.sent += 1
            return None
        self._waiting.append(data)
        if not self._connecting:
            self._connecting = True
            bind = (self.local_address, self.local_port) if self.local_port else None
            self.reactor.connectTCP(self.remote[0], self.remote[1], _TcpFactory(self),
                                    timeout=self.connect_timeout, bindAddress=bind)
        return None

    def connected(self, protocol: SipStreamProtocol) -> None:
        self._connecting = False
        transport: Any = protocol.transport
        if self._closed:
            transport.loseConnection()
            return
        self._protocol = protocol
        logger.info("SIP/TCP connected to %s", host_port(*self.remote))
        waiting, self._waiting = self._waiting, []
        for data in waiting:
            transport.write(data)
            self.sent += 1

    def message_received(self, data: bytes) -> None:
        self.received += 1
        self.receiver.message_received(data, self)

    def connect_failed(self, reason: Failure) -> None:
        self._connecting = False
        self._waiting = []
        self.receiver.flow_failed(
            self, f"TCP connect to {host_port(*self.remote)} failed: {reason.getErrorMessage()}")

    def disconnected(self, protocol: SipStreamProtocol, reason: Failure) -> None:
        if self._protocol is protocol:
            self._protocol = None
            if not self._closed:
                self.receiver.flow_failed(
                    self, f"TCP connection to {host_port(*self.remote)} lost: "
                          f"{reason.getErrorMessage()}")

    def close(self) -> Any:
        self._closed = True
        self._waiting = []
        if self._protocol is not None:
            transport: Any = self._protocol.transport
            transport.loseConnection()
        return None


@implementer(IHalfCloseableDescriptor)
class ConnectedUdpPort(udp.Port):
    """A UDP port that survives ICMP errors under poll/epoll reactors.

    An ICMP port unreachable leaves an error pending on a connected UDP socket, which
    epoll reports as EPOLLERR without EPOLLIN. Twisted's poll-like reactors take that for
    the end of the descriptor and close the port (``protocol.connectionRefused`` is only
    called when a read fails with ECONNREFUSED). Being "half-closeable" turns that into
    :meth:`readConnectionLost`, where the pending error is read (and so reported through
    ``connectionRefused``) and reading resumes.
    """

    def readConnectionLost(self, reason: Failure) -> None:
        try:
            self.doRead()  # ECONNREFUSED -> protocol.connectionRefused(); clears the error
        except OSError:
            logger.exception("UDP socket error; closing")
            self.connectionLost(reason)
            return
        if self.connected:
            self.startReading()


def open_udp(reactor: Reactor, receiver: FlowReceiver, local_address: str, local_port: int,
             remote: tuple[str, int], advertised_host: str, max_size: int,
             receive_buffer: int = 0) -> UdpFlow:
    flow = UdpFlow(receiver, remote, advertised_host, receive_buffer)
    if IReactorFDSet.providedBy(reactor):
        port = ConnectedUdpPort(local_port, flow, local_address, max_size, reactor)
        port.startListening()
    else:  # a reactor without file descriptors (tests): its own listenUDP
        reactor.listenUDP(local_port, flow, interface=local_address, maxPacketSize=max_size)
    return flow
