"""From approved attempts to SMS: claim ``sms_status='queued'`` rows whenever a bind is
up, compose the text (template, ad if it fits), submit its parts through the SMPP pool,
write the result back; delivery receipts update the rows.

Nothing is lost: an attempt stays ``queued`` in SQL while no bind is up (or the process
is down) and goes when one comes up, unless it passes ``max_age`` (``expired``). A claim
the pool could not get through (stopping, binds lost beyond the resubmit budget) is
released back to ``queued``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from twisted.application import service
from twisted.internet import defer, task
from twisted.python.failure import Failure

from interceptor.core.batching import BatchSaver, ScanTrigger
from interceptor.core.reactor import Clock, DelayedCall, Reactor
from interceptor.core.runner import Runner
from interceptor.core.vocabulary import SmsStatus
from interceptor.smpp.messages import (
    NPI_ISDN,
    NPI_UNKNOWN,
    TON_ALPHANUMERIC,
    TON_INTERNATIONAL,
    TON_NETWORK_SPECIFIC,
    Address,
    DeliveryReceipt,
    ShortMessage,
)
from interceptor.smpp.pool import Breaker, SmppPool, SubmitFailedError
from interceptor.sms import gsm7
from interceptor.sms.ads import AdSelector, Campaign
from interceptor.sms.config import SenderConfig, SenderType, SmsConfig
from interceptor.sms.store import (
    ClaimedSms,
    SmsResult,
    apply_receipts,
    claim_queued,
    expire_queued,
    load_campaigns,
    queue_depth,
    save_sms_results,
    trim_queue,
)
from interceptor.sms.templates import MessageComposer

logger = logging.getLogger(__name__)

_RECEIPT_RETRIES = 50  # a receipt may overtake its submit result's save


@dataclass
class SmsCounters:
    claimed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)  # results written
    parts: int = 0
    with_ad: int = 0
    expired: int = 0
    receipts: int = 0
    receipts_unmatched: int = 0
    to_caller: int = 0
    save_failures: int = 0
    queue_depth: int = 0  # queued in SQL at the last scan
    binds_up: int = 0
    # from the SMPP pool (copied at each scan and on demand: refresh())
    submitted: int = 0  # submit_sm answered OK
    throttled: int = 0
    resubmits: int = 0
    timeouts: int = 0
    bind_refusals: int = 0


class SmsScheduler(service.Service):
    name = "sms-scheduler"
    STOP_SAVE_TIMEOUT = 10.0  # seconds a stop keeps retrying to save results

    def __init__(self, config: SmsConfig, engine: Any, runner: Runner, reactor: Reactor, *,
                 pool: SmppPool | None = None, breaker: Breaker | None = None,
                 seed: int | None = None) -> None:
        self.config = config
        self.engine = engine
        self.runner = runner
        self.clock: Clock = reactor
        self.breaker = breaker  # SMSC circuit breaker (interceptor.policy.breaker), if any
        self.pool = pool or SmppPool(config.pool, reactor, self.receipt, breaker=breaker,
                                     seed=seed)
        self.pool.on_receipt = self.receipt
        self.pool.on_ready = self.poke
        self.composer = MessageComposer(config)
        self.ads = AdSelector(random.Random(seed))
        self.counters = SmsCounters()
        # Called with (attempt id, submitted at) for each SMS the SMSC accepted.
        self.on_submitted: list[Callable[[str, datetime], None]] = []
        self._reference = random.Random(seed).randrange(256)
        self._poll = task.LoopingCall(self.poke)
        self._poll.clock = reactor
        self._ads_poll = task.LoopingCall(self._reload_ads)
        self._ads_poll.clock = reactor
        self.trigger = ScanTrigger(reactor, self._scan)
        self._in_flight: set[defer.Deferred[Any]] = set()
        # A load of the campaigns must see all of a save or none of it (daily caps).
        self.results: BatchSaver[SmsResult] = BatchSaver(
            runner, reactor, lambda batch: save_sms_results(self.engine, batch, self._day()),
            "SMS results", delay=0.02, saved=self._saved, ready=lambda: not self._loading,
            identify=lambda result: result.attempt_id)
        self._receipts: list[tuple[DeliveryReceipt, int]] = []
        self._receipt_call: DelayedCall | None = None
        self._applying = False
        self._loading = False

    # --- service ----------------------------------------------------------------------
    def startService(self) -> None:
        super().startService()
        self.trigger.start()
        self.pool.startService()
        if self.config.ads.enabled:
            self._ads_poll.start(self.config.ads.refresh, now=True)
        self._poll.start(self.config.pickup_interval, now=True)

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        """Claim nothing more; unsent claims go back to queued; save everything."""
        super().stopService()
        for loop in (self._poll, self._ads_poll):
            if loop.running:
                loop.stop()
        self.trigger.stop()
        yield self.pool.stopService()
        yield defer.DeferredList(list(self._in_flight))
        yield self.results.drain(self.STOP_SAVE_TIMEOUT)
        if self._receipts and not self._applying:
            yield self._apply_receipts()

    def refresh_counters(self) -> SmsCounters:
        """The counters with the pool's figures brought up to date (for metrics)."""
        pool, counters = self.pool, self.counters
        counters.binds_up = pool.binds_up
        counters.submitted = pool.counters.submitted
        counters.throttled = pool.counters.throttled
        counters.resubmits = pool.counters.resubmits
        counters.timeouts = pool.counters.timeouts
        counters.bind_refusals = pool.counters.bind_refusals
        counters.save_failures = self.results.failures
        return counters

    def set_rate(self, per_second: float) -> None:
        """The SMS TPS cap (runtime knob)."""
        self.pool.set_rate(per_second)

    # --- scanning -----------------------------------------------------------------------
    def poke(self) -> None:
        self.trigger.poke()

    def _scan(self) -> defer.Deferred[None] | None:
        if not self.running:
            return None
        self.refresh_counters()
        room = 0
        if self.pool.ready:
            room = min(self.config.batch - len(self._in_flight), max(self.pool.room(), 0))
        now = self.clock.seconds()
        cutoff = datetime.fromtimestamp(now - self.config.max_age, UTC)
        job = self.runner.run(_claim, self.engine, cutoff, room,
                              self.config.max_queued)
        return job.addCallbacks(self._claimed, self._scan_failed)

    def _scan_failed(self, failure: Failure) -> None:
        logger.warning("cannot claim SMS to send: %s", failure.getErrorMessage())

    def _claimed(self, found: tuple[list[ClaimedSms], int, int]) -> None:
        claimed, expired, depth = found
        self.counters.expired += expired
        self.counters.queue_depth = depth
        self.counters.claimed += len(claimed)
        for attempt in claimed:
            sending = self._send(attempt)
            self._in_flight.add(sending)
            sending.addBoth(self._untrack, sending)
        if claimed and self.pool.room() > 0:
            self.poke()

    def _untrack(self, result: Any, sending: defer.Deferred[Any]) -> Any:
        self._in_flight.discard(sending)
        if self.running:
            self.poke()
        return result

    # --- one SMS ---------------------------------------------------------------------------
    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.seconds(), UTC)

    def _day(self) -> date:
        return self._now().astimezone(self.composer.zone).date()

    def _next_reference(self) -> int:
        self._reference = (self._reference + 1) % 0x10000
        return self._reference

    def _source(self, sender: SenderConfig, caller: str) -> Address:
        if sender.kind == SenderType.SHORT_CODE:
            return Address(sender.value or "", TON_NETWORK_SPECIFIC, NPI_UNKNOWN)
        if sender.kind == SenderType.ALPHANUMERIC:
            return Address(sender.value or "", TON_ALPHANUMERIC, NPI_UNKNOWN)
        return Address(caller, TON_INTERNATIONAL, NPI_ISDN)

    def _submit_text(self, text: str, source: Address, destination: Address
                     ) -> defer.Deferred[list[str]]:
        encoded = gsm7.encode(text)
        parts = gsm7.concatenate(encoded.chunks(), self._next_reference(),
                                 self.config.concatenation)
        self.counters.parts += len(parts)
        return defer.gatherResults(
            [self.pool.submit(ShortMessage(
                source=source, destination=destination, data_coding=encoded.data_coding,
                payload=part.payload, udhi=part.udhi, sar=part.sar,
                registered_delivery=self.config.delivery_receipts)) for part in parts],
            consumeErrors=True)

    def _send(self, attempt: ClaimedSms) -> defer.Deferred[None]:
        config = self.config
        klass = attempt.callee_class
        templates = config.templates[config.language.get(klass, next(iter(config.templates)))]
        campaign = self.ads.choose(klass, self._now()) if config.ads.enabled else None
        rendered = self.composer.render(templates.to_callee, attempt.caller_e164,
                                        attempt.callee_e164, attempt.occurred_at,
                                        campaign.text if campaign else None)
        if rendered.parts > config.max_parts:
            self._result(SmsResult(attempt.attempt_id, SmsStatus.FAILED, parts=rendered.parts,
                                   error=f"text needs {rendered.parts} parts, more than "
                                         f"max_parts {config.max_parts}"))
            return defer.succeed(None)
        campaign_id = campaign.id if campaign is not None and rendered.with_ad else None
        if campaign_id is not None:
            self.ads.used(campaign_id)
        sender = config.senders.get(klass, SenderConfig())
        sent = self._submit_text(rendered.text, self._source(sender, attempt.caller_e164),
                                 Address(attempt.callee_e164, TON_INTERNATIONAL, NPI_ISDN))

        def done(message_ids: list[str]) -> None:
            if campaign_id is not None:
                self.counters.with_ad += 1
            sent_at = self._now()
            self._result(SmsResult(attempt.attempt_id, SmsStatus.SUBMITTED, tuple(message_ids),
                                   rendered.parts, campaign_id, sent_at=sent_at))
            for listener in self.on_submitted:
                listener(attempt.attempt_id, sent_at)
            if config.to_caller and templates.to_caller and config.caller_sender:
                self._tell_caller(attempt, templates.to_caller, config.caller_sender)

        def failed(failure: Failure) -> None:
            if campaign_id is not None:
                self.ads.unused(campaign_id)
            error = failure.value
            if isinstance(error, defer.FirstError):
                error = error.subFailure.value
            if isinstance(error, SubmitFailedError) and error.transient:
                logger.info("SMS for %s not sent (%s): back to the queue",
                            attempt.attempt_id, error)
                self._result(SmsResult(attempt.attempt_id, SmsStatus.QUEUED))
            else:
                logger.warning("SMS for %s refused: %s", attempt.attempt_id, error)
                self._result(SmsResult(attempt.attempt_id, SmsStatus.FAILED, parts=rendered.parts,
                                       error=str(error)[:500]))

        return sent.addCallbacks(done, failed)

    def _tell_caller(self, attempt: ClaimedSms, template: str, sender: SenderConfig) -> None:
        text = self.composer.render(template, attempt.caller_e164, attempt.callee_e164,
                                    attempt.occurred_at, None).text
        sent = self._submit_text(text, self._source(sender, attempt.caller_e164),
                                 Address(attempt.caller_e164, TON_INTERNATIONAL, NPI_ISDN))

        def counted(_: object) -> None:
            self.counters.to_caller += 1

        sent.addCallbacks(counted, lambda failure: logger.warning(
            "SMS to the caller of %s not sent: %s", attempt.attempt_id,
            failure.getErrorMessage()))

    # --- results and receipts -----------------------------------------------------------
    def _result(self, result: SmsResult) -> None:
        by_status = self.counters.by_status
        by_status[result.status] = by_status.get(result.status, 0) + 1
        self.results.add(result)

    def _saved(self, batch: list[SmsResult]) -> None:
        for result in batch:
            if result.status == SmsStatus.SUBMITTED and result.campaign_id is not None:
                self.ads.saved(result.campaign_id)
        if self._receipts:
            self._schedule_receipts(0.0)

    def receipt(self, receipt: DeliveryReceipt) -> None:
        self.counters.receipts += 1
        self._receipts.append((receipt, 0))
        self._schedule_receipts(0.05)

    def _schedule_receipts(self, delay: float) -> None:
        if self._receipt_call is None or not self._receipt_call.active():
            self._receipt_call = self.clock.callLater(delay, self._apply_receipts)

    def _apply_receipts(self) -> defer.Deferred[None]:
        self._receipt_call = None
        if self._applying or not self._receipts:
            return defer.succeed(None)
        self._applying = True
        batch, self._receipts = self._receipts, []
        tries = {receipt.message_id: count for receipt, count in batch}
        job = self.runner.run(apply_receipts, self.engine, [r for r, _ in batch], self._day())

        def applied(unmatched: list[DeliveryReceipt]) -> None:
            self._applying = False
            for receipt in unmatched:
                count = tries.get(receipt.message_id, 0) + 1
                if count < _RECEIPT_RETRIES:
                    self._receipts.append((receipt, count))
                else:
                    self.counters.receipts_unmatched += 1
                    logger.info("delivery receipt for unknown message %s", receipt.message_id)
            if self._receipts:
                self._schedule_receipts(0.2)

        def failed(failure: Failure) -> None:
            self._applying = False
            self._receipts[:0] = batch
            logger.warning("cannot save delivery receipts (%s); retrying",
                           failure.getErrorMessage())
            self._schedule_receipts(1.0)

        return job.addCallbacks(applied, failed)

    # --- ads -----------------------------------------------------------------------------
    def _reload_ads(self) -> None:
        if self.results.saving or self._loading:
            return  # next period
        self._loading = True
        job = self.runner.run(load_campaigns, self.engine, self._now(), self._day())

        def loaded(campaigns: list[Campaign]) -> None:
            self._loading = False
            self.ads.load(campaigns)

        def failed(failure: Failure) -> None:
            self._loading = False
            logger.warning("cannot load ad campaigns: %s", failure.getErrorMessage())

        job.addCallbacks(loaded, failed)


def _claim(engine: Any, cutoff: datetime, limit: int,
           max_queued: int) -> tuple[list[ClaimedSms], int, int]:
    expired = expire_queued(engine, cutoff) + trim_queue(engine, max_queued)
    if expired:
        logger.warning("%d SMS expired before a bind could take them", expired)
    claimed = claim_queued(engine, cutoff, limit) if limit > 0 else []
    return claimed, expired, queue_depth(engine)
