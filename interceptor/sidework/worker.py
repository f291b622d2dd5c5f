"""The side-work process: everything the relay must not wait for.

Reads out-of-credit events from stdin (frames from the relay process), turns the voice
call attempts among them into attempt records (parse the request, normalise numbers,
classify B, blacklists) and records them in SQL. Acknowledges on stdout each event once
its attempt is durable (in the database or the recorder's spool), so the relay resends
whatever a crash of this process could have lost; EOF on stdin means: finish, flush,
exit.

    python -m interceptor.sidework.worker --config-json FILE [--base-dir DIR]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from twisted.application import service
from twisted.internet import defer, stdio, task
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from interceptor.beeps.scheduler import BeepScheduler
from interceptor.beeps.store import BeepResult
from interceptor.callbacks.service import CallbackAttribution
from interceptor.callbacks.store import Notice
from interceptor.config.loader import InterceptorConfig, RecordingConfig, parse_config
from interceptor.core.histogram import RING_BUCKETS, Buckets
from interceptor.core.reactor import Reactor
from interceptor.core.runtime import freeze_startup_heap
from interceptor.core.section import ConfigError
from interceptor.detection import build_detection
from interceptor.detection.attempts import AttemptFactory
from interceptor.diameter import codec
from interceptor.policy.service import PolicyService
from interceptor.reports.figures import Report, build_report
from interceptor.reports.query import ReportQuery
from interceptor.sidework.frames import (
    KIND_CALLBACK_START,
    KIND_CALLBACK_USAGE,
    REPLY_STATS,
    REPLY_WATCH,
    FrameError,
    FrameReader,
    OutOfCreditEvent,
    encode_ack,
    encode_json_reply,
)
from interceptor.sip import BeepEmitter, is_beep_charging_id
from interceptor.sip.marker import DEFAULT_MARKER
from interceptor.sms.rules import SmsRule
from interceptor.sms.scheduler import SmsScheduler
from interceptor.storage import AttemptRecord, StorageService

logger = logging.getLogger(__name__)


TODAY_REFRESH_RATIO = 15  # today's figures: refreshed every 15 stats snapshots (30 s)


@dataclass
class WorkerCounters:
    events: int = 0
    not_voice_initial: int = 0  # or not out of credit after all, or our own beep
    recorded: int = 0
    suppressed: int = 0
    suppressed_by_reason: dict[str, int] = field(default_factory=dict)


class SideWork(service.MultiService):
    """The services of the side-work process and what it does with each event."""

    def __init__(self, config: InterceptorConfig, recording: RecordingConfig,
                 reactor: Reactor) -> None:
        super().__init__()
        self.storage = StorageService(config.database, reactor)
        self.storage.setServiceParent(self)
        self.policy = PolicyService(config.policy, self.storage.engine, self.storage.runner,
                                    reactor)
        self.beeps: BeepScheduler | None = None
        self.sms: SmsScheduler | None = None
        self.marker = config.sip.marker if config.sip is not None else DEFAULT_MARKER
        sms_rule = None if config.sms is None else SmsRule(config.sms.send_after)
        if config.sip is not None or config.sms is not None:
            emitter = BeepEmitter(config.sip, reactor) if config.sip is not None else None
            self.beeps = BeepScheduler(emitter, self.policy, reactor, sms_rule=sms_rule)
        if config.sms is not None:
            self.sms = SmsScheduler(config.sms, self.storage.engine, self.storage.runner,
                                    reactor, breaker=self.policy.smsc_breaker)
            sms = self.sms
            self.policy.on_change(lambda thresholds: sms.set_rate(
                thresholds.number("global.max_sms_per_second") or 50.0))
        detection = build_detection(recording.detection)
        self.extractor = detection.extractor
        self.classifier = detection.classifier
        self.attempts = AttemptFactory(recording.numbering,
                                       interceptor_host=config.relay.identity.origin_host,
                                       blacklist=self.storage.blacklist,
                                       portability=self.storage.portability)
        self.counters = WorkerCounters()
        self.ring_times = Buckets(RING_BUCKETS)
        self.callbacks: CallbackAttribution | None = None
        if config.callbacks.enabled:
            self.callbacks = CallbackAttribution(
                config.callbacks, self.storage.engine, self.storage.runner, reactor,
                self.extractor, self.classifier, recording.numbering)
        if self.beeps is not None:
            self.beeps.on_saved.append(self._beeps_saved)
            if self.callbacks is not None:
                self.beeps.on_saved.append(self.callbacks.beeps_saved)
        self._callback_tokens = 0
        # More figures for the stats snapshot, by name (e.g. "sms" from the SMS sender).
        self.stats_sources: dict[str, Callable[[], Any]] = {}
        if self.sms is not None:
            self._wire_sms(self.sms)
        # Today's report figures (UTC day), refreshed from SQL for `beepcall status`.
        self.today: dict[str, Any] | None = None
        self._today_loop = task.LoopingCall(self._refresh_today)
        self._today_loop.clock = reactor
        self._reactor = reactor
        stats_interval = config.metrics.stats_interval if config.metrics is not None else 2.0
        self.today_refresh = stats_interval * TODAY_REFRESH_RATIO
        self.ready: defer.Deferred[None] = defer.Deferred()
        # Events in arrival order with the attempt each became (None: no attempt); the
        # relay is acknowledged up to the first one whose attempt is not yet durable.
        self._handed: collections.deque[tuple[int, str | None]] = collections.deque()
        self._durable: set[str] = set()
        self.acknowledge: Callable[[int], None] = lambda sequence: None
        self.storage.recorder.on_persisted = self._persisted

    def startService(self) -> None:
        """Start storage; ``ready`` fires once its caches are loaded (or the database is
        known to be down), so no event is judged against an empty blacklist. Beeps start
        then too (picking up attempts a previous run left unbeeped)."""
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
        self.ready.addCallback(self._start_today)

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        service.Service.stopService(self)
        if self._today_loop.running:
            self._today_loop.stop()
        if self.beeps is not None and self.beeps.running:
            yield self.beeps.stopService()
        if self.sms is not None and self.sms.running:
            yield self.sms.stopService()
        if self.policy.running:
            yield self.policy.stopService()
        if self.callbacks is not None:
            yield self.callbacks.stop()
        yield self.storage.stopService()

    def handle(self, event: OutOfCreditEvent) -> None:
        if event.kind == KIND_CALLBACK_START or event.kind == KIND_CALLBACK_USAGE:
            self._callback_event(event)
            return
        self.counters.events += 1
        verdict = self.classifier.out_of_credit(event.answer)
        context = None if verdict is None else self.extractor.call_context(event.request)
        if verdict is None or context is None or self._is_our_beep(event.request):
            # data, update/terminate, another context, terminating leg, or our own beep
            self.counters.not_voice_initial += 1
            self._handed.append((event.sequence, None))
            return
        attempt = self.attempts.build(context, attempt_id=event.attempt_id,
                                      occurred_at=event.occurred_at,
                                      result_code=verdict.code, where=verdict.where,
                                      client_peer=event.origin, ocs_peer=event.target)
        if attempt.status == "suppressed":
            self.counters.suppressed += 1
            by_reason = self.counters.suppressed_by_reason
            reason = attempt.status_reason or "unknown"
            by_reason[reason] = by_reason.get(reason, 0) + 1
        else:
            self.counters.recorded += 1
        self._handed.append((event.sequence, attempt.attempt_id))
        self.storage.recorder.record(attempt)

    def _callback_event(self, event: OutOfCreditEvent) -> None:
        """Acknowledged once its SQL work is done (or has failed: logged, counted)."""
        callbacks = self.callbacks
        if callbacks is None:
            self._handed.append((event.sequence, None))
            return
        self._callback_tokens += 1
        token = f"callback:{self._callback_tokens}"
        self._handed.append((event.sequence, token))
        if event.kind == KIND_CALLBACK_START:
            done = callbacks.call_started(event)
        else:
            done = callbacks.call_usage(event)

        def finished(_: object) -> None:
            self._durable.add(token)
            self.advance()

        done.addBoth(finished)

    def _start_today(self, _: object) -> None:
        self._today_loop.start(self.today_refresh, now=True)  # its Deferred fires at stop

    def _refresh_today(self) -> None:
        now = datetime.fromtimestamp(self._reactor.seconds(), UTC)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        query = ReportQuery(midnight, now + timedelta(seconds=1))
        job = self.storage.runner.run(build_report, self.storage.engine, query)

        def done(report: Report) -> None:
            self.today = {"since": midnight.isoformat(), **report.total.as_dict()}

        job.addCallbacks(done, lambda failure: logger.debug(
            "today's figures not refreshed: %s", failure.getErrorMessage()))

    def _beeps_saved(self, results: Sequence[BeepResult]) -> None:
        for result in results:
            if result.ring_time_ms is not None:
                self.ring_times.observe(result.ring_time_ms / 1000)

    def stats(self) -> dict[str, Any]:
        """The side work's figures, sent to the relay for its metrics endpoint."""
        counters = self.counters
        recorder = self.storage.recorder.stats()
        policy = self.policy.counters
        # Suppressed at recording (blacklists) and by the policy's decisions.
        by_reason = dict(counters.suppressed_by_reason)
        for reason, count in policy.suppressed.items():
            by_reason[reason] = by_reason.get(reason, 0) + count
        snapshot: dict[str, Any] = {
            "worker": {"events": counters.events, "recorded": counters.recorded,
                       "suppressed": sum(by_reason.values()),
                       "suppressed_by_reason": by_reason,
                       "not_voice_initial": counters.not_voice_initial},
            "recorder": {"queued": recorder.queued, "in_flight": recorder.in_flight,
                         "spool_backlog_bytes": recorder.spool_backlog_bytes,
                         "written": recorder.written, "failures": recorder.failures,
                         "database_up": recorder.database_up},
            "ring_time": self.ring_times.as_dict(),
            "breakers": {"beeps": self.policy.beep_breaker.state,
                         "smsc": self.policy.smsc_breaker.state},
            "policy": {"decided": policy.decided, "claimed": policy.claimed,
                       "deferred": policy.deferred, "lost_races": policy.lost},
            "today": self.today,
        }
        emitter = None if self.beeps is None else self.beeps.emitter
        if self.beeps is not None and emitter is not None:
            beeps = self.beeps.counters
            snapshot["beeps"] = {"claimed": beeps.claimed, "by_outcome": dict(beeps.by_outcome),
                                 "queued": emitter.queued, "active": emitter.active}
        if self.callbacks is not None:
            snapshot["callbacks"] = self.callbacks.snapshot()
        # Hook for the SMS sender (issue 6): "sms": {"by_status": {...}, "queued": n, ...}
        for name, source in self.stats_sources.items():
            try:
                snapshot[name] = source()
            except Exception:
                logger.exception("side work: stats source %s failed", name)
        return snapshot

    def _wire_sms(self, sms: SmsScheduler) -> None:
        """Queued SMS are claimed once their beep outcome is saved; a submitted SMS
        starts callback watches (an SMS-only notice may be called back too)."""
        if self.beeps is not None:
            self.beeps.on_saved.append(lambda results: sms.poke())
        callbacks = self.callbacks
        if callbacks is not None:
            def notified(attempt_id: str, at: datetime) -> None:
                callbacks.notified([Notice(attempt_id, at)])
            sms.on_submitted.append(notified)

        def figures() -> dict[str, Any]:
            counters = sms.refresh_counters()
            return {"by_status": dict(counters.by_status), "queued": counters.queue_depth,
                    "submitted": counters.submitted, "parts": counters.parts,
                    "with_ad": counters.with_ad, "throttled": counters.throttled,
                    "resubmits": counters.resubmits, "binds_up": counters.binds_up,
                    "expired": counters.expired, "receipts": counters.receipts}
        self.stats_sources["sms"] = figures

    def _is_our_beep(self, request: bytes) -> bool:
        """A session our beep created (its ICID carries our prefix) never beeps again."""
        return is_beep_charging_id(ims_charging_identifier(request), self.marker)

    def _persisted(self, records: Sequence[AttemptRecord]) -> None:
        self._durable.update(record.attempt_id for record in records)
        self.advance()
        if self.beeps is not None:
            self.beeps.poke()

    def advance(self) -> None:
        """Acknowledge the longest prefix of events that need nothing more from us."""
        handed, durable = self._handed, self._durable
        last = None
        while handed:
            sequence, attempt_id = handed[0]
            if attempt_id is not None:
                if attempt_id not in durable:
                    break
                durable.discard(attempt_id)
            handed.popleft()
            last = sequence
        if last is not None:
            self.acknowledge(last)


