"""The attempt recorder: the reactor hands it attempts, it gets them into SQL, eventually.

Contract with the reactor: :meth:`AttemptRecorder.record` appends to a bounded in-memory
queue and returns; it never blocks and never raises. Everything else happens later:

* a flusher on the reactor clock (``flush_interval``, and at once when ``batch_size``
  attempts are waiting) hands one batch at a time to the database thread pool;
* when the queue is full, or a batch fails, or the database is known to be down, attempts
  go to the on-disk spool (:mod:`.spool`) instead; after a failure the database is retried
  with exponential backoff (``flush_interval`` doubling up to ``retry_max``);
* spooled attempts (including those left by an earlier run) are replayed in chunks of
  ``batch_size``, alternating with fresh batches so neither starves; a segment is
  deleted once written. Inserts ignore known ``attempt_id`` values, so a replay after a
  crash never duplicates a row;
* on stop, queued attempts are flushed for at most ``stop_timeout`` seconds; whatever is
  left (including a batch still in flight) is spooled for the next start.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from twisted.application import service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from interceptor.core.reactor import Clock, DelayedCall
from interceptor.core.runner import Runner
from interceptor.storage.config import DatabaseConfig
from interceptor.storage.errors import describe
from interceptor.storage.jobs import ReplayResult, replay_chunk, write_batch
from interceptor.storage.records import AttemptRecord
from interceptor.storage.spool import Segment, Spool
from interceptor.storage.writer import WriteResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecorderStats:
    """Counters for logs and metrics (totals since construction, except the gauges)."""

    queued: int = 0  # gauge: attempts waiting in memory
    in_flight: int = 0  # gauge: attempts in the batch being written
    spool_backlog_bytes: int = 0  # gauge: spooled data not yet replayed
    spooled: int = 0  # attempts written to the spool
    written: int = 0  # rows inserted (fresh batches and replays)
    replayed: int = 0  # of which came back from the spool
    duplicates: int = 0  # inserts ignored because the attempt_id existed (replays)
    failures: int = 0  # database jobs that failed (outage, timeout...)
    rejected: int = 0  # records the database refused or spool lines unreadable (kept aside)
    dropped: int = 0  # attempts lost: queue over its hard limit and the spool unusable
    database_up: bool = False


class AttemptRecorder(service.Service):
    """Records :class:`AttemptRecord` objects in SQL without ever delaying the reactor."""

    name = "attempt-recorder"

    def __init__(self, config: DatabaseConfig, engine: Engine, runner: Runner, spool: Spool,
                 clock: Clock, database_label: str = "database") -> None:
        self._config = config
        self._engine = engine
        self._runner = runner
        self._spool = spool
        self._clock = clock
        self._label = database_label
        self._queue: deque[AttemptRecord] = deque()
        self._loop = LoopingCall(self._pump)
        self._loop.clock = clock
        self._pump_call: DelayedCall | None = None
        self._busy = False
        self._job: object | None = None  # token of the job in flight
        self._in_flight: Sequence[AttemptRecord] | None = None
        self._prefer_spool = True
        self._retry_delay = 0.0
        self._retry_at: float | None = None
        self._database_up = True
        self._spool_ok = True
        self._startup: list[Deferred[None]] = []
        self._stopping: list[Deferred[None]] | None = None
        self._stop_timer: DelayedCall | None = None
        self._spooled = self._written = self._replayed = self._duplicates = 0
        self._failures = self._rejected = self._dropped = 0
        # Told about records once they are durable (in the database, or in the spool).
        self.on_persisted: Callable[[Sequence[AttemptRecord]], None] | None = None

    # -- the reactor's side -------------------------------------------------------------

    def record(self, attempt: AttemptRecord) -> None:
        """Queue an attempt for writing. Never blocks, never raises."""
        try:
            self._record(attempt)
        except Exception:
            self._dropped += 1
            logger.exception("attempt could not be queued: %r", attempt)

    def _record(self, attempt: AttemptRecord) -> None:
        if not isinstance(attempt, AttemptRecord):
            raise TypeError(f"expected an AttemptRecord, got {type(attempt).__name__}")
        if len(self._queue) >= self._config.queue_bound and self._spill([attempt]):
            return
        if len(self._queue) >= 2 * self._config.queue_bound:
            self._dropped += 1
            logger.error("attempt %s dropped: queue full and spool unusable",
                         attempt.attempt_id)
            return
        self._queue.append(attempt)
        if len(self._queue) >= self._config.batch_size and self.running and not self._busy:
            self._schedule_pump()

    def stats(self) -> RecorderStats:
        return RecorderStats(
            queued=len(self._queue),
            in_flight=len(self._in_flight or ()),
            spool_backlog_bytes=self._spool.backlog_bytes,
            spooled=self._spooled,
            written=self._written,
            replayed=self._replayed,
            duplicates=self._duplicates,
            failures=self._failures,
            rejected=self._rejected,
            dropped=self._dropped,
            database_up=self._database_up,
        )

    # -- service life cycle -------------------------------------------------------------

    def startService(self) -> Deferred[None]:
        """Open the spool and start flushing.

        Raises SpoolLockedError or OSError at once if the spool directory cannot be used.
        The Deferred fires once the spool left by an earlier run is replayed, or at the
        first database failure (the rest then replays in the background); it never fails.
        """
        if self.running:
            return succeed(None)
        self._spool.open()
        service.Service.startService(self)
        self._retry_at = None
        self._retry_delay = 0.0
        ready: Deferred[None] = Deferred()
        self._startup.append(ready)
        self._loop.start(self._config.flush_interval, now=True)
        self._check_startup()
        return ready

    def stopService(self) -> Deferred[None]:
        """Flush what is queued (at most ``stop_timeout`` seconds), spool the rest."""
        stopped: Deferred[None] = Deferred()
        if self._stopping is not None:
            self._stopping.append(stopped)
            return stopped
        if not self.running:
            return succeed(None)
        service.Service.stopService(self)
        if self._loop.running:
            self._loop.stop()
        if self._pump_call is not None and self._pump_call.active():
            self._pump_call.cancel()
        self._pump_call = None
        self._stopping = [stopped]
        self._stop_timer = self._clock.callLater(self._config.stop_timeout, self._finish_stop)
        self._drain()
        return stopped

    def _drain(self) -> None:
        if self._stopping is None or self._busy:
            return  # a job is in flight: _drain runs again when it ends
        if self._queue and not self._in_backoff():
            self._start_write()
            return
        self._finish_stop()

    def _finish_stop(self) -> None:
        if self._stopping is None:
            return
        if self._stop_timer is not None and self._stop_timer.active():
            self._stop_timer.cancel()
        self._stop_timer = None
        leftovers = [*(self._in_flight or ()), *self._queue]
        self._in_flight = None
        self._job = None  # a late completion of the job in flight now only counts
        self._busy = False
        self._queue.clear()
        if leftovers and not self._spill(leftovers):
            self._queue.extend(leftovers)
            logger.error("%s attempts could not be spooled at stop: they stay in memory "
                         "and are lost if the process exits", len(leftovers))
        elif leftovers:
            logger.info("stopped with %s attempts spooled for the next start", len(leftovers))
        try:
            self._spool.close()
        except OSError as error:
            logger.error("cannot close the spool %s cleanly: %s", self._spool.directory, error)
        waiting, self._stopping = self._stopping, None
        self._fire_startup()
        for stopped in waiting:
            stopped.callback(None)

    # -- the flusher --------------------------------------------------------------------

    def _schedule_pump(self) -> None:
        if self._pump_call is None or not self._pump_call.active():
            self._pump_call = self._clock.callLater(0, self._pump)

    def _pump(self) -> None:
        try:
            self._pump_once()
        except Exception:  # a LoopingCall stops for good if its function raises
            logger.exception("attempt recorder flush failed")

    def _pump_once(self) -> None:
        if not self.running or self._busy:
            return
        if self._in_backoff():
            # The database is down: get attempts onto the disk rather than hold them in RAM.
            self._spill_queue()
            return
        spool_work = self._spool.sealed_count > 0 or self._spool.active_records > 0
        if spool_work and (self._prefer_spool or not self._queue):
            self._prefer_spool = False
            segment = self._spool.next_sealed() or self._spool.seal()
            if segment is not None:
                self._start_replay(segment)
                return
        if self._queue:
            self._prefer_spool = True
            self._start_write()

    def _start_write(self) -> None:
        size = min(self._config.batch_size, len(self._queue))
        batch = tuple(self._queue.popleft() for _ in range(size))
        token = self._begin()
        self._in_flight = batch
        job = self._runner.run(write_batch, self._engine, batch, self._spool.directory)
        job.addCallbacks(self._write_done, self._write_failed, callbackArgs=(token,),
                         errbackArgs=(token,))
        job.addErrback(self._internal_error)

    def _start_replay(self, segment: Segment) -> None:
        token = self._begin()
        job = self._runner.run(replay_chunk, self._engine, segment, self._config.batch_size,
                               self._spool.directory)
        job.addCallbacks(self._replay_done, self._replay_failed, callbackArgs=(segment, token),
                         errbackArgs=(token,))
        job.addErrback(self._internal_error)

    def _begin(self) -> object:
        self._busy = True
        self._job = object()
        return self._job

    def _end(self, token: object) -> bool:
        """Whether the job is still the current one (not overtaken by a timed-out stop)."""
        if token is not self._job:
            return False
        self._busy = False
        self._job = None
        return True

    def _write_done(self, result: WriteResult, token: object) -> None:
        self._count(result)
        self._persisted(self._in_flight or ())
        if not self._end(token):
            return  # stop already spooled this batch; the replay will ignore it
        self._in_flight = None
        self._database_ok()
        self._next()

    def _write_failed(self, failure: Failure, token: object) -> None:
        batch = self._in_flight or ()
        if not self._end(token):
            return
        self._in_flight = None
        if not self._spill(batch):
            self._queue.extendleft(reversed(batch))
        self._database_failed(failure)
        self._spill_queue()
        self._next()

    def _replay_done(self, result: ReplayResult, segment: Segment, token: object) -> None:
        self._count(result.write)
        self._replayed += result.write.inserted
        self._rejected += len(result.chunk.bad_lines)
        segment.offset = result.chunk.next_offset
        segment.line = result.chunk.next_line
        if result.removed:
            self._spool.forget(segment)
            logger.info("spool segment %s replayed", segment.path.name)
        if not self._end(token):
            return
        self._database_ok()
        self._check_startup()
        self._next()

    def _replay_failed(self, failure: Failure, token: object) -> None:
        if not self._end(token):
            return
        self._database_failed(failure)
        self._fire_startup()
        self._next()

    def _next(self) -> None:
        if self._stopping is not None:
            self._drain()
            return
        if not self.running:
            return
        more_spool = self._spool.sealed_count > 0
        if len(self._queue) >= self._config.batch_size or more_spool:
            self._schedule_pump()

    def _internal_error(self, failure: Failure) -> None:
        self._busy = False
        self._job = None
        logger.error("attempt recorder bug: %s", failure.getTraceback())

    def _count(self, result: WriteResult) -> None:
        self._written += result.inserted
        self._duplicates += result.duplicates
        self._rejected += len(result.rejected)
        for record, error in result.rejected:
            logger.error("attempt %s refused by the database (kept in %s): %s",
                         record.attempt_id, self._spool.directory, error)

    # -- database health ----------------------------------------------------------------

    def _in_backoff(self) -> bool:
        return self._retry_at is not None and self._clock.seconds() < self._retry_at

    def _database_ok(self) -> None:
        if not self._database_up:
            logger.info("%s is reachable again; replaying the spool", self._label)
        self._database_up = True
        self._retry_at = None
        self._retry_delay = 0.0

    def _database_failed(self, failure: Failure) -> None:
        self._failures += 1
        if self._retry_delay == 0.0:
            self._retry_delay = self._config.flush_interval
        else:
            self._retry_delay = min(self._retry_delay * 2, self._config.retry_max)
        self._retry_at = self._clock.seconds() + self._retry_delay
        if not failure.check(SQLAlchemyError, OSError):
            logger.error("unexpected error writing attempts: %s", failure.getTraceback())
        if self._database_up:
            logger.warning("%s unavailable (%s): attempts go to the spool %s until it is back",
                           self._label, describe(failure.value), self._spool.directory)
        else:
            logger.debug("%s still unavailable (%s); next try in %.1fs", self._label,
                         describe(failure.value), self._retry_delay)
        self._database_up = False

    # -- spooling -----------------------------------------------------------------------

    def _spill_queue(self) -> None:
        if self._queue:
            batch = list(self._queue)
            if self._spill(batch):
                self._queue.clear()

    def _spill(self, records: Sequence[AttemptRecord]) -> bool:
        if not self._spool.is_open:
            if self._spool_ok:
                logger.warning("attempt recorder is not running: attempts wait in memory")
            self._spool_ok = False
            return False
        try:
            self._spool.append(records)
        except OSError as error:
            if self._spool_ok:
                logger.error("cannot write the spool %s: %s", self._spool.directory, error)
            self._spool_ok = False
            return False
        if not self._spool_ok:
            logger.info("spool %s is writable again", self._spool.directory)
        self._spool_ok = True
        self._spooled += len(records)
        self._persisted(records)
        return True

    def _persisted(self, records: Sequence[AttemptRecord]) -> None:
        if self.on_persisted is not None and records:
            try:
                self.on_persisted(records)
            except Exception:
                logger.exception("on_persisted hook failed")

    # -- startup ------------------------------------------------------------------------

    def _check_startup(self) -> None:
        if self._spool.sealed_count == 0:
            self._fire_startup()

    def _fire_startup(self) -> None:
        waiting, self._startup = self._startup, []
        for ready in waiting:
            ready.callback(None)
