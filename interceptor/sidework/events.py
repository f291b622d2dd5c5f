"""What the relay process tells the side-work process, as length-prefixed binary frames
(no I/O here). Both ends are this code base, so the format is private and versioned by
the first byte.

An out-of-credit event carries the request the answer refused, as relayed, so that all
parsing, number handling and SQL happen in the side-work process.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

FORMAT = 1
KIND_OUT_OF_CREDIT = 1

# length (of all that follows), format, kind, sequence, time, attempt id,
# Result-Code, where, origin name length, target name length
_HEAD = struct.Struct("!IBBQd16sIBBB")
_ACK = struct.Struct("!Q")
WHERE_CODES = {"top_level": 0, "mscc": 1, "experimental": 2}
WHERE_NAMES = {code: name for name, code in WHERE_CODES.items()}
MAX_FRAME = 16 << 20


class FrameError(Exception):
    """The stream is not what this code writes; the channel must be reset."""


@dataclass(frozen=True, slots=True)
class OutOfCreditEvent:
    sequence: int
    occurred_at: float
    attempt_id: str
    result_code: int
    where: str
    origin: str
    target: str
    request: bytes


def encode_out_of_credit(sequence: int, occurred_at: float, attempt_id: bytes,
                         result_code: int, where: str, origin: bytes, target: bytes,
                         request: bytes) -> bytes:
    length = _HEAD.size - 4 + len(origin) + len(target) + len(request)
    return b"".join((
        _HEAD.pack(length, FORMAT, KIND_OUT_OF_CREDIT, sequence, occurred_at, attempt_id,
                   result_code, WHERE_CODES[where], len(origin), len(target)),
        origin, target, request))


def frame_sequence(frame: bytes) -> int:
    return int(struct.unpack_from("!Q", frame, 6)[0])


class FrameReader:
    """Reassembles frames from a byte stream (chunks kept in a list, joined once)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._needed = 4

    def feed(self, data: bytes) -> list[OutOfCreditEvent]:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered < self._needed:
            return []
        buffer = b"".join(self._chunks)
        events = []
        offset = 0
        while len(buffer) - offset >= 4:
            length = struct.unpack_from("!I", buffer, offset)[0]
            if length > MAX_FRAME or length < _HEAD.size - 4:
                raise FrameError(f"frame length {length} out of range")
            end = offset + 4 + length
            if end > len(buffer):
                break
            events.append(decode(buffer[offset:end]))
            offset = end
        rest = buffer[offset:]
        self._chunks = [rest] if rest else []
        self._buffered = len(rest)
        self._needed = 4 + struct.unpack_from("!I", rest)[0] if len(rest) >= 4 else 4
        return events


def decode(frame: bytes) -> OutOfCreditEvent:
    (_, version, kind, sequence, occurred_at, attempt_id, code, where, origin_length,
     target_length) = _HEAD.unpack_from(frame)
    if version != FORMAT or kind != KIND_OUT_OF_CREDIT or where not in WHERE_NAMES:
        raise FrameError(f"unknown frame (format {version}, kind {kind})")
    start = _HEAD.size
    origin = frame[start:start + origin_length]
    target = frame[start + origin_length:start + origin_length + target_length]
    request = frame[start + origin_length + target_length:]
    return OutOfCreditEvent(sequence, occurred_at, attempt_id.hex(), code, WHERE_NAMES[where],
                            origin.decode("utf-8", "replace"),
                            target.decode("utf-8", "replace"), request)


def encode_ack(sequence: int) -> bytes:
    return _ACK.pack(sequence)


class AckReader:
    """Cumulative acknowledgements: 8-byte sequence numbers."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> int | None:
        data = self._rest + data  # at most 7 bytes carried over
        whole = len(data) - len(data) % 8
        self._rest = data[whole:]
        if not whole:
            return None
        return int(_ACK.unpack_from(data, whole - 8)[0])


def with_sequence(frame: bytes, sequence: int) -> bytes:
    """The same frame under a new sequence number (spilled frames re-enter the window)."""
    return b"".join((frame[:6], struct.pack("!Q", sequence), frame[14:]))
