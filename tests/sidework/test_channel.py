"""The relay's side of the side-work channel, with a fake process: the window, acks,
resend after a restart, and the spill file when the worker stays away."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.internet.error import ProcessTerminated
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from interceptor.sidework.channel import ChannelSettings, WorkerChannel
from interceptor.sidework.frames import FrameReader, encode_ack, encode_exchange


class FakeProcess:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.written: list[bytes] = []
        self.stdin_closed = False
        self.pipes: dict[int, Any] = {}

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def closeStdin(self) -> None:
        self.stdin_closed = True

    def events(self) -> list[int]:
        return [event.sequence for event in FrameReader().feed(b"".join(self.written))]


class FakeReactor(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[tuple[Any, FakeProcess]] = []

    def spawnProcess(self, protocol: Any, executable: str, args: list[str], **_: Any) -> None:
        process = FakeProcess(10_000 + len(self.spawned))
        protocol.makeConnection(process)
        self.spawned.append((protocol, process))


def _channel(tmp_path: Path, window: int = 1 << 20) -> tuple[WorkerChannel, FakeReactor]:
    reactor = FakeReactor()
    channel = WorkerChannel(reactor, {"any": "config"}, tmp_path,
                            ChannelSettings(window_bytes=window, restart_initial=1.0))
    channel.start()
    return channel, reactor


def _send(channel: WorkerChannel, count: int) -> None:
    for _ in range(count):
        sequence = channel.next_sequence()
        channel.send(encode_exchange(sequence, 1.0, sequence.to_bytes(16, "big"),
                                          b"cscf", b"ocs", b"answer", b"r" * 200))


def test_events_are_batched_and_dropped_from_the_window_once_acknowledged(
        tmp_path: Path) -> None:
    channel, reactor = _channel(tmp_path)
    protocol, process = reactor.spawned[0]
    _send(channel, 10)
    assert process.written == []  # batched: one write per flush interval
    reactor.advance(channel.settings.flush_delay)
    assert len(process.written) == 1 and process.events() == list(range(1, 11))
    protocol.outReceived(encode_ack(6))
    assert channel.backlog == 4


def test_a_dead_worker_is_restarted_and_gets_the_unacknowledged_events_again(
        tmp_path: Path) -> None:
    channel, reactor = _channel(tmp_path)
    protocol, _ = reactor.spawned[0]
    _send(channel, 5)
    reactor.advance(0.1)
    protocol.outReceived(encode_ack(2))
    protocol.processEnded(Failure(ProcessTerminated(signal=9)))
    _send(channel, 2)  # while it is down: kept, not written anywhere
    reactor.advance(channel.settings.restart_initial)
    assert len(reactor.spawned) == 2
    _, second = reactor.spawned[1]
    reactor.advance(0.1)
    assert second.events() == [3, 4, 5, 6, 7]
    assert channel.counters.restarts == 1


def test_full_window_spills_to_disk_and_replays_in_order_when_drained(
        tmp_path: Path) -> None:
    frame_size = 260
    channel, reactor = _channel(tmp_path, window=3 * frame_size)
    protocol, process = reactor.spawned[0]
    _send(channel, 8)
    reactor.advance(0.1)
    assert process.events() == [1, 2, 3]
    assert channel.counters.spilled == 5 and channel.spill_path.exists()
    # Each time the window empties, spilled events come back, re-sequenced, in order.
    for _ in range(4):
        written = FrameReader().feed(b"".join(process.written))
        protocol.outReceived(encode_ack(written[-1].sequence))
        reactor.advance(0.1)
    written = FrameReader().feed(b"".join(process.written))
    assert [int(event.attempt_id, 16) for event in written] == list(range(1, 9))
    sequences = [event.sequence for event in written]
    assert sequences == sorted(sequences) and len(set(sequences)) == 8
    assert not channel.spill_path.exists() and channel.backlog == 0


def test_stop_waits_for_acks_then_closes_stdin(tmp_path: Path) -> None:
    channel, reactor = _channel(tmp_path)
    protocol, process = reactor.spawned[0]
    _send(channel, 3)
    stopped = channel.stop()
    assert not process.stdin_closed
    protocol.outReceived(encode_ack(3))
    assert process.stdin_closed and not stopped.called
    protocol.processEnded(Failure(ProcessTerminated(exitCode=0)))
    assert stopped.called
