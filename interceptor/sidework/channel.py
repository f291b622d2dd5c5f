"""The relay process's end of the side-work process: spawn it, feed it events, keep
every event until the worker has acknowledged it, and start it again if it dies.

Relaying never waits here: ``send`` appends to memory and one write per reactor turn
goes down the pipe. If the worker is gone for long and the in-memory window fills,
events go to an append-only spill file and are replayed when the worker is back.
"""

from __future__ import annotations

import collections
import fcntl
import json
import logging
import os
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twisted.internet import defer
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from interceptor.core.reactor import DelayedCall, Reactor
from interceptor.sidework.frames import (
    REPLY_ACK,
    REPLY_STATS,
    REPLY_WATCH,
    FrameError,
    ReplyReader,
    ack_sequence,
    frame_sequence,
    with_sequence,
)
from interceptor.sidework.stats import SideWorkStats

logger = logging.getLogger(__name__)

_LENGTH = struct.Struct("!I")


@dataclass(frozen=True)
class ChannelSettings:
    window_bytes: int = 64 << 20
    flush_delay: float = 0.02
    restart_initial: float = 0.5
    restart_max: float = 30.0
    stop_timeout: float = 30.0


@dataclass
class ChannelCounters:
    sent: int = 0
    acknowledged: int = 0
    spilled: int = 0
    restarts: int = 0


ReplyListener = Callable[[Any], None]


def _keep_off_relay_cores(pid: int) -> None:
    """If the relay process is pinned to some cores (taskset, cpusets), the side work
    runs on the others: it must never compete with relaying for CPU."""
    try:
        everything = set(range(os.cpu_count() or 1))
        relay = os.sched_getaffinity(0)
        others = everything - relay
        if relay != everything and others:
            os.sched_setaffinity(pid, others)
            logger.info("side work on cpus %s, relay on %s", sorted(others), sorted(relay))
    except (AttributeError, OSError) as error:
        logger.warning("cannot set the side work's cpu affinity: %s", error)


_F_SETPIPE_SZ = 1031  # Linux fcntl


def _widen_pipe(transport: Any, size: int = 1 << 20) -> None:
    """A 1 MiB pipe to the worker: fewer partial writes and wake-ups at high rates."""
    try:
        writer = transport.pipes[0]
        fcntl.fcntl(writer.fileno(), _F_SETPIPE_SZ, size)
    except (AttributeError, KeyError, OSError) as error:
        logger.debug("pipe to the side work keeps its default size: %s", error)


class _WorkerProtocol(ProcessProtocol):
    def __init__(self, channel: WorkerChannel) -> None:
        self.channel = channel
        self.replies = ReplyReader()

    def connectionMade(self) -> None:
        self.channel.worker_started(self)

    def outReceived(self, data: bytes) -> None:
        try:
            replies = self.replies.feed(data)
        except FrameError as error:
            logger.error("side work: unreadable reply: %s; restarting it", error)
            transport: Any = self.transport
            transport.signalProcess("KILL")
            return
        last_ack = None
        for kind, payload in replies:
            if kind == REPLY_ACK:
                last_ack = ack_sequence(payload)
            else:
                self.channel.reply(kind, payload)
        if last_ack is not None:
            self.channel.acknowledged(last_ack)

    def processEnded(self, reason: Failure) -> None:
        self.channel.worker_ended(self, reason)


