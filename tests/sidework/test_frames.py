"""The relay-to-side-work frame format."""

from __future__ import annotations

import pytest

from interceptor.sidework.frames import (
    KIND_CALLBACK_USAGE,
    REPLY_ACK,
    REPLY_STATS,
    REPLY_WATCH,
    FrameError,
    FrameReader,
    ReplyReader,
    ack_sequence,
    encode_ack,
    encode_exchange,
    encode_json_reply,
    frame_sequence,
    with_sequence,
)


def _frame(sequence: int, request: bytes = b"\x01" * 300) -> bytes:
    return encode_exchange(sequence, 1234.5, bytes(range(16)), b"cscf.test",
                                b"ocs1.test", b"answer" * sequence, request)


def test_frames_survive_any_chunking() -> None:
    frames = [_frame(n, bytes([n]) * (50 + n)) for n in range(1, 20)]
    stream = b"".join(frames)
    for chunk in (1, 3, 7, 64, len(stream)):
        reader = FrameReader()
        events = []
        for offset in range(0, len(stream), chunk):
            events.extend(reader.feed(stream[offset:offset + chunk]))
        assert [event.sequence for event in events] == list(range(1, 20))
        event = events[4]
        assert (event.origin, event.target) == ("cscf.test", "ocs1.test")
        assert event.answer == b"answer" * 5
        assert event.request == bytes([5]) * 55
        assert event.attempt_id == bytes(range(16)).hex()
        assert event.occurred_at == 1234.5


def test_resequenced_frame_keeps_everything_else() -> None:
    frame = _frame(7)
    moved = with_sequence(frame, 99)
    assert frame_sequence(moved) == 99
    assert moved[:6] == frame[:6] and moved[14:] == frame[14:]


def test_garbage_is_a_frame_error() -> None:
    with pytest.raises(FrameError):
        FrameReader().feed(b"\xff\xff\xff\xff" + b"x" * 40)


def test_replies_survive_any_chunking() -> None:
    data = (encode_ack(5) + encode_json_reply(REPLY_WATCH, {"add_keys": ["912000001"]})
            + encode_ack(9) + encode_json_reply(REPLY_STATS, {"worker": {"events": 3}}))
    for chunk in (1, 2, 5, 13, len(data)):
        reader = ReplyReader()
        replies = []
        for offset in range(0, len(data), chunk):
            replies.extend(reader.feed(data[offset:offset + chunk]))
        assert [kind for kind, _ in replies] == [REPLY_ACK, REPLY_WATCH, REPLY_ACK,
                                                 REPLY_STATS]
        assert [ack_sequence(p) for k, p in replies if k == REPLY_ACK] == [5, 9]
        assert replies[1][1] == b'{"add_keys":["912000001"]}'


def test_callback_kinds_decode_with_their_kind() -> None:
    frame = encode_exchange(3, 1.5, bytes(16), b"c", b"o", b"", b"ccr-t",
                                 kind=KIND_CALLBACK_USAGE)
    (event,) = FrameReader().feed(frame)
    assert (event.kind, event.request, event.sequence) == (KIND_CALLBACK_USAGE, b"ccr-t", 3)
    with pytest.raises(FrameError):
        FrameReader().feed(encode_exchange(3, 1.5, bytes(16), b"c", b"o", b"", b"x",
                                                kind=9))
