"""What the emitter is asked to do (:class:`BeepRequest`) and what came of it
(:class:`BeepOutcome`). Times are the reactor's clock (``reactor.seconds()``: epoch seconds
on the real reactor)."""

from __future__ import annotations

from dataclasses import dataclass

from interceptor.core.vocabulary import OutcomeKind


@dataclass(frozen=True)
class BeepRequest:
    """One beep to send: ``callee_class`` picks the route (on_net, off_net, international)."""

    attempt_id: str
    caller_e164: str
    callee_e164: str
    callee_class: str
    created_at: float


@dataclass(frozen=True)
class CallTimes:
    """When things happened during one INVITE (None: did not happen)."""

    invite_sent: float | None = None
    first_provisional: float | None = None
    ringing: float | None = None  # first 180/183
    cancel_sent: float | None = None
    final: float | None = None  # first final response (or the timeout/error)


@dataclass(frozen=True)
class BeepOutcome:
    attempt_id: str
    kind: OutcomeKind
    reason: str  # human-readable detail: "487 Request Terminated", "queue full (20000)"
    final_code: int | None  # SIP status of the INVITE's final response, if one came
    caller: str  # the presented identity, +E164
    callee: str  # +E164
    callee_class: str
    call_id: str | None  # the INVITE's Call-ID (None when no INVITE was sent)
    attempts: int  # INVITEs sent for this request, retries included
    times: CallTimes
    ring_time: float | None  # CANCEL sent - first 180/183, seconds


def kind_for_final(status: int) -> OutcomeKind:
    """Outcome of a final response that ended an INVITE we had not cancelled."""
    if 200 <= status < 300:
        return OutcomeKind.ANSWERED
    if status in (486, 600):
        return OutcomeKind.BUSY
    if status == 480:
        return OutcomeKind.UNAVAILABLE
    if status in (404, 604):
        return OutcomeKind.NOT_FOUND
    if status == 603:
        return OutcomeKind.DECLINED
    if 500 <= status < 600:
        return OutcomeKind.NETWORK_ERROR
    return OutcomeKind.REJECTED


def not_started(request: BeepRequest, kind: OutcomeKind, reason: str,
                caller: str | None = None, attempts: int = 0) -> BeepOutcome:
    """The outcome of a request that sent no INVITE (refused, expired)."""
    return BeepOutcome(
        attempt_id=request.attempt_id,
        kind=kind,
        reason=reason,
        final_code=None,
        caller=caller or request.caller_e164,
        callee=request.callee_e164,
        callee_class=request.callee_class,
        call_id=None,
        attempts=attempts,
        times=CallTimes(),
        ring_time=None,
    )
