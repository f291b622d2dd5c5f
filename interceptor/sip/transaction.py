"""SIP client transactions (RFC 3261 §17.1, with the Accepted state of RFC 6026) and the
layer that matches responses to them (§17.1.3: top Via branch + CSeq method).

The INVITE client transaction retransmits on Timer A over unreliable flows, gives up on
Timer B, ACKs every non-2xx final itself (again for each retransmission of it) and hands
2xx responses, first and retransmitted, to its user, whose job it is to ACK them.
The non-INVITE client transaction (CANCEL, BYE) retransmits on Timer E and gives up on
Timer F. Each transaction tells its user about one final response at most.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from interceptor.core.reactor import Clock, DelayedCall
from interceptor.sip.config import SipTimers
from interceptor.sip.message import (
    OutgoingRequest,
    SipParseError,
    SipRequest,
    SipResponse,
    ack_for_non2xx,
    parse_message,
)

logger = logging.getLogger(__name__)


class Flow(Protocol):
    """Where a transaction's messages go (one next hop over one transport)."""

    @property
    def reliable(self) -> bool: ...

    @property
    def sent_by(self) -> str:
        """Via without parameters, e.g. ``SIP/2.0/UDP 192.0.2.10:5070``."""

    @property
    def contact_address(self) -> str:
        """host:port (and ;transport=) for our Contact URI."""

    def send(self, data: bytes) -> str | None:
        """Send one message; returns None or why it could not be sent."""

    def close(self) -> Any:
        """Close the socket/connection (may return a Deferred)."""


class TransactionUser(Protocol):
    def tx_provisional(self, tx: ClientTransaction, response: SipResponse) -> None: ...

    def tx_final(self, tx: ClientTransaction, response: SipResponse) -> None:
        """The first final response (for INVITE: the first 2xx or the non-2xx)."""

    def tx_2xx_again(self, tx: ClientTransaction, response: SipResponse) -> None:
        """INVITE only: a further 2xx (retransmission or another fork) in Accepted."""

    def tx_timeout(self, tx: ClientTransaction) -> None: ...

    def tx_transport_error(self, tx: ClientTransaction, reason: str) -> None: ...


class _NoUser:
    """The user of a terminated transaction: hears nothing."""

    def tx_provisional(self, tx: ClientTransaction, response: SipResponse) -> None:
        pass

    def tx_final(self, tx: ClientTransaction, response: SipResponse) -> None:
        pass

    def tx_2xx_again(self, tx: ClientTransaction, response: SipResponse) -> None:
        pass

    def tx_timeout(self, tx: ClientTransaction) -> None:
        pass

    def tx_transport_error(self, tx: ClientTransaction, reason: str) -> None:
        pass


NO_USER = _NoUser()


class State(enum.Enum):
    CALLING = "calling"  # INVITE sent, nothing back ("Trying" for non-INVITE)
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    ACCEPTED = "accepted"
    TERMINATED = "terminated"


