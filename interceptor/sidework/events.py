"""What the relay process tells the side-work process, as length-prefixed binary frames
(no I/O here). Both ends are this code base, so the format is private and versioned by
the first byte.

An event carries a Credit-Control answer that may say "out of credit" (the relay only
checked that a configured Result-Code's four bytes occur in it) and the request it
answers, as relayed: classifying, parsing, number handling and SQL all happen in the
side-work process.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

FORMAT = 1
KIND_OUT_OF_CREDIT = 1

# length (of all that follows), format, kind, sequence, time, attempt id,
# answer length, origin name length, target name length
_HEAD = struct.Struct("!IBBQd16sIBB")
_ACK = struct.Struct("!Q")
MAX_FRAME = 16 << 20


class FrameError(Exception):
    """The stream is not what this code writes; the channel must be reset."""


@dataclass(frozen=True, slots=True)
class OutOfCreditEvent:
    sequence: int
    occurred_at: float
    attempt_id: str
    origin: str
    target: str
    answer: bytes
    request: bytes


_PACK_HEAD = _HEAD.pack
_FIXED = _HEAD.size - 4


def encode_out_of_credit(sequence: int, occurred_at: float, attempt_id: bytes,
                         origin: bytes, target: bytes, answer: bytes,
                         request: bytes) -> bytes:
    return b"".join((
        _PACK_HEAD(_FIXED + len(origin) + len(target) + len(answer) + len(request), FORMAT,
                   KIND_OUT_OF_CREDIT, sequence, occurred_at, attempt_id, len(answer),
                   len(origin), len(target)),
        origin, target, answer, request))


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
    (_, version, kind, sequence, occurred_at, attempt_id, answer_length, origin_length,
     target_length) = _HEAD.unpack_from(frame)
    if version != FORMAT or kind != KIND_OUT_OF_CREDIT:
        raise FrameError(f"unknown frame (format {version}, kind {kind})")
    offset = _HEAD.size
    origin = frame[offset:offset + origin_length]
    offset += origin_length
    target = frame[offset:offset + target_length]
    offset += target_length
    answer = frame[offset:offset + answer_length]
    request = frame[offset + answer_length:]
    if len(answer) != answer_length:
        raise FrameError("frame shorter than its answer")
    return OutOfCreditEvent(sequence, occurred_at, attempt_id.hex(),
                            origin.decode("utf-8", "replace"),
                            target.decode("utf-8", "replace"), answer, request)


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
