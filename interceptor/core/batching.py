"""The two loops every SQL-driven sender of the side work runs (beeps, SMS): claim work
when poked, and write results back in batches without losing one.

:class:`ScanTrigger` coalesces pokes into scans: a poke schedules one scan shortly (if
none is pending); a poke while a scan runs makes one more scan right after it.

:class:`BatchSaver` writes results on the database thread pool, one batch at a time; a
batch that fails is kept and retried (a result is a fact worth a retry), and ``drain``
at stop retries for a bounded time rather than spinning on a database that is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from twisted.internet import defer, task

from interceptor.core.reactor import Clock, DelayedCall
from interceptor.core.runner import Runner

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ScanTrigger:
    """Runs ``scan`` ``delay`` after a poke; ``scan`` returns the Deferred of its work
    (None: nothing started). Pokes while it runs make one more scan after it."""

    def __init__(self, clock: Clock, scan: Callable[[], defer.Deferred[Any] | None],
                 delay: float = 0.01) -> None:
        self._clock = clock
        self._scan = scan
        self._delay = delay
        self._call: DelayedCall | None = None
        self._scanning = False
        self._again = False
        self.enabled = False

    def start(self) -> None:
        self.enabled = True

    def stop(self) -> None:
        self.enabled = False
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def poke(self) -> None:
        if not self.enabled:
            return
        if self._scanning:
            self._again = True
        elif self._call is None or not self._call.active():
            self._call = self._clock.callLater(self._delay, self._run)

    def _run(self) -> None:
        self._call = None
        if not self.enabled:
            return
        job = self._scan()
        if job is None:
            return
        self._scanning = True
        job.addBoth(self._ended)

    def _ended(self, result: Any) -> Any:
        self._scanning = False
        if self._again:
            self._again = False
            self.poke()
        return result


class BatchSaver(Generic[T]):
    """Saves results with ``save(batch)`` on ``runner``; ``saved(batch)`` runs on the
    reactor after each success. ``ready()`` False postpones a save a moment (e.g. while
    a reload must see all of a save or none of it)."""

    RETRY = 1.0  # seconds between attempts after a failure

    def __init__(self, runner: Runner, clock: Clock, save: Callable[[list[T]], Any],
                 what: str, *, delay: float = 0.05,
                 saved: Callable[[list[T]], None] | None = None,
                 ready: Callable[[], bool] | None = None,
                 identify: Callable[[T], str] = str) -> None:
        self._runner = runner
        self._clock = clock
        self._save = save
        self._what = what
        self._delay = delay
        self._saved = saved
        self._ready = ready
        self._identify = identify
        self._unsaved: list[T] = []
        self._saving = False
        self._call: DelayedCall | None = None  # the one flush planned, if any
        self.failures = 0

    @property
    def pending(self) -> Sequence[T]:
        return self._unsaved

    @property
    def saving(self) -> bool:
        return self._saving

    def add(self, item: T) -> None:
        self._unsaved.append(item)
        if not self._saving:
            self._plan(self._delay)

    def _plan(self, delay: float) -> None:
        """At most one flush is planned: the earliest wins."""
        due = self._clock.seconds() + delay
        if self._call is not None and self._call.active():
            if self._call.getTime() <= due:
                return
            self._call.cancel()
        self._call = self._clock.callLater(delay, self.flush)

    def flush(self) -> defer.Deferred[None]:
        """One save of what is waiting (no-op while one runs or nothing waits)."""
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        if self._saving or not self._unsaved:
            return defer.succeed(None)
        if self._ready is not None and not self._ready():
            return task.deferLater(self._clock, 0.02, lambda: None).addCallback(
                lambda _: self.flush())
        self._saving = True
        batch, self._unsaved = self._unsaved, []
        job = self._runner.run(self._save, batch)

        def done(_: object) -> None:
            self._saving = False
            if self._saved is not None:
                try:
                    self._saved(batch)
                except Exception:
                    logger.exception("after saving %s: a listener failed", self._what)
            if self._unsaved:
                self._plan(self._delay)

        def failed(failure: Any) -> None:
            self._saving = False
            self.failures += 1
            self._unsaved[:0] = batch
            logger.warning("cannot save %d %s (%s); retrying", len(batch), self._what,
                           failure.getErrorMessage())
            self._plan(self.RETRY)

        return job.addCallbacks(done, failed)

    @defer.inlineCallbacks
    def drain(self, timeout: float) -> Any:
        """Save everything waiting (stopping), retrying for at most ``timeout`` seconds;
        what is still unsaved then is logged and left."""
        deadline = self._clock.seconds() + timeout
        while self._unsaved or self._saving:
            if self._clock.seconds() >= deadline:
                logger.error("stopping: %d %s could not be saved: %s", len(self._unsaved),
                             self._what,
                             ", ".join(self._identify(item) for item in self._unsaved[:20]))
                return
            failures = self.failures
            yield self.flush()
            if self._saving or self.failures > failures:
                yield task.deferLater(self._clock, 0.5 if self.failures > failures
                                      else 0.02, lambda: None)
