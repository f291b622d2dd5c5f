"""The side-work process's wiring: its features built from the configuration, and each
frame from the relay handed to the feature it concerns, as plain values.

Out-of-credit candidates become attempts (detection) recorded in SQL (storage); the
policy decides which are beeped (beeps) and which get the SMS (sms); callback frames go
to callback attribution. The relay is acknowledged for each frame once what it caused is
durable (:class:`AckWindow`), so it resends whatever a crash of this process could have
lost. The process's ``main`` is :mod:`interceptor.app.worker`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from twisted.application import service
from twisted.internet import defer, task
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from interceptor.beeps.scheduler import BeepScheduler
from interceptor.beeps.store import BeepResult
from interceptor.callbacks.service import CallbackAttribution
from interceptor.callbacks.store import Notice
from interceptor.core.reactor import Reactor
from interceptor.detection import build_detection
from interceptor.detection.attempts import AttemptFactory
from interceptor.detection.detector import AttemptDetector
from interceptor.diameter.avpwalk import ims_charging_identifier
from interceptor.policy.service import PolicyService
from interceptor.reports.today import TodayFigures
from interceptor.sidework.acks import AckWindow
from interceptor.sidework.config import SideWorkConfig
from interceptor.sidework.frames import (
    KIND_CALLBACK_START,
    KIND_CALLBACK_USAGE,
    REPLY_STATS,
    REPLY_WATCH,
    Exchange,
    FrameError,
    FrameReader,
    encode_ack,
    encode_json_reply,
)
from interceptor.sidework.stats import SideWorkStats
from interceptor.sip import BeepEmitter, is_beep_charging_id
from interceptor.sip.marker import DEFAULT_MARKER
from interceptor.sms.rules import SmsRule
from interceptor.sms.scheduler import SmsScheduler
from interceptor.storage import AttemptRecord, StorageService

logger = logging.getLogger(__name__)

TODAY_REFRESH_RATIO = 15  # today's figures: refreshed every 15 stats snapshots (30 s)


class SideWork(service.MultiService):
    """The services of the side-work process and where each frame goes."""

    def __init__(self, config: SideWorkConfig, reactor: Reactor) -> None:
        super().__init__()
        self.storage = StorageService(config.database, reactor)
        self.storage.setServiceParent(self)
        engine, runner = self.storage.engine, self.storage.runner
        self.policy = PolicyService(config.policy, engine, runner, reactor)
        detection = build_detection(config.detection)
        marker = config.sip.marker if config.sip is not None else DEFAULT_MARKER
        factory = AttemptFactory(config.numbering, interceptor_host=config.origin_host,
                                 blacklist=self.storage.blacklist,
                                 portability=self.storage.portability)
        self.detector = AttemptDetector(
            detection.classifier, detection.extractor, factory,
            own_session=lambda request: is_beep_charging_id(
                ims_charging_identifier(request), marker))
        self.beeps: BeepScheduler | None = None
        if config.sip is not None or config.sms is not None:
            emitter = BeepEmitter(config.sip, reactor) if config.sip is not None else None
            sms_rule = None if config.sms is None else SmsRule(config.sms.send_after)
            self.beeps = BeepScheduler(emitter, self.policy, reactor, sms_rule=sms_rule)
        self.sms: SmsScheduler | None = None
        if config.sms is not None:
            self.sms = SmsScheduler(config.sms, engine, runner, reactor,
                                    breaker=self.policy.smsc_breaker)
        self.callbacks: CallbackAttribution | None = None
        if config.callbacks.enabled:
            self.callbacks = CallbackAttribution(
                config.callbacks, engine, runner, reactor, detection.extractor,
                detection.classifier, config.numbering)
        self.today = TodayFigures(engine, runner, reactor,
                                  config.stats_interval * TODAY_REFRESH_RATIO)
        self.acks = AckWindow()
        self.acknowledge: Callable[[int], None] = lambda sequence: None
        self._callback_jobs = 0
        self.ready: defer.Deferred[None] = defer.Deferred()
        self._wire()

    def _wire(self) -> None:
        """Who tells whom: durable attempts poke the beeps; saved beep outcomes poke the
        SMS and start callback watches, as does a submitted SMS; thresholds set the SMS
        rate."""
        self.storage.recorder.on_persisted = self._persisted
        beeps, sms, callbacks = self.beeps, self.sms, self.callbacks
        if beeps is not None and callbacks is not None:
            def notify_beeped(results: Sequence[BeepResult]) -> None:
                callbacks.notified(_notices(results))

            beeps.on_saved.append(notify_beeped)
        if sms is not None:
            self.policy.on_change(lambda thresholds: sms.set_rate(
                thresholds.number("global.max_sms_per_second") or 50.0))
            if beeps is not None:
                beeps.on_saved.append(lambda results: sms.poke())
            if callbacks is not None:
                def notify_sms(attempt_id: str, at: datetime) -> None:
                    callbacks.notified([Notice(attempt_id, at)])

                sms.on_submitted.append(notify_sms)

    def startService(self) -> None:
        """Start storage; ``ready`` fires once its caches are loaded (or the database is
        known to be down), so no event is judged against an empty blacklist. The senders
        start then too (picking up attempts a previous run left unbeeped)."""
        service.Service.startService(self)
        self.ready = self.storage.startService()
        if self.callbacks is not None:
            callbacks = self.callbacks
            self.ready.addCallback(lambda _: callbacks.start())
        if self.beeps is not None:
            beeps, policy = self.beeps, self.policy
            # Beeps wait for the thresholds (or the knowledge that the database is down).
            self.ready.addCallback(lambda _: policy.startService())
            self.ready.addCallback(lambda _: beeps.startService())
        if self.sms is not None:
            sms = self.sms
            self.ready.addCallback(lambda _: sms.startService())
        self.ready.addCallback(lambda _: self.today.start())

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        service.Service.stopService(self)
        self.today.stop()
        if self.beeps is not None and self.beeps.running:
            yield self.beeps.stopService()
        if self.sms is not None and self.sms.running:
            yield self.sms.stopService()
        if self.policy.running:
            yield self.policy.stopService()
        if self.callbacks is not None:
            yield self.callbacks.stop()
        yield self.storage.stopService()

    # -- frames from the relay ---------------------------------------------------------

    def handle(self, event: Exchange) -> None:
        if event.kind == KIND_CALLBACK_START or event.kind == KIND_CALLBACK_USAGE:
            self._callback_event(event)
            return
        attempt = self.detector.detect(event.request, event.answer,
                                       attempt_id=event.attempt_id,
                                       occurred_at=event.occurred_at,
                                       client_peer=event.origin, ocs_peer=event.target)
        if attempt is None:
            self.acks.handed(event.sequence, None)
            return
        self.acks.handed(event.sequence, attempt.attempt_id)
        self.storage.recorder.record(attempt)

    def _callback_event(self, event: Exchange) -> None:
        """Acknowledged once its SQL work is done (or has failed: logged, counted)."""
        callbacks = self.callbacks
        if callbacks is None:
            self.acks.handed(event.sequence, None)
            return
        self._callback_jobs += 1
        token = f"callback:{self._callback_jobs}"
        self.acks.handed(event.sequence, token)
        if event.kind == KIND_CALLBACK_START:
            done = callbacks.call_started(event.request, event.answer, event.occurred_at)
        else:
            done = callbacks.call_usage(event.request)

        def finished(_: object) -> None:
            self.acks.durable(token)
            self.advance()

        done.addBoth(finished)

    def _persisted(self, records: Sequence[AttemptRecord]) -> None:
        for record in records:
            self.acks.durable(record.attempt_id)
        self.advance()
        if self.beeps is not None:
            self.beeps.poke()

    def advance(self) -> None:
        """Acknowledge the longest prefix of frames that need nothing more from us."""
        last = self.acks.advance()
        if last is not None:
            self.acknowledge(last)

    # -- figures -------------------------------------------------------------------------

    def stats(self) -> SideWorkStats:
        """The side work's figures, sent to the relay for its metrics endpoint."""
        return SideWorkStats(
            detection=self.detector.counters,
            recorder=self.storage.recorder.stats(),
            policy=self.policy.counters,
            breakers={"beeps": self.policy.beep_breaker.state,
                      "smsc": self.policy.smsc_breaker.state},
            beeps=None if self.beeps is None else self.beeps.figures(),
            sms=None if self.sms is None else self.sms.refresh_counters(),
            callbacks=None if self.callbacks is None else self.callbacks.figures(),
            today=self.today.summary)