class WorkerChannel:
    """Owns the worker process. ``config_raw`` is the whole configuration mapping."""

    def __init__(self, reactor: Reactor, config_raw: Any, state_dir: Path,
                 settings: ChannelSettings | None = None, base_dir: Path | None = None,
                 log_level: str = "info") -> None:
        self.reactor = reactor
        self.settings = settings or ChannelSettings()
        self.state_dir = state_dir
        self.config_path = state_dir / "sidework-config.json"
        self.spill_path = state_dir / "sidework-spill.bin"
        self._config_raw = config_raw
        self._base_dir = base_dir
        self._log_level = log_level
        self._unacked: collections.deque[bytes] = collections.deque()
        self._unacked_bytes = 0
        self._outgoing: list[bytes] = []
        self._flush_call: DelayedCall | None = None
        self._worker: _WorkerProtocol | None = None
        self._ready = False
        self._restart_call: DelayedCall | None = None
        self._failures = 0
        self._stopping: defer.Deferred[None] | None = None
        self._drained: list[defer.Deferred[None]] = []
        self._spilling = False
        self._next_sequence = 1
        self.counters = ChannelCounters()
        # What the worker tells us besides acks: callback watches (the tap listens) and
        # its figures (the metrics endpoint reads the latest snapshot).
        self.watch_listeners: list[ReplyListener] = []
        self.worker_stats = SideWorkStats()

    def reply(self, kind: int, payload: bytes) -> None:
        try:
            value = json.loads(payload)
        except ValueError:
            logger.warning("side work: unreadable reply of kind %d ignored", kind)
            return
        if kind == REPLY_WATCH:
            for listener in self.watch_listeners:
                try:
                    listener(value)
                except Exception:
                    logger.exception("callback watch update failed")
        elif kind == REPLY_STATS:
            self.worker_stats = SideWorkStats.from_json(value)

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # Owner-only: the configuration may name the database.
        descriptor = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(self._config_raw, handle)
        if self.spill_path.exists() and self.spill_path.stat().st_size:
            self._spilling = True
            logger.warning("side work: %d bytes of events from an earlier run to replay",
                           self.spill_path.stat().st_size)
        self._spawn()

    def next_sequence(self) -> int:
        sequence = self._next_sequence
        self._next_sequence += 1
        return sequence

    def _spawn(self) -> None:
        self._restart_call = None
        argv = [sys.executable, "-m", "interceptor.app.worker",
                "--config-json", str(self.config_path), "--log-level", self._log_level]
        if self._base_dir is not None:
            argv += ["--base-dir", str(self._base_dir)]
        env = dict(os.environ)
        self.reactor.spawnProcess(_WorkerProtocol(self), sys.executable, argv, env=env,
                                  childFDs={0: "w", 1: "r", 2: 2})

    def worker_started(self, worker: _WorkerProtocol) -> None:
        self._worker = worker
        self._ready = True
        transport: Any = worker.transport
        logger.info("side-work process started (pid %s)", transport.pid)
        _keep_off_relay_cores(int(transport.pid))
        _widen_pipe(transport)
        # Whatever it did not acknowledge before, it gets again (idempotent by attempt id).
        resend = b"".join(self._unacked)
        if resend:
            self._write(resend)
        self._refill_from_spill()

    def worker_ended(self, worker: _WorkerProtocol, reason: Failure) -> None:
        if worker is not self._worker:
            return
        self._worker = None
        self._ready = False
        if self._stopping is not None:
            logger.info("side-work process stopped: %s", reason.getErrorMessage())
            if self._unacked or self._spilling:
                logger.warning("side work: %d events not acknowledged at stop; kept in %s",
                               len(self._unacked), self.spill_path)
                self._spill_unacked()
            self._stopping.callback(None)
            return
        self._failures += 1
        self.counters.restarts += 1
        delay = min(self.settings.restart_initial * 2 ** (self._failures - 1),
                    self.settings.restart_max)
        logger.error("side-work process ended (%s); restarting in %.1fs with %d events "
                     "to resend", reason.getErrorMessage(), delay, len(self._unacked))
        self._restart_call = self.reactor.callLater(delay, self._spawn)

    def stop(self) -> defer.Deferred[None]:
        """Wait (bounded) for every event to be acknowledged, then end the worker."""
        if self._stopping is not None:
            return self._stopping
        self._stopping = defer.Deferred()
        if self._restart_call is not None and self._restart_call.active():
            self._restart_call.cancel()
            self._restart_call = None
        if self._worker is None:
            self._spill_unacked()
            self._stopping.callback(None)
            return self._stopping
        self._flush()
        drained: defer.Deferred[None] = defer.Deferred()
        if not self._unacked and not self._spilling:
            drained.callback(None)
        else:
            self._drained.append(drained)
        timeout = self.reactor.callLater(self.settings.stop_timeout, self._give_up, drained)
        drained.addBoth(lambda _: timeout.cancel() if timeout.active() else None)
        drained.addCallback(lambda _: self._close_worker())
        return self._stopping

    def _give_up(self, drained: defer.Deferred[None]) -> None:
        if not drained.called:
            logger.warning("side work: not all events acknowledged within %.0fs",
                           self.settings.stop_timeout)
            drained.callback(None)

    def _close_worker(self) -> None:
        transport: Any = self._worker.transport if self._worker is not None else None
        if transport is not None:
            transport.closeStdin()  # EOF: the worker finishes and exits

    # -- events ----------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        """Queue one frame for the worker. Never blocks, never raises."""
        if self._spilling or self._unacked_bytes + len(frame) > self.settings.window_bytes:
            self._spill(frame)
            return
        self._unacked.append(frame)
        self._unacked_bytes += len(frame)
        self.counters.sent += 1
        if self._ready:
            self._outgoing.append(frame)
            if self._flush_call is None:
                # A few milliseconds of batching save the relay a write per event.
                self._flush_call = self.reactor.callLater(self.settings.flush_delay,
                                                          self._flush)

    def _flush(self) -> None:
        self._flush_call = None
        if self._outgoing and self._ready:
            data = b"".join(self._outgoing)
            self._outgoing = []
            self._write(data)

    def _write(self, data: bytes) -> None:
        transport: Any = self._worker.transport if self._worker is not None else None
        if transport is not None:
            transport.write(data)

    def acknowledged(self, sequence: int) -> None:
        unacked = self._unacked
        while unacked and frame_sequence(unacked[0]) <= sequence:
            frame = unacked.popleft()
            self._unacked_bytes -= len(frame)
            self.counters.acknowledged += 1
        self._failures = 0
        if not unacked:
            self._refill_from_spill()
            if not unacked and not self._spilling:
                drained, self._drained = self._drained, []
                for deferred in drained:
                    deferred.callback(None)

    @property
    def running(self) -> bool:
        """The worker process is up (started and not ended)."""
        return self._ready

    @property
    def backlog(self) -> int:
        return len(self._unacked)

    # -- spill file (worker gone for long) -------------------------------------------

    def _spill(self, frame: bytes) -> None:
        try:
            with self.spill_path.open("ab") as spill:
                spill.write(frame)
        except OSError:
            logger.exception("side work: cannot write %s; event lost", self.spill_path)
            return
        if not self._spilling:
            logger.warning("side work: window full, events go to %s", self.spill_path)
        self._spilling = True
        self.counters.spilled += 1

    def _spill_unacked(self) -> None:
        if not self._unacked:
            return
        frames = b"".join(self._unacked)
        existing = self.spill_path.read_bytes() if self.spill_path.exists() else b""
        self.spill_path.write_bytes(frames + existing)
        self._unacked.clear()
        self._unacked_bytes = 0

    def _refill_from_spill(self) -> None:
        """Move spilled frames back into the window once it is empty."""
        if not self._spilling or self._unacked or not self._ready:
            return
        data = self.spill_path.read_bytes() if self.spill_path.exists() else b""
        self.spill_path.unlink(missing_ok=True)
        self._spilling = False
        offset = 0
        while offset + 4 <= len(data):
            length = _LENGTH.unpack_from(data, offset)[0]
            frame = with_sequence(data[offset:offset + 4 + length], self.next_sequence())
            offset += 4 + length
            self.send(frame)
        logger.info("side work: %d spilled bytes handed back to the worker", len(data))