_IMS_CHARGING_IDENTIFIER_PATH = ((873, 10415), (876, 10415), (841, 10415))


def ims_charging_identifier(request: bytes) -> bytes | None:
    """Service-Information/IMS-Information/IMS-Charging-Identifier, if present."""
    start, end = codec.HEADER_LENGTH, len(request)
    try:
        for code, vendor in _IMS_CHARGING_IDENTIFIER_PATH:
            span = codec.find_avp(request, code, vendor, start, end)
            if span is None:
                return None
            start, end = span.data_start, span.data_end
    except codec.AvpLengthError:
        return None
    return request[start:end]


class EventStream(Protocol):
    """stdin: frames in; stdout: cumulative acknowledgements out."""

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
            self._transport.write(encode_json_reply(REPLY_STATS, self.work.stats()))

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


def run(config: InterceptorConfig, reactor: Any) -> int:
    if config.recording is None:
        logger.error("side work started without detection enabled")
        return 2
    work = SideWork(config, config.recording, reactor)
    finished: defer.Deferred[None] = defer.Deferred()
    status = {"code": 0}

    def start() -> None:
        try:
            work.startService()
        except Exception as error:
            logger.error("side work cannot start: %s", error)
            status["code"] = 2
            reactor.stop()
            return
        def serve(_: object) -> None:
            freeze_startup_heap()  # collector pauses would stretch the beeps' ring time
            interval = config.metrics.stats_interval if config.metrics is not None else 2.0
            stdio.StandardIO(EventStream(work, finished, reactor, interval), reactor=reactor)

        work.ready.addCallback(serve)

    @defer.inlineCallbacks
    def finish(_: object) -> Any:
        yield work.stopService()
        logger.info("side work done: %s", work.counters)
        reactor.stop()

    finished.addCallback(finish)
    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=False)  # the relay process decides when we stop
    return status["code"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="interceptor.sidework.worker")
    parser.add_argument("--config-json", required=True, type=Path)
    parser.add_argument("--base-dir", type=Path, default=None)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--nice", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s [side-work] %(name)s: %(message)s",
                        stream=sys.stderr)
    try:
        config = parse_config(json.loads(args.config_json.read_text()),
                              source=str(args.config_json), base_dir=args.base_dir)
    except (OSError, ValueError, ConfigError) as error:
        logger.error("side work: bad configuration: %s", error)
        return 2
    # The relay process decides when we stop (EOF on stdin, after it has drained): a
    # terminal's Ctrl-C or a service manager's SIGTERM to the whole group must not cut
    # the recorder's flush short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Where the side work shares a core with the relay, the relay goes first.
    with contextlib.suppress(OSError):
        os.nice(args.nice)
    from twisted.internet import reactor

    return run(config, reactor)


if __name__ == "__main__":
    sys.exit(main())