class ClientTransaction:
    """What both client transactions share: the request, its flow, timers, the layer."""

    def __init__(self, layer: TransactionLayer, request: OutgoingRequest, flow: Flow,
                 user: TransactionUser) -> None:
        self.layer = layer
        self.request = request
        self.flow = flow
        self.user = user
        self.key = transaction_key(request.branch, request.method)
        self.state = State.CALLING
        self.data = request.encode()
        self.answered = False  # some response has come back
        self._retransmit: DelayedCall | None = None
        self._timeout: DelayedCall | None = None
        self._interval = 0.0

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    @property
    def timers(self) -> SipTimers:
        return self.layer.timers

    def start(self) -> None:
        raise NotImplementedError

    def receive(self, response: SipResponse) -> None:
        raise NotImplementedError

    def _first_send(self, timeout: float) -> bool:
        clock = self.layer.clock
        if not self._send(self.data):
            return False
        if not self.flow.reliable:
            self._interval = self.timers.t1
            self._retransmit = clock.callLater(self._interval, self._on_retransmit)
        self._timeout = clock.callLater(timeout, self._on_timeout)
        return True

    def _send(self, data: bytes) -> bool:
        error = self.flow.send(data)
        if error is None:
            return True
        logger.warning("%s %s: cannot send: %s", self.method, self.request.call_id, error)
        self.fail(error)
        return False

    def _on_retransmit(self) -> None:
        raise NotImplementedError

    def _on_timeout(self) -> None:
        self._timeout = None
        if self.state in (State.CALLING, State.PROCEEDING):
            logger.info("%s %s: timed out", self.method, self.request.call_id)
            user = self.user
            self._terminate()
            user.tx_timeout(self)
        else:  # Timer M (RFC 6026) ends Accepted
            self._terminate()

    def fail(self, reason: str) -> None:
        """A transport error: the transaction ends and its user hears it once."""
        if self.state in (State.CALLING, State.PROCEEDING):
            user = self.user
            self._terminate()
            user.tx_transport_error(self, reason)

    def _stop_retransmitting(self) -> None:
        if self._retransmit is not None:
            if self._retransmit.active():
                self._retransmit.cancel()
            self._retransmit = None

    def _stop_timeout(self) -> None:
        if self._timeout is not None:
            if self._timeout.active():
                self._timeout.cancel()
            self._timeout = None

    def _complete(self, seconds: float, ack: bytes | None) -> None:
        """Completed: the transaction object goes; for ``seconds`` a light entry in the
        layer absorbs retransmitted finals (and re-sends ``ack`` for each)."""
        self._terminate()
        if seconds > 0:
            self.layer.linger(self.key, self.flow, ack, seconds)

    def _terminate(self) -> None:
        if self.state is State.TERMINATED:
            return
        self.state = State.TERMINATED
        self._stop_retransmitting()
        self._stop_timeout()
        self.layer.forget(self)
        # The user usually points back at us: break the cycle so plain reference counting
        # frees both, instead of leaving thousands of them to the cyclic collector.
        self.user = NO_USER

    def close(self) -> None:
        """Drop the transaction silently (the emitter is going away)."""
        self._terminate()


class InviteClientTransaction(ClientTransaction):
    """RFC 3261 §17.1.1 (figure 5) + RFC 6026 §7.2."""

    def __init__(self, layer: TransactionLayer, request: OutgoingRequest, flow: Flow,
                 user: TransactionUser) -> None:
        super().__init__(layer, request, flow, user)
        self.retransmissions = 0

    def start(self) -> None:
        self._first_send(self.timers.timer_b)

    def _on_retransmit(self) -> None:
        self._retransmit = None
        if self.state is not State.CALLING:
            return
        self.retransmissions += 1
        logger.debug("INVITE %s: retransmission %d", self.request.call_id, self.retransmissions)
        if not self._send(self.data):
            return
        self._interval *= 2  # Timer A doubles, without the T2 cap of non-INVITE
        self._retransmit = self.layer.clock.callLater(self._interval, self._on_retransmit)

    def receive(self, response: SipResponse) -> None:
        state = self.state
        if state is State.TERMINATED:
            return
        self.answered = True
        status = response.status
        if status < 200:
            if state is State.CALLING:
                self.state = State.PROCEEDING
                self._stop_retransmitting()
                self._stop_timeout()  # Timer B only guards Calling
            if state in (State.CALLING, State.PROCEEDING):
                self.user.tx_provisional(self, response)
        elif status < 300:
            if state in (State.CALLING, State.PROCEEDING):
                self.state = State.ACCEPTED
                self._stop_retransmitting()
                self._stop_timeout()
                self._timeout = self.layer.clock.callLater(self.timers.timer_b, self._on_timeout)
                self.user.tx_final(self, response)
            elif state is State.ACCEPTED:
                self.user.tx_2xx_again(self, response)
        elif state in (State.CALLING, State.PROCEEDING):
            self.state = State.COMPLETED
            ack = ack_for_non2xx(self.request, response.to).encode()
            error = self.flow.send(ack)
            if error is not None:
                logger.warning("ACK %s: cannot send: %s", self.request.call_id, error)
            user = self.user
            self._complete(0.0 if self.flow.reliable else self.timers.timer_d, ack)
            user.tx_final(self, response)


