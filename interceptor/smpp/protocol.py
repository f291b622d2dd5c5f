"""One SMPP session as an ESME: bind, enquire_link keep-alive, a window of outstanding
submit_sm with response timeouts, delivery receipts, unbind.

The protocol frames the stream (4-byte command_length), decodes with smpp.pdu3 and
reports to a :class:`SessionListener`. It never retries: what to do with a throttled,
timed-out or lost submit_sm is the pool's decision.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from typing import Protocol as TypingProtocol

from twisted.internet import defer, task
from twisted.internet.interfaces import ITCPTransport
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from interceptor.core.reactor import Clock, DelayedCall
from interceptor.smpp import codec
from interceptor.smpp.config import BindConfig
from interceptor.smpp.messages import DeliveryReceipt, ShortMessage, parse_receipt

logger = logging.getLogger(__name__)

_MAX_SEQUENCE = 0x7FFFFFFF


class SmppStatusError(Exception):
    """The SMSC answered a request with a non-zero command_status (or generic_nack)."""

    def __init__(self, command: str, code: int) -> None:
        super().__init__(f"{command}: {codec.status_name(code)}")
        self.command = command
        self.code = code

    @property
    def transient(self) -> bool:
        """Throttled or queue full: slow down and send it again."""
        return self.code in codec.TRANSIENT_STATUSES


class BindRefusedError(SmppStatusError):
    pass


class ResponseTimeoutError(Exception):
    """No response within ``response_timeout``: the SMSC may or may not have the message."""


class BindLostError(Exception):
    """The session ended with the request outstanding."""


class SessionListener(TypingProtocol):
    def bound(self, session: EsmeProtocol) -> None: ...

    def bind_refused(self, session: EsmeProtocol, error: SmppStatusError) -> None: ...

    def closed(self, session: EsmeProtocol, reason: str) -> None: ...

    def window_open(self, session: EsmeProtocol) -> None: ...

    def receipt(self, receipt: DeliveryReceipt) -> None: ...


@dataclass(eq=False)
class _Pending:
    command: str
    deferred: defer.Deferred[Any]
    timer: DelayedCall


class EsmeProtocol(Protocol):
    """States: connecting -> binding -> bound -> unbinding -> closed."""

    def __init__(self, config: BindConfig, clock: Clock, listener: SessionListener) -> None:
        self.config = config
        self.clock = clock
        self.listener = listener
        self.state = "connecting"
        self.was_bound = False
        self.outstanding: dict[int, _Pending] = {}
        self.submits_outstanding = 0
        self._sequence = 0
        self._framer = codec.PduFramer()
        self._keepalive = task.LoopingCall(self._enquire)
        self._keepalive.clock = clock
        self._enquiring = False
        self._closed: defer.Deferred[None] = defer.Deferred()

    @property
    def _transport(self) -> Any:
        return self.transport

    @property
    def window_room(self) -> int:
        if self.state != "bound":
            return 0
        return max(0, self.config.window - self.submits_outstanding)

    # --- connection -------------------------------------------------------------------
    def connectionMade(self) -> None:
        if ITCPTransport.providedBy(self._transport):
            self._transport.setTcpNoDelay(True)
        self.state = "binding"
        try:
            pdu = codec.bind(self.config, self._next())
        except ValueError as error:  # the config checks lengths; never raise from here
            logger.error("SMPP bind %s: cannot encode bind: %s", self.config.name, error)
            self._transport.loseConnection()
            return
        request = self._request(pdu, "bind_" + self.config.mode)
        request.addCallbacks(self._bound, self._bind_failed)

    def _bound(self, _: Any) -> None:
        if self.state != "binding":
            return
        self.state = "bound"
        self.was_bound = True
        logger.info("SMPP bind %s up (%s as %s to %s:%d)", self.config.name, self.config.mode,
                    self.config.system_id, self.config.host, self.config.port)
        self._keepalive.start(self.config.enquire_link_interval, now=False)
        self.listener.bound(self)

    def _bind_failed(self, failure: Failure) -> None:
        if self.state != "binding":
            return
        error = failure.value
        if isinstance(error, SmppStatusError):
            logger.error("SMPP bind %s refused by %s:%d for system_id %r: %s "
                         "(check system_id/password); retrying later", self.config.name,
                         self.config.host, self.config.port, self.config.system_id,
                         codec.status_name(error.code))
            self.listener.bind_refused(self, BindRefusedError(error.command, error.code))
        else:
            logger.warning("SMPP bind %s: no bind response (%s)", self.config.name,
                           failure.getErrorMessage())
        self._transport.loseConnection()

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        previous, self.state = self.state, "closed"
        if self._keepalive.running:
            self._keepalive.stop()
        pending, self.outstanding = self.outstanding, {}
        self.submits_outstanding = 0
        for entry in pending.values():
            if entry.timer.active():
                entry.timer.cancel()
            entry.deferred.errback(BindLostError(f"bind {self.config.name} closed"))
        if previous in ("bound", "unbinding"):
            logger.info("SMPP bind %s down: %s", self.config.name, reason.getErrorMessage())
        self.listener.closed(self, reason.getErrorMessage())
        self._closed.callback(None)

    def unbind(self, timeout: float | None = None) -> defer.Deferred[None]:
        """Send unbind, wait for unbind_resp (at most ``timeout``, default
        ``response_timeout``), close. Fires once the connection is closed."""
        if self.state == "closed":
            return defer.succeed(None)
        if self.state == "bound":
            self.state = "unbinding"
            if self._keepalive.running:
                self._keepalive.stop()
            request = self._request(codec.unbind(self._next()), "unbind", timeout)
            request.addBoth(lambda _: self._transport.loseConnection())
        elif self.state != "unbinding":
            self._transport.loseConnection()
        closed: defer.Deferred[None] = defer.Deferred()

        def fire(result: Any) -> Any:
            closed.callback(None)
            return result

        self._closed.addBoth(fire)
        return closed

    # --- requests ---------------------------------------------------------------------
    def _next(self) -> int:
        self._sequence = self._sequence % _MAX_SEQUENCE + 1
        return self._sequence

    def _request(self, pdu: Any, command: str,
                 timeout: float | None = None) -> defer.Deferred[Any]:
        seq = codec.sequence(pdu)
        deferred: defer.Deferred[Any] = defer.Deferred()
        timer = self.clock.callLater(self.config.response_timeout if timeout is None
                                     else timeout, self._timed_out, seq)
        self.outstanding[seq] = _Pending(command, deferred, timer)
        self._transport.write(codec.encode(pdu))
        return deferred

    def submit(self, message: ShortMessage) -> defer.Deferred[str]:
        """submit_sm; fires with the SMSC's message_id, or fails with SmppStatusError,
        ResponseTimeoutError or BindLostError. The caller keeps within :attr:`window_room`."""
        if self.state != "bound":
            return defer.fail(BindLostError(f"bind {self.config.name} is {self.state}"))
        self.submits_outstanding += 1
        return self._request(codec.submit_sm(message, self._next()), "submit_sm")

    def _timed_out(self, seq: int) -> None:
        entry = self.outstanding.pop(seq, None)
        if entry is None:
            return
        if entry.command == "submit_sm":
            self.submits_outstanding -= 1
        logger.warning("SMPP bind %s: no response to %s (seq %d) within %.1fs",
                       self.config.name, entry.command, seq, self.config.response_timeout)
        entry.deferred.errback(ResponseTimeoutError(
            f"{entry.command}: no response within {self.config.response_timeout}s"))
        if entry.command == "submit_sm" and self.state == "bound":
            self.listener.window_open(self)

    def _enquire(self) -> None:
        if self._enquiring or self.state != "bound":
            return
        self._enquiring = True
        request = self._request(codec.enquire_link(self._next()), "enquire_link")

        def answered(_: Any) -> None:
            self._enquiring = False

        def unanswered(failure: Failure) -> None:
            self._enquiring = False
            if failure.check(ResponseTimeoutError) and self.state == "bound":
                logger.warning("SMPP bind %s: enquire_link unanswered; closing",
                               self.config.name)
                self._transport.abortConnection() if hasattr(
                    self._transport, "abortConnection") else self._transport.loseConnection()

        request.addCallbacks(answered, unanswered)

    # --- input ------------------------------------------------------------------------
    def dataReceived(self, data: bytes) -> None:
        try:
            frames = self._framer.feed(data)
        except codec.FramingError as error:
            logger.error("SMPP bind %s: %s; closing", self.config.name, error)
            self._transport.loseConnection()
            return
        for frame in frames:
            if self.state == "closed":
                return
            self._frame(frame)

    def _frame(self, frame: bytes) -> None:
        try:
            pdu = codec.decode(frame)
        except codec.CodecError as error:
            logger.warning("SMPP bind %s: %s", self.config.name, error)
            self._transport.write(codec.encode(codec.generic_nack(error.sequence, error.status)))
            return
        name = codec.command(pdu)
        if name.endswith("_resp") or name == "generic_nack":
            self._response(pdu, name)
        elif name == "deliver_sm":
            self._deliver(pdu)
        elif name == "enquire_link":
            self._transport.write(codec.encode(codec.response(pdu)))
        elif name == "unbind":
            self._transport.write(codec.encode(codec.response(pdu)))
            self.state = "unbinding"
            self._transport.loseConnection()
        else:
            self._transport.write(codec.encode(
                codec.generic_nack(codec.sequence(pdu), codec.ESME_RINVCMDID)))

    def _response(self, pdu: Any, name: str) -> None:
        seq = codec.sequence(pdu)
        entry = self.outstanding.pop(seq, None)
        if entry is None:
            logger.info("SMPP bind %s: %s for unknown or late seq %d", self.config.name,
                        name, seq)
            return
        if entry.timer.active():
            entry.timer.cancel()
        code = codec.status(pdu)
        if entry.command == "submit_sm":
            self.submits_outstanding -= 1
        if code != codec.ESME_ROK:
            entry.deferred.errback(SmppStatusError(entry.command if name != "generic_nack"
                                                   else "generic_nack", code))
        else:
            entry.deferred.callback(codec.text(pdu.params.get("message_id")))
        if entry.command == "submit_sm" and self.state == "bound":
            self.listener.window_open(self)

    def _deliver(self, pdu: Any) -> None:
        self._transport.write(codec.encode(codec.response(pdu)))
        if not codec.is_receipt(pdu):
            return  # a mobile-originated message: not ours to handle
        body = pdu.params.get("short_message") or pdu.params.get("message_payload") or b""
        receipt = parse_receipt(codec.text(body),
                                codec.text(pdu.params.get("receipted_message_id")) or None,
                                codec.message_state(pdu))
        if receipt is None:
            logger.warning("SMPP bind %s: unreadable delivery receipt %r", self.config.name,
                           body)
            return
        self.listener.receipt(receipt)
