"""One transport connection to a Diameter peer: capabilities exchange, watchdog
(RFC 3539), disconnect, and the hand-off of relayed traffic to the agent.
"""

from __future__ import annotations

import enum
import logging
import random
from typing import Generic, Protocol, TypeVar

from twisted.python.failure import Failure

from interceptor.core import avps
from interceptor.core.reactor import Clock, DelayedCall
from interceptor.diameter import codec, messages
from interceptor.diameter.config import PeerConfig, RelayConfig
from interceptor.diameter.framing import DiameterProtocol

logger = logging.getLogger(__name__)


class State(enum.Enum):
    WAIT_CER = "wait-cer"      # responder: connected, no CER yet
    WAIT_CEA = "wait-cea"      # initiator: CER sent
    OPEN = "open"
    CLOSING = "closing"        # DPR sent or received: no new requests go out here
    CLOSED = "closed"


class Watchdog(enum.Enum):
    OKAY = "okay"
    SUSPECT = "suspect"


class KnownPeer(Protocol):
    """What a connection needs of the configured peer it belongs to."""

    @property
    def name(self) -> str: ...

    @property
    def key(self) -> str: ...  # the Origin-Host in lower case

    @property
    def config(self) -> PeerConfig: ...

    def add_received(self, counts: dict[int, int]) -> None: ...


PeerT = TypeVar("PeerT", bound=KnownPeer)


class ConnectionOwner(Protocol[PeerT]):
    """What a connection hands over to, and asks of, the agent that owns it."""

    @property
    def config(self) -> RelayConfig: ...

    @property
    def factory(self) -> messages.MessageFactory: ...

    def peer_for(self, origin_host: str) -> PeerT | None: ...

    def responder_ready(self, connection: PeerConnection[PeerT],
                        capabilities: messages.PeerCapabilities) -> tuple[int, str] | None:
        ...

    def initiator_ready(self, connection: PeerConnection[PeerT]) -> bool: ...

    def connection_open(self, connection: PeerConnection[PeerT]) -> None: ...

    def connection_suspect(self, connection: PeerConnection[PeerT]) -> None: ...

    def connection_closing(self, connection: PeerConnection[PeerT]) -> None: ...

    def connection_lost(self, connection: PeerConnection[PeerT]) -> None: ...

    def disconnect_answered(self, connection: PeerConnection[PeerT]) -> None: ...

    def relay_request(self, origin: PeerConnection[PeerT], message: bytes) -> None: ...

    def relay_answer(self, target: PeerConnection[PeerT], message: bytes) -> None: ...


