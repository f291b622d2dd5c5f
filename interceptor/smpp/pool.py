"""submit_sm over several binds: failover by priority, a window per bind, a TPS cap
(token bucket on the reactor clock), back-off on ESME_RTHROTTLED / ESME_RMSGQFUL, and
resubmission after timeouts or lost binds.

``submit`` queues one part and returns a Deferred that fires with its message_id, or
fails with :class:`SubmitFailedError` (``transient`` tells whether the message may be tried
again later: nothing refused it, the pool just could not get it through).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from typing import Protocol as TypingProtocol

from twisted.application import service
from twisted.internet import defer
from twisted.python.failure import Failure

from interceptor.core.ratelimit import TokenBucket
from interceptor.core.reactor import DelayedCall, Reactor
from interceptor.smpp.bind import EndpointFactory, SmppBind
from interceptor.smpp.config import PoolConfig
from interceptor.smpp.messages import DeliveryReceipt, ShortMessage
from interceptor.smpp.protocol import (
    BindLostError,
    EsmeProtocol,
    ResponseTimeoutError,
    SmppStatusError,
)

logger = logging.getLogger(__name__)


class Breaker(TypingProtocol):
    """What the pool needs of a circuit breaker (interceptor.policy.breaker)."""

    def allow(self) -> bool: ...

    def record(self, ok: bool) -> None: ...


class SubmitFailedError(Exception):
    def __init__(self, reason: str, *, transient: bool, code: int | None = None) -> None:
        super().__init__(reason)
        self.transient = transient
        self.code = code


@dataclass
class PoolCounters:
    submitted: int = 0
    throttled: int = 0  # ESME_RTHROTTLED / ESME_RMSGQFUL answers
    resubmits: int = 0
    timeouts: int = 0
    refused: int = 0  # permanent error statuses
    bind_refusals: int = 0
    receipts: int = 0


@dataclass(eq=False)
class _Part:
    message: ShortMessage
    deferred: defer.Deferred[str] = field(default_factory=defer.Deferred)
    resubmits: int = 0


class SmppPool(service.MultiService):
    def __init__(self, config: PoolConfig, reactor: Reactor,
                 on_receipt: Callable[[DeliveryReceipt], None], *,
                 breaker: Breaker | None = None, endpoint: EndpointFactory | None = None,
                 seed: int | None = None) -> None:
        super().__init__()
        self.config = config
        self.clock = reactor
        self.on_receipt = on_receipt
        self.breaker = breaker
        self.bucket = TokenBucket(config.max_per_second, config.burst, reactor)
        self.counters = PoolCounters()
        self.binds = [SmppBind(bind, reactor, self, endpoint=endpoint,
                               seed=None if seed is None else seed + index,
                               unbind_timeout=config.unbind_timeout)
                      for index, bind in enumerate(config.binds)]
        for bind in self.binds:
            bind.setServiceParent(self)
        self._queue: deque[_Part] = deque()
        self._pump_call: DelayedCall | None = None
        self._turn = 0
        self._accepting = False
        self.on_ready: Callable[[], None] = lambda: None  # a bind came up / room freed

    # --- service ------------------------------------------------------------------------
    def startService(self) -> None:
        self._accepting = True
        super().startService()

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        """Refuse new parts, fail the queued ones as transient, unbind every bind."""
        self._accepting = False
        if self._pump_call is not None and self._pump_call.active():
            self._pump_call.cancel()
        queued, self._queue = self._queue, deque()
        for part in queued:
            part.deferred.errback(SubmitFailedError("SMPP client stopping", transient=True))
        yield super().stopService()

    # --- state ----------------------------------------------------------------------------
    @property
    def binds_up(self) -> int:
        return sum(bind.session is not None for bind in self.binds)

    @property
    def ready(self) -> bool:
        return self._accepting and self.binds_up > 0

    @property
    def queued(self) -> int:
        return len(self._queue)

    def room(self) -> int:
        """Parts the binds could take now beyond those already queued."""
        now = self.clock.seconds()
        return max(0, sum(bind.room(now) for bind in self.binds) - len(self._queue))

    def set_rate(self, per_second: float) -> None:
        """The TPS cap (a runtime knob for the policy)."""
        if per_second <= 0:
            raise ValueError("rate must be > 0")
        self.bucket.rate = per_second
        self._schedule_pump(0)

    # --- submit ---------------------------------------------------------------------------
    def submit(self, message: ShortMessage) -> defer.Deferred[str]:
        if not self._accepting:
            return defer.fail(SubmitFailedError("SMPP client not running", transient=True))
        part = _Part(message)
        self._queue.append(part)
        self._pump()
        return part.deferred

    def _pick(self) -> SmppBind | None:
        """The bound bind with room of the best (lowest) priority, round-robin within it."""
        now = self.clock.seconds()
        candidates = [bind for bind in self.binds if bind.room(now) > 0]
        if not candidates:
            return None
        best = min(bind.config.priority for bind in candidates)
        group = [bind for bind in candidates if bind.config.priority == best]
        self._turn += 1
        return group[self._turn % len(group)]

    def _pump(self) -> None:
        while self._queue and self._accepting:
            bind = self._pick()
            if bind is None:
                self._wake_at_pause_end()
                return
            if self.breaker is not None and not self.breaker.allow():
                self._schedule_pump(1.0)
                return
            if not self.bucket.try_take():
                self._schedule_pump(self.bucket.wait_time())
                return
            part = self._queue.popleft()
            session = bind.session
            assert session is not None
            sent = session.submit(part.message)
            sent.addCallbacks(self._submitted, self._submit_failed,
                              callbackArgs=(part, bind), errbackArgs=(part, bind))

    def _wake_at_pause_end(self) -> None:
        now = self.clock.seconds()
        pauses = [bind.paused_until - now for bind in self.binds
                  if bind.session is not None and bind.paused_until > now]
        if pauses:
            self._schedule_pump(min(pauses))

    def _schedule_pump(self, delay: float) -> None:
        if self._pump_call is not None and self._pump_call.active():
            if self._pump_call.getTime() <= self.clock.seconds() + delay:
                return
            self._pump_call.cancel()
        self._pump_call = self.clock.callLater(max(delay, 0.0), self._pumped)

    def _pumped(self) -> None:
        self._pump_call = None
        self._pump()

    def _submitted(self, message_id: str, part: _Part, bind: SmppBind) -> None:
        self.counters.submitted += 1
        bind.throttle_streak = 0
        if self.breaker is not None:
            self.breaker.record(True)
        part.deferred.callback(message_id)

    def _submit_failed(self, failure: Failure, part: _Part, bind: SmppBind) -> None:
        error = failure.value
        if isinstance(error, SmppStatusError) and error.transient:
            # The SMSC is alive and asks us to slow down: pause this bind, then retry.
            self.counters.throttled += 1
            self.counters.resubmits += 1
            delay = min(self.config.throttle_delay_max,
                        self.config.throttle_delay * 2 ** min(bind.throttle_streak, 20))
            bind.throttle_streak += 1
            bind.paused_until = max(bind.paused_until, self.clock.seconds() + delay)
            logger.info("SMPP bind %s: %s; pausing it %.2fs", bind.config.name, error, delay)
            self._requeue(part)
            return
        if isinstance(error, SmppStatusError):
            if self.breaker is not None:
                self.breaker.record(True)
            self.counters.refused += 1
            part.deferred.errback(SubmitFailedError(str(error), transient=False, code=error.code))
            return
        if isinstance(error, ResponseTimeoutError | BindLostError):
            if isinstance(error, ResponseTimeoutError):
                self.counters.timeouts += 1
            if self.breaker is not None:
                self.breaker.record(False)
            if part.resubmits < self.config.max_resubmits and self._accepting:
                part.resubmits += 1
                self.counters.resubmits += 1
                self._requeue(part)
                return
            part.deferred.errback(SubmitFailedError(str(error), transient=True))
            return
        part.deferred.errback(failure)

    def _requeue(self, part: _Part) -> None:
        if not self._accepting:
            part.deferred.errback(SubmitFailedError("SMPP client stopping", transient=True))
            return
        self._queue.appendleft(part)
        self._schedule_pump(0)

    # --- SessionListener --------------------------------------------------------------------
    def bound(self, session: EsmeProtocol) -> None:
        self._schedule_pump(0)
        self.on_ready()

    def bind_refused(self, session: EsmeProtocol, error: SmppStatusError) -> None:
        self.counters.bind_refusals += 1

    def closed(self, session: EsmeProtocol, reason: str) -> None:
        pass

    def window_open(self, session: EsmeProtocol) -> None:
        if self._queue:
            self._schedule_pump(0)
        else:
            self.on_ready()

    def receipt(self, receipt: DeliveryReceipt) -> None:
        self.counters.receipts += 1
        self.on_receipt(receipt)