def _notices(results: Sequence[BeepResult]) -> list[Notice]:
    """Every beep that left (an INVITE went to B) is watched for a callback."""
    notices = []
    for result in results:
        at: datetime | None = result.notified_at
        if at is not None:
            notices.append(Notice(result.attempt_id, at))
    return notices


class EventStream(Protocol):
    """stdin: frames in; stdout: cumulative acknowledgements, watch updates and stats out."""

    ACK_DELAY = 0.1  # acks are coalesced: every ack costs the relay a wake-up

    def __init__(self, work: SideWork, finished: defer.Deferred[None], clock: Any,
                 stats_interval: float = 2.0) -> None:
        self.work = work
        self.reader = FrameReader()
        self.finished = finished
        self.clock = clock
        self._ack: int | None = None
        self._ack_call: Any = None
        work.acknowledge = self._acknowledge
        self._stats = task.LoopingCall(self._send_stats)
        self._stats.clock = clock
        self._stats_interval = stats_interval

    def connectionMade(self) -> None:
        callbacks = self.work.callbacks
        if callbacks is not None:
            callbacks.publish = self._publish_watches
            self._publish_watches(callbacks.full_state())
        self._stats.start(self._stats_interval, now=True)

    def _publish_watches(self, update: dict[str, Any]) -> None:
        if self.transport is not None:
            self._transport.write(encode_json_reply(REPLY_WATCH, update))

    def _send_stats(self) -> None:
        if self.transport is not None:
            self._transport.write(encode_json_reply(REPLY_STATS,
                                                    self.work.stats().to_json()))

    def _acknowledge(self, sequence: int) -> None:
        self._ack = sequence
        if self._ack_call is None:
            self._ack_call = self.clock.callLater(self.ACK_DELAY, self._send_ack)

    def _send_ack(self) -> None:
        self._ack_call = None
        if self._ack is not None and self.transport is not None:
            self._transport.write(encode_ack(self._ack))
            self._ack = None

    @property
    def _transport(self) -> Any:
        return self.transport

    def dataReceived(self, data: bytes) -> None:
        try:
            events = self.reader.feed(data)
        except FrameError as error:
            logger.error("side work: unreadable input from the relay: %s", error)
            self._transport.loseConnection()
            return
        for event in events:
            try:
                self.work.handle(event)
            except Exception:
                logger.exception("side work: event %d failed; skipped", event.sequence)
        self.work.advance()

    def connectionLost(self, reason: Failure = Failure(EOFError())) -> None:  # noqa: B008
        if self._stats.running:
            self._stats.stop()
        if self.work.callbacks is not None:
            self.work.callbacks.publish = lambda update: None
        if not self.finished.called:
            self.finished.callback(None)