class PeerConnection(Generic[PeerT]):
    """Controller of one DiameterProtocol. ``initiator`` is True when we dialled."""

    def __init__(self, agent: ConnectionOwner[PeerT], clock: Clock, remote_ip: str,
                 initiator: bool, expected_peer: PeerT | None = None,
                 rng: random.Random | None = None) -> None:
        self.agent = agent
        self.clock = clock
        self.remote_ip = remote_ip
        self.initiator = initiator
        self.expected_peer = expected_peer
        self.peer: PeerT | None = None
        self.protocol: DiameterProtocol | None = None
        self.state = State.WAIT_CEA if initiator else State.WAIT_CER
        self.watchdog = Watchdog.OKAY
        self.route_record = b""  # pre-encoded Route-Record naming this peer
        self.last_received = clock.seconds()
        self.dwr_outstanding = False
        self.dpr_hop_by_hop: int | None = None
        self.dpa_received = False
        self.disconnect_cause: int | None = None
        self._timer: DelayedCall | None = None
        self._rng = rng or random.Random()
        self.lost = False
        # Relayed messages received on this connection (added to the peer's totals when
        # it is lost): plain ints; other commands than Credit-Control also by code.
        self.requests_received = 0
        self.answers_received = 0
        self.other_received: dict[int, int] = {}  # command code << 1 | request bit

    def __repr__(self) -> str:
        name = self.peer.name if self.peer else self.remote_ip
        direction = "out" if self.initiator else "in"
        return f"<PeerConnection {name} {direction} {self.state.value}>"

    # -- framing callbacks -----------------------------------------------------------

    def connection_made(self, protocol: DiameterProtocol) -> None:
        self.protocol = protocol
        timeout = self.agent.config.timers.connect_timeout
        if self.initiator:
            self.send(self.agent.factory.cer())
        self._timer = self.clock.callLater(timeout, self._capabilities_timeout)

    def message_received(self, message: bytes) -> None:
        self.last_received = self.clock.seconds()
        code = (message[5] << 16) | (message[6] << 8) | message[7]
        if self.watchdog is Watchdog.SUSPECT:
            self._recovered()
        if code in avps.BASE_COMMANDS or not (self.state is State.OPEN
                                               or self.state is State.CLOSING):
            self._base_message(code, message)
        elif message[4] & avps.FLAG_REQUEST:
            self.requests_received += 1
            if code != avps.CMD_CREDIT_CONTROL:
                self._count_other(code << 1 | 1)
            self.agent.relay_request(self, message)
        else:
            self.answers_received += 1
            if code != avps.CMD_CREDIT_CONTROL:
                self._count_other(code << 1)
            self.agent.relay_answer(self, message)

    def _count_other(self, key: int) -> None:
        self.other_received[key] = self.other_received.get(key, 0) + 1

    def received_counts(self) -> dict[int, int]:
        """Relayed messages received: (command code << 1 | request bit) -> count."""
        counts = dict(self.other_received)
        other_requests = sum(n for key, n in counts.items() if key & 1)
        other_answers = sum(n for key, n in counts.items() if not key & 1)
        cc = avps.CMD_CREDIT_CONTROL << 1
        counts[cc | 1] = self.requests_received - other_requests
        counts[cc] = self.answers_received - other_answers
        return {key: n for key, n in counts.items() if n}

    def framing_error(self, reason: str, header: bytes | None, result: int | None) -> None:
        logger.warning("closing %r: %s", self, reason)
        if header is not None and result is not None and header[4] & avps.FLAG_REQUEST:
            self.send(self.agent.factory.error_answer(header, result, reason))

    def connection_lost(self, reason: Failure) -> None:
        self.lost = True
        if self.peer is not None:
            self.peer.add_received(self.received_counts())
        previous = self.state
        self.state = State.CLOSED
        self._cancel_timer()
        logger.info("connection %s %s lost (%s): %s",
                    "to" if self.initiator else "from",
                    self.peer.name if self.peer else self.remote_ip,
                    previous.value, reason.getErrorMessage())
        self.agent.connection_lost(self)

    # -- sending ---------------------------------------------------------------------

    def send(self, message: bytes) -> None:
        protocol = self.protocol
        if protocol is not None and not self.lost:
            protocol.send(message)

    def close(self) -> None:
        if self.protocol is not None and not self.lost:
            self.protocol.close()

    @property
    def usable(self) -> bool:
        """May new requests be routed here?"""
        return self.state is State.OPEN and self.watchdog is Watchdog.OKAY

    # -- base protocol ---------------------------------------------------------------

    def _base_message(self, code: int, message: bytes) -> None:
        is_request = bool(message[4] & avps.FLAG_REQUEST)
        header = codec.parse_header(message)
        if code == avps.CMD_CAPABILITIES_EXCHANGE:
            if is_request:
                self._cer(message, header)
            else:
                self._cea(message)
        elif self.state is State.WAIT_CER or self.state is State.WAIT_CEA:
            logger.warning("%r: command %d before capabilities exchange; closing", self,
                           code)
            self.close()
        elif code == avps.CMD_DEVICE_WATCHDOG:
            if is_request:
                self.send(self.agent.factory.dwa(header))
            else:
                self.dwr_outstanding = False
        elif code == avps.CMD_DISCONNECT_PEER:
            if is_request:
                self._dpr(message, header)
            elif header.hop_by_hop == self.dpr_hop_by_hop:
                self.agent.disconnect_answered(self)

    def _cer(self, message: bytes, header: codec.Header) -> None:
        factory = self.agent.factory
        if self.state is not State.WAIT_CER:
            logger.warning("%r: unexpected CER; closing", self)
            self.send(factory.cea(header, avps.UNABLE_TO_COMPLY, "unexpected CER"))
            self.close()
            return
        try:
            capabilities = messages.parse_capabilities(message)
        except messages.CapabilitiesError as error:
            logger.warning("CER from %s refused: %s", self.remote_ip, error)
            self.send(factory.cea(header, error.result, str(error)))
            self.close()
            return
        peer = self.agent.peer_for(capabilities.origin_host)
        if peer is None or not peer.config.allows(self.remote_ip):
            logger.warning("CER from unknown peer %s at %s: DIAMETER_UNKNOWN_PEER",
                           capabilities.origin_host, self.remote_ip)
            self.send(factory.cea(header, avps.UNKNOWN_PEER, "unknown peer"))
            self.close()
            return
        if not capabilities.shares_application(self.agent.config.identity):
            logger.warning("CER from %s: no common application", peer.name)
            self.send(factory.cea(header, avps.NO_COMMON_APPLICATION,
                                  "no common application"))
            self.close()
            return
        self.peer = peer
        self._cancel_timer()
        verdict = self.agent.responder_ready(self, capabilities)
        if verdict is not None:
            result, reason = verdict
            self.send(factory.cea(header, result, reason))
            self.close()
            return
        self.send(factory.cea(header))
        self._open(capabilities)

    def _cea(self, message: bytes) -> None:
        if self.state is not State.WAIT_CEA:
            logger.warning("%r: unexpected CEA ignored", self)
            return
        self._cancel_timer()
        try:
            capabilities = messages.parse_capabilities(message)
        except messages.CapabilitiesError as error:
            logger.warning("bad CEA from %s: %s", self.remote_ip, error)
            self.close()
            return
        expected = self.expected_peer
        if capabilities.result_code != avps.SUCCESS:
            logger.warning("CEA from %s refused us: Result-Code %s", capabilities.origin_host,
                           capabilities.result_code)
            self.close()
            return
        if expected is None or capabilities.origin_host.lower() != expected.key:
            logger.warning("CEA from %s at %s, expected %s; closing",
                           capabilities.origin_host, self.remote_ip,
                           expected.name if expected else "?")
            self.close()
            return
        if not capabilities.shares_application(self.agent.config.identity):
            logger.warning("CEA from %s: no common application; closing", expected.name)
            self.close()
            return
        self.peer = expected
        if not self.agent.initiator_ready(self):
            self.close()
            return
        self._open(capabilities)

    def _open(self, capabilities: messages.PeerCapabilities) -> None:
        assert self.peer is not None
        self.state = State.OPEN
        self.route_record = codec.diameter_identity_avp(avps.AVP_ROUTE_RECORD,
                                                        capabilities.origin_host)
        logger.info("peer %s open (%s, %s, product %r)", self.peer.name,
                    "we dialled" if self.initiator else "it dialled", self.remote_ip,
                    capabilities.product_name)
        self._arm_watchdog()
        self.agent.connection_open(self)

    def _capabilities_timeout(self) -> None:
        self._timer = None
        logger.warning("%r: no capabilities exchange within %.1fs; closing", self,
                       self.agent.config.timers.connect_timeout)
        self.close()

    def _dpr(self, message: bytes, header: codec.Header) -> None:
        self.disconnect_cause = messages.disconnect_cause(message)
        logger.info("peer %s sent DPR (cause %s)", self.peer.name if self.peer else "?",
                    self.disconnect_cause)
        self.send(self.agent.factory.dpa(header))
        self.state = State.CLOSING
        self.agent.connection_closing(self)
        # The DPR sender closes after our DPA; close ourselves if it does not.
        self._cancel_timer()
        self._timer = self.clock.callLater(self.agent.config.timers.disconnect_timeout,
                                           self.close)

    def send_dpr(self, cause: int) -> None:
        """Announce we are going away; the agent closes after DPA and draining."""
        if self.state is not State.OPEN:
            return
        dpr = self.agent.factory.dpr(cause)
        self.dpr_hop_by_hop = codec.parse_header(dpr).hop_by_hop
        self.state = State.CLOSING
        self.send(dpr)

    # -- watchdog (RFC 3539) ---------------------------------------------------------

    def _arm_watchdog(self, delay: float | None = None) -> None:
        timers = self.agent.config.timers
        if delay is None:
            delay = timers.watchdog + self._rng.uniform(-timers.watchdog_jitter,
                                                        timers.watchdog_jitter)
        self._cancel_timer()
        self._timer = self.clock.callLater(max(delay, 0.1), self._watchdog_tick)

    def _watchdog_tick(self) -> None:
        """Tw after the last message (RFC 3539 §3.4): DWR; no answer in Tw: suspect
        (fail over); still nothing in another Tw: down."""
        self._timer = None
        if self.state is State.CLOSED:
            return
        tw = self.agent.config.timers.watchdog
        idle = self.clock.seconds() - self.last_received
        if idle < tw - self.agent.config.timers.watchdog_jitter:
            self._arm_watchdog(tw - idle)
            return
        if self.dwr_outstanding:
            if self.watchdog is Watchdog.SUSPECT:
                logger.warning("peer %s down: no answer for 2 Tw; closing", self.peer_name)
                self.close()
                return
            self.watchdog = Watchdog.SUSPECT
            logger.warning("peer %s suspect: no DWA within Tw", self.peer_name)
            self.agent.connection_suspect(self)
        else:
            self.dwr_outstanding = True
            self.send(self.agent.factory.dwr())
        self._arm_watchdog()

    def _recovered(self) -> None:
        self.watchdog = Watchdog.OKAY
        self.dwr_outstanding = False
        logger.info("peer %s answers again", self.peer_name)
        if self.state is State.OPEN:
            self.agent.connection_open(self)

    @property
    def peer_name(self) -> str:
        return self.peer.name if self.peer else self.remote_ip

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
