"""A thin Twisted protocol: frames the TCP stream into Diameter messages by the 3-byte
length and hands each one, as the original bytes, to a controller.
"""

from __future__ import annotations

import logging
import struct
from typing import Any
from typing import Protocol as TypingProtocol

from twisted.internet.interfaces import ITCPTransport
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from interceptor.core import avps
from interceptor.core.avps import HEADER_LENGTH, VERSION

logger = logging.getLogger(__name__)

_WORD = struct.Struct("!I")


class FrameController(TypingProtocol):
    """What the framing protocol talks to (one controller per connection)."""

    def connection_made(self, protocol: DiameterProtocol) -> None: ...

    def message_received(self, message: bytes) -> None: ...

    def framing_error(self, reason: str, header: bytes | None, result: int | None) -> None:
        """The stream is unusable. ``header`` (20 bytes) is given where it was readable,
        ``result`` is the error the RFC prescribes if the sender deserves an answer.
        The protocol closes the connection after this call."""

    def connection_lost(self, reason: Failure) -> None: ...


class DiameterProtocol(Protocol):
    def __init__(self, controller: FrameController, max_message_length: int) -> None:
        self.controller = controller
        self.max_message_length = max_message_length
        # Bytes of an incomplete message: a list of chunks joined once complete, so a
        # large message arriving in small pieces costs linear, not quadratic, copying.
        self._chunks: list[bytes] = []
        self._chunks_length = 0
        self._needed = HEADER_LENGTH
        self.closing = False

    @property
    def _transport(self) -> Any:
        return self.transport

    def connectionMade(self) -> None:
        transport = self._transport
        if ITCPTransport.providedBy(transport):
            # Without this, Nagle + delayed ACKs add about a millisecond per message.
            transport.setTcpNoDelay(True)
        self.controller.connection_made(self)

    def dataReceived(self, data: bytes) -> None:
        if self._chunks:
            self._chunks.append(data)
            self._chunks_length += len(data)
            if self._chunks_length < self._needed:
                return
            data = b"".join(self._chunks)
            self._chunks = []
            self._chunks_length = 0
        end = len(data)
        offset = 0
        unpack = _WORD.unpack_from
        controller = self.controller
        while end - offset >= 4 and not self.closing:
            word = unpack(data, offset)[0]
            length = word & 0xFFFFFF
            if (word >> 24) != VERSION or length < HEADER_LENGTH or \
                    length > self.max_message_length or length & 3:
                if end - offset < HEADER_LENGTH and length >= HEADER_LENGTH:
                    self._needed = HEADER_LENGTH
                    break  # judge it once the whole header is here
                self._bad_frame(data, offset, word)
                return
            if end - offset < length:
                self._needed = length
                break
            message = data if offset == 0 and length == end else data[offset:offset + length]
            offset += length
            controller.message_received(message)
        else:
            self._needed = HEADER_LENGTH
        if offset < end and not self.closing:
            rest = data[offset:]
            self._chunks = [rest]
            self._chunks_length = len(rest)

    def _bad_frame(self, data: bytes, offset: int, word: int) -> None:
        version, length = word >> 24, word & 0xFFFFFF
        header = data[offset:offset + HEADER_LENGTH]
        if len(header) < HEADER_LENGTH:
            header_or_none: bytes | None = None
        else:
            header_or_none = header
        if version != VERSION:
            reason, result = f"unsupported version {version}", avps.UNSUPPORTED_VERSION
        elif length < HEADER_LENGTH:
            reason, result = f"message length {length} below 20", None
            header_or_none = None
        elif length > self.max_message_length:
            reason = f"message length {length} above the maximum {self.max_message_length}"
            result = avps.INVALID_MESSAGE_LENGTH
        else:
            reason, result = f"message length {length} not a multiple of 4", \
                avps.INVALID_MESSAGE_LENGTH
        self.closing = True
        self._chunks = []
        self.controller.framing_error(reason, header_or_none, result)
        self._transport.loseConnection()

    def send(self, message: bytes) -> None:
        self._transport.write(message)

    def close(self) -> None:
        self.closing = True
        self._transport.loseConnection()

    def abort(self) -> None:
        self.closing = True
        self._transport.abortConnection()

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        self.closing = True
        self.controller.connection_lost(reason)
