"""A periodic, off-reactor reload of data the interceptor keeps in memory.

Every ``interval`` seconds ``load()`` runs on the database thread pool (never two at a
time) and its result is handed to ``apply()`` on the reactor. A failed load keeps what
was applied before; the failure is logged once per outage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from twisted.application import service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from interceptor.core.reactor import Clock
from interceptor.core.runner import Runner
from interceptor.storage.errors import describe

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Reloader(Generic[T]):
    def __init__(self, runner: Runner, clock: Clock, interval: float,
                 load: Callable[[], T], apply: Callable[[T], None], what: str) -> None:
        self._runner = runner
        self._interval = interval
        self._load = load
        self._apply = apply
        self._what = what
        self._loop = LoopingCall(self._tick)
        self._loop.clock = clock
        self._loading = False
        self._waiters: list[Deferred[None]] = []
        self._healthy = True
        self.reloads = 0
        self.failures = 0

    def start(self) -> Deferred[None]:
        """Load now and every ``interval``; fires after the first attempt (even failed)."""
        if not self._loop.running:
            self._loop.start(self._interval, now=True)
        return self.when_idle()

    def stop(self) -> Deferred[None]:
        """No more reloads; fires once a load in flight has ended."""
        if self._loop.running:
            self._loop.stop()
        return self.when_idle()

    def _tick(self) -> None:
        try:
            self.reload_now()
        except Exception:  # a LoopingCall stops for good if its function raises
            self._loading = False
            logger.exception("cannot schedule a reload of %s", self._what)

    def reload_now(self) -> None:
        if self._loading:
            return
        self._loading = True
        job = self._runner.run(self._load)
        job.addCallbacks(self._loaded, self._failed)
        job.addBoth(self._idle)

    def when_idle(self) -> Deferred[None]:
        if not self._loading:
            return succeed(None)
        done: Deferred[None] = Deferred()
        self._waiters.append(done)
        return done

    def _loaded(self, result: T) -> None:
        self._apply(result)
        self.reloads += 1
        if not self._healthy:
            logger.info("%s reloaded again", self._what)
        self._healthy = True

    def _failed(self, failure: Failure) -> None:
        self.failures += 1
        if self._healthy:
            logger.warning("cannot reload %s (%s); keeping what was loaded before",
                           self._what, describe(failure.value))
        self._healthy = False

    def _idle(self, result: object) -> None:
        if isinstance(result, Failure):
            logger.error("reloading %s failed unexpectedly: %s", self._what,
                         result.getTraceback())
        self._loading = False
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(None)


class ReloadingCache(service.Service, Generic[T]):
    """A service whose in-memory view is reloaded from SQL every ``refresh`` seconds.

    Subclasses implement ``_load`` (database thread) and ``_apply`` (reactor).
    """

    def __init__(self, runner: Runner, clock: Clock, refresh: float, what: str) -> None:
        self._reloader: Reloader[T] = Reloader(runner, clock, refresh, self._load,
                                               self._apply, what)

    def _load(self) -> T:
        raise NotImplementedError

    def _apply(self, loaded: T) -> None:
        raise NotImplementedError

    @property
    def reloads(self) -> int:
        return self._reloader.reloads

    @property
    def failures(self) -> int:
        return self._reloader.failures

    def startService(self) -> Deferred[None]:
        """Start refreshing; fires after the first load attempt (even a failed one)."""
        service.Service.startService(self)
        return self._reloader.start()

    def stopService(self) -> Deferred[None]:
        """Stop refreshing; fires once a load in flight has ended."""
        service.Service.stopService(self)
        return self._reloader.stop()

    def reload(self) -> Deferred[None]:
        """Refresh now (no-op if a load is already in flight); fires when it ends."""
        self._reloader.reload_now()
        return self._reloader.when_idle()
