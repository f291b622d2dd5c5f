"""Where blocking work runs: a dedicated, small Twisted thread pool.

:class:`Runner` is the one seam between reactor-side code and blocking code; tests give
the recorder a runner they control instead of threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from interceptor.core.reactor import Reactor

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Runner(Protocol):
    def run(self, fn: Callable[..., T], *args: Any) -> Deferred[T]:
        """Run ``fn(*args)`` off the reactor; the Deferred fires on the reactor."""


class ThreadPoolRunner:
    """A :class:`ThreadPool` of its own (not the reactor's shared pool).

    ``stop()`` joins the threads: a job stuck in a database call delays it, which is why
    engines carry connect and statement timeouts.
    """

    def __init__(self, reactor: Reactor, threads: int, name: str) -> None:
        self._reactor = reactor
        self.pool = ThreadPool(minthreads=0, maxthreads=threads, name=name)

    def start(self) -> None:
        if not self.pool.started:
            self.pool.start()

    def stop(self) -> None:
        if self.pool.started:
            self.pool.stop()

    def run(self, fn: Callable[..., T], *args: Any) -> Deferred[T]:
        return deferToThreadPool(self._reactor, self.pool, fn, *args)
