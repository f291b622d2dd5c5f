"""The side work's scan trigger and batch saver on task.Clock."""

from __future__ import annotations

from twisted.internet import defer
from twisted.internet.task import Clock

from interceptor.core.batching import BatchSaver, ScanTrigger
from tests.storage.fakes import ManualRunner


def test_pokes_coalesce_and_a_poke_during_a_scan_makes_one_more() -> None:
    clock = Clock()
    scans: list[defer.Deferred[None]] = []

    def scan() -> defer.Deferred[None]:
        scans.append(defer.Deferred())
        return scans[-1]

    trigger = ScanTrigger(clock, scan)
    trigger.poke()  # not started: ignored
    clock.advance(1)
    assert scans == []
    trigger.start()
    for _ in range(3):
        trigger.poke()
    clock.advance(0.01)
    assert len(scans) == 1
    trigger.poke()
    trigger.poke()
    clock.advance(1)
    assert len(scans) == 1  # still scanning
    scans[0].callback(None)
    clock.advance(0.01)
    assert len(scans) == 2  # exactly one more
    trigger.stop()
    scans[1].callback(None)
    trigger.poke()
    clock.advance(1)
    assert len(scans) == 2


def test_saves_in_batches_and_keeps_a_failed_batch_for_a_retry() -> None:
    clock = Clock()
    runner = ManualRunner(auto=True, down=True)
    saved: list[list[int]] = []
    saver: BatchSaver[int] = BatchSaver(runner, clock, lambda batch: None, "numbers",
                                        saved=saved.append)
    saver.add(1)
    saver.add(2)
    clock.advance(0.05)
    assert list(saver.pending) == [1, 2] and saver.failures == 1 and saved == []
    runner.down = False
    clock.advance(BatchSaver.RETRY)
    assert saved == [[1, 2]] and list(saver.pending) == []


def test_drain_gives_up_after_its_timeout_when_the_database_is_gone() -> None:
    clock = Clock()
    runner = ManualRunner(auto=True, down=True)
    saver: BatchSaver[int] = BatchSaver(runner, clock, lambda batch: None, "numbers")
    saver.add(7)
    drained = saver.drain(10.0)
    for _ in range(25):
        clock.advance(0.5)
    assert drained.called
    assert list(saver.pending) == [7]
    assert 10 <= runner.ran <= 40  # retried at intervals, never in a tight loop
