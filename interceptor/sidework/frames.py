"""What the relay process tells the side-work process, as length-prefixed binary frames
(no I/O here). Both ends are this code base, so the format is private and versioned by
the first byte.

An event carries a Credit-Control answer that may say "out of credit" (the relay only
checked that a configured Result-Code's four bytes occur in it) and the request it
answers, as relayed: classifying, parsing, number handling and SQL all happen in the
side-work process. Two more kinds, same layout, serve callback attribution: a successful
CCR-Initial from a watched subscriber (``KIND_CALLBACK_START``) and a CCR-Update or
-Terminate of a linked session (``KIND_CALLBACK_USAGE``).

The worker answers on its stdout with *replies*: a kind byte, a 4-byte length, the
payload. ``REPLY_ACK`` (a cumulative 8-byte sequence number), ``REPLY_WATCH`` (JSON: the
subscriber keys and Session-Ids the relay should watch for callbacks) and
``REPLY_STATS`` (JSON: a snapshot of the side work's figures, for the metrics endpoint).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

FORMAT = 1
KIND_OUT_OF_CREDIT = 1
KIND_CALLBACK_START = 2  # a watched subscriber's voice CCR-Initial, answered with success
KIND_CALLBACK_USAGE = 3  # a CCR-Update/Terminate of a session linked to an attempt
_KINDS = frozenset({KIND_OUT_OF_CREDIT, KIND_CALLBACK_START, KIND_CALLBACK_USAGE})

REPLY_ACK = 1
REPLY_WATCH = 2
REPLY_STATS = 3

# length (of all that follows), format, kind, sequence, time, attempt id,
# answer length, origin name length, target name length
_HEAD = struct.Struct("!IBBQd16sIBB")
_ACK = struct.Struct("!Q")
MAX_FRAME = 16 << 20


class FrameError(Exception):
    """The stream is not what this code writes; the channel must be reset."""


@dataclass(frozen=True, slots=True)
class Exchange:
    sequence: int
    occurred_at: float
    attempt_id: str
    origin: str
    target: str
    answer: bytes
    request: bytes
    kind: int = KIND_OUT_OF_CREDIT


_PACK_HEAD = _HEAD.pack
_FIXED = _HEAD.size - 4


def encode_exchange(sequence: int, occurred_at: float, attempt_id: bytes,
                         origin: bytes, target: bytes, answer: bytes,
                         request: bytes, kind: int = KIND_OUT_OF_CREDIT) -> bytes:
    return b"".join((
        _PACK_HEAD(_FIXED + len(origin) + len(target) + len(answer) + len(request), FORMAT,
                   kind, sequence, occurred_at, attempt_id, len(answer),
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

    def feed(self, data: bytes) -> list[Exchange]:
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


def decode(frame: bytes) -> Exchange:
    (_, version, kind, sequence, occurred_at, attempt_id, answer_length, origin_length,
     target_length) = _HEAD.unpack_from(frame)
    if version != FORMAT or kind not in _KINDS:
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
    return Exchange(sequence, occurred_at, attempt_id.hex(),
                            origin.decode("utf-8", "replace"),
                            target.decode("utf-8", "replace"), answer, request, kind)


_REPLY_HEAD = struct.Struct("!BI")


def encode_reply(kind: int, payload: bytes) -> bytes:
    return _REPLY_HEAD.pack(kind, len(payload)) + payload


def encode_ack(sequence: int) -> bytes:
    return encode_reply(REPLY_ACK, _ACK.pack(sequence))


def encode_json_reply(kind: int, value: Any) -> bytes:
    return encode_reply(kind, json.dumps(value, separators=(",", ":")).encode("utf-8"))


def ack_sequence(payload: bytes) -> int:
    return int(_ACK.unpack(payload)[0])


class ReplyReader:
    """The worker's replies, reassembled from its stdout: (kind, payload) pairs."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        data = self._rest + data if self._rest else data
        replies = []
        offset = 0
        head = _REPLY_HEAD.size
        while len(data) - offset >= head:
            kind, length = _REPLY_HEAD.unpack_from(data, offset)
            if length > MAX_FRAME:
                raise FrameError(f"reply length {length} out of range")
            end = offset + head + length
            if end > len(data):
                break
            replies.append((kind, data[offset + head:end]))
            offset = end
        self._rest = data[offset:]
        return replies


def with_sequence(frame: bytes, sequence: int) -> bytes:
    """The same frame under a new sequence number (spilled frames re-enter the window)."""
    return b"".join((frame[:6], struct.pack("!Q", sequence), frame[14:]))
