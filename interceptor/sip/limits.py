"""Admission of beeps: at most N at once, at most R new ones per second (a token bucket on
the reactor clock), a bounded FIFO queue for the rest, and expiry of queued work whose
deadline passes before it could start."""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from interceptor.core.ratelimit import TokenBucket
from interceptor.core.reactor import Clock, DelayedCall
from interceptor.sip.config import BeepLimits

logger = logging.getLogger(__name__)

J = TypeVar("J")


@dataclass(eq=False)
class _Entry(Generic[J]):
    job: J
    deadline: float
    done: bool = False
    seq: int = field(default=0)


class Admission(Generic[J]):
    """Starts jobs through ``start`` as limits allow; ``expire`` gets those whose deadline
    passed while they waited. The owner calls :meth:`release` when a started job ends."""

    def __init__(self, limits: BeepLimits, clock: Clock, start: Callable[[J], None],
                 expire: Callable[[J], None]) -> None:
        self.limits = limits
        self.clock = clock
        self.start = start
        self.expire = expire
        self.bucket = TokenBucket(limits.max_per_second, limits.burst, clock)
        self.active = 0
        self.queued = 0
        self._queue: deque[_Entry[J]] = deque()
        self._deadlines: list[tuple[float, int, _Entry[J]]] = []
        self._seq = itertools.count()
        self._pump_call: DelayedCall | None = None
        self._expiry_call: DelayedCall | None = None
        self._expiry_at: float | None = None
        self._pumping = False

    def update(self, limits: BeepLimits) -> None:
        """New limits at runtime (the operator's thresholds); queued work goes on."""
        self.bucket.tokens  # noqa: B018 - settle the tokens earned at the old rate
        self.limits = limits
        self.bucket.rate = limits.max_per_second
        self.bucket.burst = float(limits.burst)
        if self._queue:
            self._pump()

    def offer(self, job: J, deadline: float) -> str | None:
        """Start or queue ``job``; returns why it was refused, or None."""
        now = self.clock.seconds()
        if deadline <= now:
            self.expire(job)
            return None
        if not self._queue and self.active < self.limits.max_concurrent and \
                self.bucket.try_take():
            self._start(job)
            return None
        if self.queued >= self.limits.queue_size:
            return f"queue full ({self.limits.queue_size} waiting)"
        entry = _Entry(job, deadline, seq=next(self._seq))
        self._queue.append(entry)
        self.queued += 1
        heapq.heappush(self._deadlines, (deadline, entry.seq, entry))
        self._schedule_expiry()
        self._pump()
        return None

    def release(self) -> None:
        """A started job has ended: its slot is free."""
        self.active -= 1
        if self._queue:
            self._pump()

    def drain(self) -> list[J]:
        """Take every queued job out (stopping); the caller decides their fate."""
        jobs = [entry.job for entry in self._queue if not entry.done]
        for entry in self._queue:
            entry.done = True
        self._queue.clear()
        self._deadlines.clear()
        self.queued = 0
        self._cancel_calls()
        return jobs

    def _start(self, job: J) -> None:
        self.active += 1
        self.start(job)

    def _pump(self) -> None:
        if self._pumping:
            return  # a job started by this pump finished synchronously: the loop goes on
        self._pumping = True
        try:
            self._pump_loop()
        finally:
            self._pumping = False
        self._schedule_expiry()

    def _pump_loop(self) -> None:
        queue = self._queue
        limit = self.limits.max_concurrent
        now = self.clock.seconds()
        while queue:
            entry = queue[0]
            if entry.done:
                queue.popleft()
                continue
            if entry.deadline <= now:
                queue.popleft()
                self._expire(entry)
                continue
            if self.active >= limit:
                return  # release() pumps again
            if not self.bucket.try_take():
                self._pump_later(self.bucket.wait_time())
                return
            queue.popleft()
            entry.done = True
            self.queued -= 1
            self._start(entry.job)

    def _pump_later(self, delay: float) -> None:
        if self._pump_call is None or not self._pump_call.active():
            self._pump_call = self.clock.callLater(delay, self._on_pump_timer)

    def _on_pump_timer(self) -> None:
        self._pump_call = None
        self._pump()

    def _expire(self, entry: _Entry[J]) -> None:
        entry.done = True
        self.queued -= 1
        self.expire(entry.job)

    def _schedule_expiry(self) -> None:
        heap = self._deadlines
        while heap and heap[0][2].done:
            heapq.heappop(heap)
        if not heap:
            self._cancel_expiry()
            return
        deadline = heap[0][0]
        if self._expiry_at == deadline and self._expiry_call is not None:
            return
        self._cancel_expiry()
        self._expiry_at = deadline
        self._expiry_call = self.clock.callLater(max(0.0, deadline - self.clock.seconds()),
                                                 self._on_expiry_timer)

    def _on_expiry_timer(self) -> None:
        self._expiry_call = None
        self._expiry_at = None
        now = self.clock.seconds()
        heap = self._deadlines
        expired = 0
        while heap and heap[0][0] <= now:
            _, _, entry = heapq.heappop(heap)
            if not entry.done:
                self._expire(entry)
                expired += 1
        if expired:
            logger.warning("%d queued beeps expired before they could start", expired)
        self._schedule_expiry()

    def _cancel_expiry(self) -> None:
        if self._expiry_call is not None and self._expiry_call.active():
            self._expiry_call.cancel()
        self._expiry_call = None
        self._expiry_at = None

    def _cancel_calls(self) -> None:
        self._cancel_expiry()
        if self._pump_call is not None and self._pump_call.active():
            self._pump_call.cancel()
        self._pump_call = None