class NonInviteClientTransaction(ClientTransaction):
    """RFC 3261 §17.1.2 (figure 6), for CANCEL and BYE."""

    def start(self) -> None:
        self._first_send(self.timers.timer_f)

    def _on_retransmit(self) -> None:
        self._retransmit = None
        if self.state not in (State.CALLING, State.PROCEEDING):
            return
        if not self._send(self.data):
            return
        t2 = self.timers.t2
        self._interval = t2 if self.state is State.PROCEEDING else min(self._interval * 2, t2)
        self._retransmit = self.layer.clock.callLater(self._interval, self._on_retransmit)

    def receive(self, response: SipResponse) -> None:
        state = self.state
        if state not in (State.CALLING, State.PROCEEDING):
            return
        self.answered = True
        if response.status < 200:
            self.state = State.PROCEEDING
            self.user.tx_provisional(self, response)
            return
        self.state = State.COMPLETED
        user = self.user
        self._complete(0.0 if self.flow.reliable else self.timers.t4, None)  # Timer K
        user.tx_final(self, response)


RequestHandler = Callable[[SipRequest, Flow], None]


def transaction_key(branch: str, method: str) -> str:
    """RFC 3261 §17.1.3 match key. A string, not a tuple: the many lingering entries then
    hold no objects the garbage collector has to visit."""
    return f"{branch} {method}"


