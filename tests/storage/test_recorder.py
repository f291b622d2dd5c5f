"""The attempt recorder's flusher, driven by task.Clock and a hand-run "thread pool"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from twisted.internet.task import Clock

from interceptor.storage.config import DatabaseConfig
from interceptor.storage.models import Attempt
from interceptor.storage.recorder import AttemptRecorder
from interceptor.storage.records import AttemptRecord
from interceptor.storage.spool import REJECTED_NAME, Spool
from interceptor.storage.writer import write_attempts
from tests.storage.fakes import ManualRunner, attempt

CONFIG = DatabaseConfig(batch_size=10, flush_interval=1.0, queue_bound=50, retry_max=8.0,
                        stop_timeout=5.0)


class Harness:
    def __init__(self, engine: Engine, spool_dir: Path, config: DatabaseConfig = CONFIG,
                 runner: ManualRunner | None = None) -> None:
        self.engine = engine
        self.clock = Clock()
        self.runner = runner or ManualRunner()
        self.spool_dir = spool_dir
        self.recorder = AttemptRecorder(config, engine, self.runner, Spool(spool_dir),
                                        self.clock, database_label="test-db")

    def rows(self) -> list[str]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(Attempt.attempt_id)).scalars())

    def count(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(Attempt)).scalar_one()

    def spool_lines(self) -> int:
        return sum(len(path.read_text().splitlines())
                   for path in self.spool_dir.glob("attempts-*.jsonl"))


@pytest.fixture
def harness(sqlite_engine: Engine, tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(sqlite_engine, tmp_path / "spool")
    yield harness
    if harness.recorder.running:
        harness.runner.auto = True
        harness.runner.down = False
        harness.runner.run_all()
        harness.recorder.stopService()


def started(harness: Harness) -> list[Any]:
    fired: list[Any] = []
    harness.recorder.startService().addBoth(fired.append)
    return fired


def test_batches_by_size_at_once_and_by_interval_otherwise(harness: Harness) -> None:
    assert started(harness) == [None]
    records = [attempt(index) for index in range(13)]
    for record in records:
        harness.recorder.record(record)
    assert harness.runner.jobs == []  # nothing runs inside record()
    harness.clock.advance(0)  # a full batch is flushed on the next reactor turn
    assert len(harness.runner.jobs) == 1
    harness.runner.run_all()
    assert harness.count() == 10
    harness.clock.advance(0.5)
    assert harness.runner.jobs == []  # 3 left: they wait for the interval
    harness.clock.advance(0.5)
    harness.runner.run_all()
    assert sorted(harness.rows()) == sorted(record.attempt_id for record in records)
    stats = harness.recorder.stats()
    assert (stats.written, stats.queued, stats.spooled, stats.failures) == (13, 0, 0, 0)


def test_one_batch_in_flight_at_a_time(harness: Harness) -> None:
    started(harness)
    for index in range(30):
        harness.recorder.record(attempt(index))
    harness.clock.advance(0)
    harness.clock.advance(1.0)
    assert len(harness.runner.jobs) == 1
    assert harness.recorder.stats().in_flight == 10
    harness.runner.run_next()
    harness.clock.advance(0)  # more than a batch waiting: next batch at once
    assert len(harness.runner.jobs) == 1
    harness.runner.run_next()
    harness.clock.advance(0)
    harness.runner.run_next()
    assert harness.count() == 30


def test_record_never_raises(harness: Harness) -> None:
    broken: Any = object()  # not even an AttemptRecord
    harness.recorder.record(broken)  # logged and counted, not raised
    assert harness.recorder.stats().dropped == 1


def test_outage_spools_then_replays_every_attempt_exactly_once(harness: Harness) -> None:
    started(harness)
    harness.runner.down = True
    records = [attempt(index) for index in range(25)]
    for record in records[:12]:
        harness.recorder.record(record)
    harness.clock.advance(0)
    harness.runner.run_all()  # the batch fails: it and the rest of the queue are spooled
    stats = harness.recorder.stats()
    assert (stats.database_up, stats.failures, stats.queued, stats.spooled) == (False, 1, 0, 12)
    for record in records[12:]:
        harness.recorder.record(record)
    harness.clock.advance(0.5)  # in backoff: the queue goes to disk, not to the database
    assert harness.runner.jobs == []
    assert harness.spool_lines() == 25
    harness.clock.advance(0.5)  # backoff over: a probe (replaying the spool) fails again
    harness.runner.run_all()
    stats = harness.recorder.stats()
    assert (stats.failures, stats.queued) == (2, 0)
    assert harness.spool_lines() == 25
    harness.runner.down = False
    harness.clock.advance(1.0)
    assert harness.runner.jobs == []  # the backoff doubled: no try before 2 s
    harness.clock.advance(1.0)
    for _ in range(10):
        harness.runner.run_all()
        harness.clock.advance(1.0)
    assert sorted(harness.rows()) == sorted(record.attempt_id for record in records)
    stats = harness.recorder.stats()
    assert stats.database_up and stats.replayed == 25 and stats.spool_backlog_bytes == 0
    assert harness.spool_lines() == 0


def test_full_queue_spills_to_disk_without_waiting(sqlite_engine: Engine,
                                                   tmp_path: Path) -> None:
    harness = Harness(sqlite_engine, tmp_path / "spool",
                      DatabaseConfig(batch_size=5, queue_bound=5, flush_interval=1.0))
    started(harness)
    records = [attempt(index) for index in range(12)]
    for record in records:  # the database is slow: no job completes meanwhile
        harness.recorder.record(record)
    stats = harness.recorder.stats()
    assert stats.queued == 5 and stats.spooled == 7
    for _ in range(10):
        harness.clock.advance(0)
        harness.runner.run_all()
        harness.clock.advance(1.0)
    assert sorted(harness.rows()) == sorted(record.attempt_id for record in records)
    harness.runner.auto = True
    harness.recorder.stopService()


def test_startup_replays_the_spool_even_after_a_crash_before_truncation(
        harness: Harness) -> None:
    records = [attempt(index) for index in range(15)]
    earlier = Spool(harness.spool_dir)
    earlier.open()
    earlier.append(records)
    earlier.close()
    write_attempts(harness.engine, records[:10])  # committed, then the process died
    ready = started(harness)
    assert ready == []  # waits for the replay
    harness.runner.run_all()
    harness.clock.advance(0)
    harness.runner.run_all()
    assert ready == [None]
    assert sorted(harness.rows()) == sorted(record.attempt_id for record in records)
    stats = harness.recorder.stats()
    assert (stats.replayed, stats.duplicates) == (5, 10)
    assert list(harness.spool_dir.glob("attempts-*.jsonl")) == []


def test_startup_does_not_wait_for_a_database_that_is_down(harness: Harness) -> None:
    earlier = Spool(harness.spool_dir)
    earlier.open()
    earlier.append([attempt(1)])
    earlier.close()
    harness.runner.down = True
    ready = started(harness)
    harness.runner.run_all()
    assert ready == [None]
    assert harness.spool_lines() == 1


def test_stop_flushes_what_is_queued(harness: Harness) -> None:
    started(harness)
    harness.runner.auto = True
    records = [attempt(index) for index in range(25)]
    for record in records:
        harness.recorder.record(record)
    stopped: list[Any] = []
    harness.recorder.stopService().addBoth(stopped.append)
    assert stopped == [None]
    assert harness.count() == 25
    assert harness.spool_lines() == 0


def test_stop_waits_a_bounded_time_then_spools_the_rest(harness: Harness) -> None:
    started(harness)
    records = [attempt(index) for index in range(25)]
    for record in records:
        harness.recorder.record(record)
    harness.clock.advance(0)  # a batch goes in flight and hangs
    stopped: list[Any] = []
    harness.recorder.stopService().addBoth(stopped.append)
    assert stopped == []
    harness.clock.advance(CONFIG.stop_timeout)
    assert stopped == [None]
    assert harness.spool_lines() == 25  # the in-flight batch too: it may never commit
    harness.runner.run_all()  # ... but it did commit, late
    assert harness.count() == 10

    # Next start: the spool is replayed; the 10 late rows are not duplicated.
    restarted = Harness(harness.engine, harness.spool_dir, runner=ManualRunner(auto=True))
    started(restarted)
    restarted.clock.advance(0)
    assert sorted(restarted.rows()) == sorted(record.attempt_id for record in records)
    assert restarted.recorder.stats().duplicates == 10
    restarted.recorder.stopService()


def test_stop_with_the_database_down_spools_at_once(harness: Harness) -> None:
    started(harness)
    harness.runner.auto = True
    harness.runner.down = True
    for index in range(3):
        harness.recorder.record(attempt(index))
    harness.clock.advance(1.0)
    harness.recorder.record(attempt(3))
    stopped: list[Any] = []
    harness.recorder.stopService().addBoth(stopped.append)
    assert stopped == [None]
    assert harness.spool_lines() == 4


def test_attempts_recorded_after_stop_wait_for_the_next_start(harness: Harness) -> None:
    started(harness)
    harness.runner.auto = True
    harness.recorder.stopService()
    late = attempt(1)
    harness.recorder.record(late)
    assert harness.recorder.stats().queued == 1
    started(harness)
    harness.clock.advance(1.0)
    assert harness.rows() == [late.attempt_id]


def test_records_the_database_refuses_are_set_aside(harness: Harness) -> None:
    started(harness)
    harness.runner.auto = True
    poison = attempt(2, session_id=None)
    for record in (attempt(1), poison, attempt(3)):
        harness.recorder.record(record)
    harness.clock.advance(1.0)
    assert harness.count() == 2
    assert harness.recorder.stats().rejected == 1
    [kept] = (harness.spool_dir / REJECTED_NAME).read_text().splitlines()
    assert json.loads(json.loads(kept)["line"])["attempt_id"] == poison.attempt_id


def test_fresh_batches_and_replays_alternate(harness: Harness) -> None:
    """A long spool backlog does not starve new attempts, nor the reverse."""
    backlog = Spool(harness.spool_dir)
    backlog.open()
    backlog.append([attempt(index) for index in range(40)])
    backlog.close()
    started(harness)
    kinds: list[str] = []
    original = harness.runner.run

    def spy(fn: Any, *args: Any) -> Any:
        kinds.append(fn.__name__)
        return original(fn, *args)

    harness.runner.run = spy  # type: ignore[method-assign]
    harness.runner.run_all()  # the startup replay's first chunk
    for index in range(100, 130):
        harness.recorder.record(attempt(index))
    for _ in range(8):
        harness.clock.advance(0)
        harness.runner.run_all()
    assert kinds[:4] == ["write_batch", "replay_chunk", "write_batch", "replay_chunk"]
    assert harness.count() == 70


def test_records_are_plain_data(harness: Harness) -> None:
    record: AttemptRecord = attempt()
    assert not hasattr(record, "_sa_instance_state")
