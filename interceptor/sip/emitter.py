"""The beep emitter as a Twisted service: ``submit(BeepRequest)`` -> ``Deferred[BeepOutcome]``.

Requests pass admission (limits.py), become a :class:`BeepCall` on the route of the callee
class, may be retried when busy/unavailable (retry.py), and end as one outcome each.
``stopService`` refuses new work, CANCELs the calls in progress and waits for them (at most
``shutdown_grace`` after their CANCEL), then closes the sockets.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from twisted.application import service
from twisted.internet import defer

from interceptor.core.reactor import DelayedCall, Reactor
from interceptor.core.vocabulary import OutcomeKind
from interceptor.sip.builder import RequestBuilder, plus_e164
from interceptor.sip.call import BeepCall, CallResult
from interceptor.sip.config import BeepLimits, RouteConfig, SipConfig, is_e164, is_ip_address
from interceptor.sip.limits import Admission
from interceptor.sip.message import IdSource, SipRequest, build_response
from interceptor.sip.outcome import BeepOutcome, BeepRequest, not_started
from interceptor.sip.retry import RetryPolicy
from interceptor.sip.transaction import Flow, TransactionLayer
from interceptor.sip.transport import FlowReceiver, TcpFlow, open_udp

logger = logging.getLogger(__name__)

Endpoint = tuple[str, str, int]  # (transport, host, port)
FlowOpener = Callable[[RouteConfig, str, FlowReceiver], Flow]  # (route, ip, receiver)


@dataclass(eq=False)
class _Job:
    request: BeepRequest
    route: RouteConfig
    caller: str  # presented identity, +E164
    callee: str
    deferred: defer.Deferred[BeepOutcome] = field(default_factory=defer.Deferred)
    attempts: int = 0
    call: BeepCall | None = None
    last: BeepOutcome | None = None
    retry_call: DelayedCall | None = None


@dataclass
class EmitterStats:
    submitted: int = 0
    refused: int = 0
    expired: int = 0
    started: int = 0
    retried: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class BeepEmitter(service.Service):
    """Sends beeps. ``reactor`` gives time, timers and sockets (a fake one in tests);
    ``open_flow`` replaces how sockets are opened (tests)."""

    def __init__(self, config: SipConfig, reactor: Reactor, *, seed: int | None = None,
                 open_flow: FlowOpener | None = None) -> None:
        self.config = config
        self.reactor = reactor
        self.ids = IdSource(random.Random(seed))
        self.layer = TransactionLayer(reactor, config.timers, self._request_received,
                                      config.max_message_size)
        self.builder = RequestBuilder(config, self.ids)
        self.admission: Admission[_Job] = Admission(config.limits, reactor, self._start_job,
                                                    self._expire_job)
        self.retry = RetryPolicy(config.retry)
        self.stats = EmitterStats()
        self.flows: dict[Endpoint, Flow] = {}
        self.calls: dict[str, BeepCall] = {}  # Call-ID -> call in progress
        self._jobs: dict[str, _Job] = {}  # Call-ID -> its job
        self._open_flow = open_flow or self._open_real_flow
        self._waiting_retry: set[_Job] = set()
        self._accepting = False
        self._drained: defer.Deferred[None] | None = None

    # --- service -------------------------------------------------------------------------
    @defer.inlineCallbacks
    def startService(self) -> Any:
        """Open one socket per next hop (names resolved first); fires when ready."""
        super().startService()
        for route in self.config.routes:
            if not route.enabled or route.endpoint in self.flows:
                continue
            address = route.host
            if not is_ip_address(address):
                address = yield self.reactor.resolve(route.host)
            self.flows[route.endpoint] = self._open_flow(route, address, self.layer)
        self._accepting = True
        logger.info("beep emitter started: %d routes, %d sockets",
                    sum(route.enabled for route in self.config.routes), len(self.flows))

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        """Refuse new beeps, end queued ones, CANCEL calls in progress, wait, close."""
        super().stopService()
        self._accepting = False
        for job in self.admission.drain():
            self._deliver(job, not_started(job.request, OutcomeKind.REFUSED,
                                           "emitter stopping", job.caller, job.attempts))
        for job in list(self._waiting_retry):
            self._end_retry_wait(job)
        if self.calls:
            logger.info("stopping: cancelling %d beeps in progress", len(self.calls))
            self._drained = defer.Deferred()
            for call in list(self.calls.values()):
                call.stop()
            grace = self.reactor.callLater(self.config.timers.shutdown_grace,
                                           self._abandon_all)
            yield self._drained
            if grace.active():
                grace.cancel()
        self.layer.close()
        for flow in self.flows.values():
            yield flow.close()
        self.flows.clear()
        logger.info("beep emitter stopped")

    def _abandon_all(self) -> None:
        for call in list(self.calls.values()):
            call.abandon("emitter stopped before the call ended")

    def apply_limits(self, limits: BeepLimits) -> None:
        """Rate, concurrency and age limits changed at runtime (thresholds)."""
        if limits != self.config.limits:
            self.config = replace(self.config, limits=limits)
            self.admission.update(limits)

    # --- submitting ----------------------------------------------------------------------
    def submit(self, request: BeepRequest) -> defer.Deferred[BeepOutcome]:
        """Beep ``request.callee_e164``; the Deferred fires with the outcome (never errs)."""
        self.stats.submitted += 1
        job_or_outcome = self._prepare(request)
        if isinstance(job_or_outcome, BeepOutcome):
            self._count(job_or_outcome)
            return defer.succeed(job_or_outcome)
        job = job_or_outcome
        refusal = self.admission.offer(job, request.created_at + self.config.limits.max_age)
        if refusal is not None:
            self._deliver(job, not_started(request, OutcomeKind.REFUSED, refusal, job.caller))
        return job.deferred

    def _prepare(self, request: BeepRequest) -> _Job | BeepOutcome:
        def refuse(reason: str) -> BeepOutcome:
            logger.info("beep %s refused: %s", request.attempt_id, reason)
            return not_started(request, OutcomeKind.REFUSED, reason)

        if not self._accepting:
            return refuse("emitter not running")
        route = self.config.route(request.callee_class)
        if route is None:
            return refuse(f"no route for callee class {request.callee_class!r}")
        if not route.enabled:
            return refuse(f"route {route.callee_class} disabled")
        caller = route.caller_msisdn or request.caller_e164
        if not is_e164(caller):
            return refuse(f"caller {caller!r} is not an E.164 number")
        if not is_e164(request.callee_e164):
            return refuse(f"callee {request.callee_e164!r} is not an E.164 number")
        return _Job(request, route, plus_e164(caller), plus_e164(request.callee_e164))

    def _start_job(self, job: _Job) -> None:
        flow = self.flows[job.route.endpoint]
        invite = self.builder.invite(job.caller, job.callee, job.route, flow)
        call = BeepCall(invite, flow, self.layer, self.builder, self.reactor,
                        self.config.timers, self.config.ring_codes, self._call_result,
                        self._call_done)
        job.call = call
        job.attempts += 1
        self.stats.started += 1
        self.calls[call.call_id] = call
        self._jobs[call.call_id] = job
        logger.debug("beep %s: INVITE %s -> %s (%s)", job.request.attempt_id, invite.call_id,
                     job.callee, job.route.callee_class)
        call.start()

    def _expire_job(self, job: _Job) -> None:
        self.stats.expired += 1
        if job.last is not None:  # a retry that could not start: the last outcome stands
            outcome = replace(job.last, reason=f"{job.last.reason}; retry expired")
        else:
            outcome = not_started(job.request, OutcomeKind.EXPIRED,
                                  "could not start within max_age", job.caller)
        self._deliver(job, outcome)

    # --- results -------------------------------------------------------------------------
    def _call_result(self, call: BeepCall, result: CallResult) -> None:
        job = self._jobs[call.call_id]
        outcome = BeepOutcome(
            attempt_id=job.request.attempt_id,
            kind=result.kind,
            reason=result.reason,
            final_code=result.final_code,
            caller=job.caller,
            callee=job.callee,
            callee_class=job.route.callee_class,
            call_id=result.call_id,
            attempts=job.attempts,
            times=result.times,
            ring_time=result.ring_time,
        )
        delay = self.retry.delay(result.kind, job.attempts) if self._accepting else None
        if delay is None:
            self._deliver(job, outcome)
            return
        job.last = outcome
        self.stats.retried += 1
        logger.info("beep %s: %s, retry %d in %.1fs", job.request.attempt_id,
                    result.kind.value, job.attempts, delay)
        self._waiting_retry.add(job)
        job.retry_call = self.reactor.callLater(delay, self._retry_due, job)

    def _retry_due(self, job: _Job) -> None:
        job.retry_call = None
        self._waiting_retry.discard(job)
        if not self._accepting:
            self._end_retry_wait(job)
            return
        refusal = self.admission.offer(job, self.reactor.seconds() +
                                       self.config.limits.max_age)
        if refusal is not None:
            assert job.last is not None
            self._deliver(job, replace(job.last, reason=f"{job.last.reason}; retry "
                                                        f"refused: {refusal}"))

    def _end_retry_wait(self, job: _Job) -> None:
        if job.retry_call is not None and job.retry_call.active():
            job.retry_call.cancel()
        job.retry_call = None
        self._waiting_retry.discard(job)
        if job.last is not None:
            self._deliver(job, job.last)

    def _call_done(self, call: BeepCall) -> None:
        self.calls.pop(call.call_id, None)
        self._jobs.pop(call.call_id, None)
        self.admission.release()
        if not self.calls and self._drained is not None and not self._drained.called:
            self._drained.callback(None)

    def _deliver(self, job: _Job, outcome: BeepOutcome) -> None:
        if job.deferred.called:
            return
        self._count(outcome)
        job.deferred.callback(outcome)

    def _count(self, outcome: BeepOutcome) -> None:
        kind = outcome.kind.value
        if outcome.kind is OutcomeKind.REFUSED:
            self.stats.refused += 1
        self.stats.outcomes[kind] = self.stats.outcomes.get(kind, 0) + 1

    # --- requests from the network -------------------------------------------------------
    def _request_received(self, request: SipRequest, flow: Flow) -> None:
        """We are a UAC only; answer what a peer may still send us, minimally."""
        method = request.method
        if method == "ACK":
            return
        if method == "OPTIONS":
            status = 200
        elif method == "BYE":
            status = 200 if request.call_id in self.calls else 481
        else:
            status = 481 if request.call_id not in self.calls else 405
        error = flow.send(build_response(request, status, self.ids.tag()))
        if error is not None:
            logger.warning("response %d to %s: %s", status, method, error)

    # --- sockets -------------------------------------------------------------------------
    def _open_real_flow(self, route: RouteConfig, address: str,
                        receiver: FlowReceiver) -> Flow:
        config = self.config
        if route.transport == "tcp":
            return TcpFlow(self.reactor, receiver, (address, route.port), config.sent_by_host,
                           config.local_address, route.local_port, config.max_message_size,
                           connect_timeout=config.timers.tcp_connect)
        return open_udp(self.reactor, receiver, config.local_address, route.local_port,
                        (address, route.port), config.sent_by_host, config.max_message_size,
                        config.udp_receive_buffer)

    # --- introspection -------------------------------------------------------------------
    @property
    def active(self) -> int:
        return self.admission.active

    @property
    def queued(self) -> int:
        return self.admission.queued

