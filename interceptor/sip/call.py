"""One beep: the user of an INVITE client transaction (and of its CANCEL and, if B
answers, of the ACK and BYE) that turns responses and timers into one :class:`CallResult`.

INVITE sent -> first 180/183 -> ring timer -> CANCEL -> 487 (or 200 racing it: ACK + BYE).
Nothing rings within ``ring_wait``: CANCEL as soon as a provisional response allows it.
A CANCEL is only ever sent after a provisional response (RFC 3261 §9.1).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from interceptor.core.reactor import Clock, DelayedCall
from interceptor.core.vocabulary import OutcomeKind
from interceptor.sip.builder import RequestBuilder
from interceptor.sip.config import SipTimers
from interceptor.sip.message import OutgoingRequest, SipResponse
from interceptor.sip.outcome import CallTimes, kind_for_final
from interceptor.sip.transaction import (
    ClientTransaction,
    Flow,
    InviteClientTransaction,
    State,
    TransactionLayer,
)

logger = logging.getLogger(__name__)

CANCEL_RING = "ring"  # the ring timer ran out: the beep happened
CANCEL_NO_RING = "no_ring"  # nothing rang within ring_wait
CANCEL_STOP = "stop"  # the emitter is stopping


@dataclass(frozen=True)
class CallResult:
    kind: OutcomeKind
    reason: str
    final_code: int | None
    call_id: str
    times: CallTimes
    ring_time: float | None


ResultHandler = Callable[["BeepCall", CallResult], None]
DoneHandler = Callable[["BeepCall"], None]


class BeepCall:
    """Drives one INVITE to its :class:`CallResult`; ``on_done`` once nothing is left
    in flight for it (a BYE after an answer included)."""

    def __init__(self, invite: OutgoingRequest, flow: Flow, layer: TransactionLayer,
                 builder: RequestBuilder, clock: Clock, timers: SipTimers,
                 ring_codes: tuple[int, ...], on_result: ResultHandler,
                 on_done: DoneHandler) -> None:
        self.invite = invite
        self.flow = flow
        self.layer = layer
        self.builder = builder
        self.clock = clock
        self.timers = timers
        self.ring_codes = ring_codes
        self.on_result = on_result
        self.on_done = on_done
        self.invite_tx: InviteClientTransaction | None = None
        self.cancel_tx: ClientTransaction | None = None
        self.cancel_reason: str | None = None
        self.result: CallResult | None = None
        self.done = False
        self._acks: dict[str, bytes] = {}  # remote tag of each 2xx -> its ACK
        self._byes: set[ClientTransaction] = set()
        self._ring_timer: DelayedCall | None = None
        self._ring_wait_timer: DelayedCall | None = None
        self._cancel_guard: DelayedCall | None = None
        self._invite_sent: float | None = None
        self._first_provisional: float | None = None
        self._ringing: float | None = None
        self._cancel_sent: float | None = None
        self._final: float | None = None

    @property
    def call_id(self) -> str:
        return self.invite.call_id

    # --- driving -------------------------------------------------------------------------
    def start(self) -> None:
        self._invite_sent = self.clock.seconds()
        self._ring_wait_timer = self.clock.callLater(self.timers.ring_wait, self._on_ring_wait)
        tx = self.layer.invite(self.invite, self.flow, self)
        self.invite_tx = tx
        tx.start()

    def stop(self) -> None:
        """Cancel the call now (or as soon as a provisional response allows)."""
        self._cancel(CANCEL_STOP)

    def abandon(self, reason: str) -> None:
        """Give up without waiting any longer: result STOPPED unless there is one."""
        self._finish(OutcomeKind.STOPPED, reason, None)
        for tx in (self.invite_tx, self.cancel_tx, *self._byes):
            if tx is not None:
                tx.close()
        self._byes.clear()
        self._maybe_done()

    def _on_ring_wait(self) -> None:
        self._ring_wait_timer = None
        if self._ringing is None and self.result is None:
            logger.info("INVITE %s: no ringing within %.1fs, cancelling", self.call_id,
                        self.timers.ring_wait)
            self._cancel(CANCEL_NO_RING)

    def _on_ring_timer(self) -> None:
        self._ring_timer = None
        self._cancel(CANCEL_RING)

    def _cancel(self, reason: str) -> None:
        if self.cancel_reason is not None or self.result is not None:
            return
        self.cancel_reason = reason
        self._stop_timer("_ring_timer")
        self._stop_timer("_ring_wait_timer")
        tx = self.invite_tx
        if tx is not None and tx.state is State.PROCEEDING:
            self._send_cancel()
        # else: Calling -> sent on the first provisional response (RFC 3261 §9.1)

    def _send_cancel(self) -> None:
        self._cancel_sent = self.clock.seconds()
        tx = self.layer.non_invite(self.builder.cancel(self.invite), self.flow, self)
        self.cancel_tx = tx
        # RFC 3261 §9.1: no final within 64*T1 of the CANCEL: consider the INVITE cancelled.
        self._cancel_guard = self.clock.callLater(self.timers.timer_b, self._on_cancel_guard)
        tx.start()

    def _on_cancel_guard(self) -> None:
        self._cancel_guard = None
        if self.result is None:
            self._finish(self._cancelled_kind(None), "no final response after CANCEL", None)
            if self.invite_tx is not None:
                self.invite_tx.close()
            self._maybe_done()

    # --- transaction user ----------------------------------------------------------------
    def tx_provisional(self, tx: ClientTransaction, response: SipResponse) -> None:
        if tx is not self.invite_tx:
            return
        now = self.clock.seconds()
        if self._first_provisional is None:
            self._first_provisional = now
        if self.cancel_reason is not None:
            if self._cancel_sent is None:
                self._send_cancel()
            return
        if self._ringing is None and response.status in self.ring_codes:
            self._ringing = now
            self._stop_timer("_ring_wait_timer")
            self._ring_timer = self.clock.callLater(self.timers.ring_time, self._on_ring_timer)

    def tx_final(self, tx: ClientTransaction, response: SipResponse) -> None:
        if tx is self.invite_tx:
            self._invite_final(response)
        elif tx is self.cancel_tx:
            logger.debug("CANCEL %s: %s", self.call_id, response.status_line)
        elif tx in self._byes:
            logger.debug("BYE %s: %s", self.call_id, response.status_line)
            self._byes.discard(tx)
            self._maybe_done()

    def tx_2xx_again(self, tx: ClientTransaction, response: SipResponse) -> None:
        if tx is self.invite_tx:
            self._answered(response)

    def tx_timeout(self, tx: ClientTransaction) -> None:
        if tx is self.invite_tx:
            self._final = self.clock.seconds()
            kind = OutcomeKind.STOPPED if self.cancel_reason == CANCEL_STOP \
                else OutcomeKind.NO_RESPONSE
            self._finish(kind, "no response (Timer B)", None)
            self._maybe_done()
        elif tx is self.cancel_tx:
            logger.info("CANCEL %s: no response (Timer F)", self.call_id)
        elif tx in self._byes:
            logger.info("BYE %s: no response (Timer F)", self.call_id)
            self._byes.discard(tx)
            self._maybe_done()

    def tx_transport_error(self, tx: ClientTransaction, reason: str) -> None:
        if tx is self.invite_tx:
            self._final = self.clock.seconds()
            self._finish(OutcomeKind.NETWORK_ERROR, reason, None)
            self._maybe_done()
        elif tx in self._byes:
            self._byes.discard(tx)
            self._maybe_done()
        else:
            logger.info("CANCEL %s: %s", self.call_id, reason)

    # --- results -------------------------------------------------------------------------
    def _invite_final(self, response: SipResponse) -> None:
        self._final = self.clock.seconds()
        status = response.status
        if status < 300:
            self._answered(response)
            self._finish(OutcomeKind.ANSWERED, response.status_line, status)
        elif self._cancel_sent is not None:
            self._finish(self._cancelled_kind(status), response.status_line, status)
        else:
            self._finish(kind_for_final(status), response.status_line, status)
        self._maybe_done()

    def _cancelled_kind(self, status: int | None) -> OutcomeKind:
        """Outcome of an INVITE we cancelled and which ended with ``status`` (None: never)."""
        if self.cancel_reason == CANCEL_RING:
            return OutcomeKind.RANG  # B rang; a 486/603 racing the CANCEL changes nothing
        if status is not None and status != 487:
            return kind_for_final(status)
        return OutcomeKind.NO_RING if self.cancel_reason == CANCEL_NO_RING \
            else OutcomeKind.STOPPED

    def _answered(self, response: SipResponse) -> None:
        """ACK each 2xx (again for retransmissions) and hang up each dialog once."""
        tag = response.to_tag or ""
        ack = self._acks.get(tag)
        if ack is not None:
            self._send(ack, "ACK")
            return
        logger.info("INVITE %s: answered (%s), hanging up", self.call_id, response.status_line)
        ack = self.builder.in_dialog(self.invite, response, "ACK", self.invite.cseq).encode()
        self._acks[tag] = ack
        self._send(ack, "ACK")
        bye = self.builder.in_dialog(self.invite, response, "BYE", self.invite.cseq + 1)
        tx = self.layer.non_invite(bye, self.flow, self)
        self._byes.add(tx)
        tx.start()

    def _send(self, data: bytes, what: str) -> None:
        error = self.flow.send(data)
        if error is not None:
            logger.warning("%s %s: cannot send: %s", what, self.call_id, error)

    def _finish(self, kind: OutcomeKind, reason: str, status: int | None) -> None:
        if self.result is not None:
            return
        for name in ("_ring_timer", "_ring_wait_timer", "_cancel_guard"):
            self._stop_timer(name)
        ring_time = None
        if self._ringing is not None and self._cancel_sent is not None:
            ring_time = self._cancel_sent - self._ringing
        times = CallTimes(
            invite_sent=self._invite_sent,
            first_provisional=self._first_provisional,
            ringing=self._ringing,
            cancel_sent=self._cancel_sent,
            final=self._final,
        )
        self.result = CallResult(kind, reason, status, self.call_id, times, ring_time)
        logger.debug("INVITE %s: %s (%s)", self.call_id, kind.value, reason)
        self.on_result(self, self.result)

    def _maybe_done(self) -> None:
        if self.done or self.result is None or self._byes:
            return
        self.done = True
        # Drop what points back at us (transactions, timers) so reference counting frees it.
        self.invite_tx = None
        self.cancel_tx = None
        self.on_done(self)

    def _stop_timer(self, name: str) -> None:
        timer: DelayedCall | None = getattr(self, name)
        if timer is not None:
            if timer.active():
                timer.cancel()
            setattr(self, name, None)