class _Lingering:
    """Completed transactions reduced to what absorbing retransmissions needs: per flow,
    key -> the ACK to re-send (None: just swallow). They expire in FIFO order, one queue per
    (flow, duration) holding (deadline, key) pairs: plain strings and floats, which the
    garbage collector stops visiting, however many thousand are waiting."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.acks: dict[Flow, dict[str, bytes | None]] = {}
        self._queues: dict[tuple[Flow, float], deque[tuple[float, str]]] = {}
        self._sweep: DelayedCall | None = None
        self._sweep_at = 0.0

    def __len__(self) -> int:
        return sum(len(entries) for entries in self.acks.values())

    def add(self, key: str, flow: Flow, ack: bytes | None, seconds: float) -> None:
        self.acks.setdefault(flow, {})[key] = ack
        deadline = self.clock.seconds() + seconds
        queue = self._queues.get((flow, seconds))
        if queue is None:
            queue = self._queues[(flow, seconds)] = deque()
        queue.append((deadline, key))
        if self._sweep is None or deadline < self._sweep_at:
            self._schedule()

    def get(self, flow: Flow, key: str) -> tuple[bool, bytes | None]:
        entries = self.acks.get(flow)
        if entries is None or key not in entries:
            return False, None
        return True, entries[key]

    def _schedule(self) -> None:
        heads = [queue[0][0] for queue in self._queues.values() if queue]
        if self._sweep is not None and self._sweep.active():
            self._sweep.cancel()
        self._sweep = None
        if heads:
            self._sweep_at = min(heads)
            self._sweep = self.clock.callLater(max(0.0, self._sweep_at - self.clock.seconds()),
                                               self._expire)

    def _expire(self) -> None:
        self._sweep = None
        now = self.clock.seconds()
        for (flow, _), queue in self._queues.items():
            entries = self.acks.get(flow, {})
            while queue and queue[0][0] <= now:
                entries.pop(queue.popleft()[1], None)
        self._schedule()

    def clear(self) -> None:
        if self._sweep is not None and self._sweep.active():
            self._sweep.cancel()
        self._sweep = None
        self.acks.clear()
        self._queues.clear()


class TransactionLayer:
    """Owns the live client transactions; every received message enters here."""

    def __init__(self, clock: Clock, timers: SipTimers, request_handler: RequestHandler,
                 max_message_size: int = 65535) -> None:
        self.clock = clock
        self.timers = timers
        self.request_handler = request_handler
        self.max_message_size = max_message_size
        self.transactions: dict[str, ClientTransaction] = {}
        self.lingering = _Lingering(clock)
        self.stray_responses = 0
        self.bad_messages = 0
        self.reacked = 0

    def invite(self, request: OutgoingRequest, flow: Flow,
               user: TransactionUser) -> InviteClientTransaction:
        """A registered INVITE transaction; ``start()`` it (its user may hear from it
        during ``start()``, e.g. a send error)."""
        tx = InviteClientTransaction(self, request, flow, user)
        self._add(tx)
        return tx

    def non_invite(self, request: OutgoingRequest, flow: Flow,
                   user: TransactionUser) -> NonInviteClientTransaction:
        tx = NonInviteClientTransaction(self, request, flow, user)
        self._add(tx)
        return tx

    def _add(self, tx: ClientTransaction) -> None:
        if tx.key in self.transactions:
            raise ValueError(f"transaction {tx.key} exists already")
        self.transactions[tx.key] = tx

    def forget(self, tx: ClientTransaction) -> None:
        if self.transactions.get(tx.key) is tx:
            del self.transactions[tx.key]

    def linger(self, key: str, flow: Flow, ack: bytes | None, seconds: float) -> None:
        self.lingering.add(key, flow, ack, seconds)

    def message_received(self, data: bytes, flow: Flow) -> None:
        """One whole message from a flow: match it, or log and drop it. Never raises."""
        if not data.strip():
            return  # keep-alive CRLFs (RFC 5626)
        try:
            message = parse_message(data, self.max_message_size)
        except SipParseError as error:
            self.bad_messages += 1
            logger.warning("dropped an unparsable SIP message (%d bytes): %s", len(data), error)
            return
        if isinstance(message, SipRequest):
            self.request_handler(message, flow)
            return
        key = transaction_key(message.branch, message.cseq_method)
        tx = self.transactions.get(key)
        if tx is None:
            self._absorb(message, key, flow)
            return
        if message.call_id != tx.request.call_id or message.cseq_number != tx.request.cseq:
            self.bad_messages += 1
            logger.warning("response %d on branch %s has Call-ID %s CSeq %d, expected %s %d; "
                           "dropped", message.status, message.branch, message.call_id,
                           message.cseq_number, tx.request.call_id, tx.request.cseq)
            return
        tx.receive(message)

    def _absorb(self, response: SipResponse, key: str, flow: Flow) -> None:
        """A response for a completed transaction: re-ACK a retransmitted non-2xx final
        of an INVITE; anything else for it is swallowed."""
        known, ack = self.lingering.get(flow, key)
        if not known:
            self.stray_responses += 1
            logger.debug("no transaction for %d (branch %s, %s); dropped", response.status,
                         response.branch, response.cseq_method)
            return
        if ack is not None and response.status >= 300:
            self.reacked += 1
            logger.debug("final %d again on %s: ACK again", response.status, response.branch)
            error = flow.send(ack)
            if error is not None:
                logger.warning("ACK on %s: cannot send: %s", response.branch, error)

    def flow_failed(self, flow: Flow, reason: str) -> None:
        """The flow reported an error (ICMP unreachable, connection lost): fail the
        transactions on it that never heard back. Runs on the next reactor turn so
        a transport error raised inside a send cannot re-enter a transaction."""
        self.clock.callLater(0, self._fail_unanswered, flow, reason)

    def _fail_unanswered(self, flow: Flow, reason: str) -> None:
        victims = [tx for tx in self.transactions.values()
                   if tx.flow is flow and (not tx.answered or flow.reliable)]
        if victims:
            logger.warning("%s: failing %d transactions", reason, len(victims))
        for tx in victims:
            tx.fail(reason)

    def close(self) -> None:
        for tx in list(self.transactions.values()):
            tx.close()
        self.lingering.clear()
