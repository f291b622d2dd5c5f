"""The Diameter proxy agent: which peers are up, where requests go, which answers
belong to which request, failover, Tx expiry and an orderly shutdown.

Relayed messages stay the bytes the sender wrote, except the hop-by-hop identifier,
the appended Route-Record and, on failover, the T flag (RFC 6733 §6.1.9, §5.5.4).
"""

from __future__ import annotations

import collections
import logging
import random
import struct
from dataclasses import dataclass, field
from typing import Protocol

from twisted.internet import defer, task

from interceptor.core import avps
from interceptor.core.histogram import LATENCY_BUCKETS, Buckets
from interceptor.core.reactor import Clock
from interceptor.diameter import codec, messages
from interceptor.diameter.config import PeerConfig, RelayConfig
from interceptor.diameter.connection import PeerConnection, State
from interceptor.diameter.messages import MessageFactory
from interceptor.diameter.routing import NoRoute, RoutingTable

logger = logging.getLogger(__name__)

_U32 = struct.Struct("!I")
_NAME_CACHE_LIMIT = 4096
_CREDIT_CONTROL = avps.CMD_CREDIT_CONTROL.to_bytes(3, "big")


class RelayObserver(Protocol):
    """Sees each relayed Credit-Control answer (command 272) with its request, after
    the answer has been written towards the client. It cannot alter either.

    Runs on the reactor thread inside the relay path: it must be quick and never raise.
    The request is the one kept for the pending entry (the relayed bytes), so nothing
    is parsed for a request unless its answer turns out to matter.
    """

    # When set, only answers containing these bytes are passed (a C-speed test the
    # agent makes itself, so the other answers cost nothing more than that). Read for
    # each answer: an observer may widen it (None) while it needs to see every answer.
    answer_filter: bytes | None

    def answer_relayed(self, request: bytes, answer: bytes, origin: Peer,
                       target: Peer) -> None: ...


Link = PeerConnection["Peer"]  # a connection of this agent's


class Peer:
    """A configured peer and its current open connection, if any."""

    def __init__(self, config: PeerConfig) -> None:
        self.config = config
        self.name = config.origin_host
        self.key = config.origin_host.lower()
        self.connection: Link | None = None
        self.dialling: Link | None = None  # our connection awaiting CEA
        self.connector: OutboundConnectorLike | None = None
        # Relayed messages received on this peer's closed connections:
        # (command code << 1 | request bit) -> count.
        self.received_before: dict[int, int] = {}

    def add_received(self, counts: dict[int, int]) -> None:
        for key, count in counts.items():
            self.received_before[key] = self.received_before.get(key, 0) + count

    @property
    def received(self) -> dict[int, int]:
        """Relayed messages received from this peer, over all its connections."""
        totals = dict(self.received_before)
        connection = self.connection
        if connection is not None and not connection.lost:
            for key, count in connection.received_counts().items():
                totals[key] = totals.get(key, 0) + count
        return totals

    @property
    def usable(self) -> bool:
        connection = self.connection
        return connection is not None and connection.usable

    def __repr__(self) -> str:
        return f"<Peer {self.name} {'up' if self.usable else 'down'}>"


class OutboundConnectorLike(Protocol):
    def connection_lost(self, was_open: bool, disconnect_cause: int | None) -> None: ...

    def peer_down(self) -> None: ...

    def stop(self) -> None: ...


class Pending:
    """A relayed request waiting for its answer, keyed by the hop-by-hop id we gave it."""

    __slots__ = ("deadline", "destination_host", "destination_realm",
                 "hop_by_hop", "message", "origin", "original_hop_by_hop", "target")

    def __init__(self, hop_by_hop: int, origin: Link, original_hop_by_hop: int,
                 target: Link, message: bytes, deadline: float,
                 destination_host: str | None, destination_realm: str | None) -> None:
        self.hop_by_hop = hop_by_hop
        self.origin = origin
        self.original_hop_by_hop = original_hop_by_hop
        self.target = target
        self.message = message
        self.deadline = deadline
        self.destination_host = destination_host
        self.destination_realm = destination_realm


@dataclass
class RelayCounters:
    requests_relayed: int = 0
    answers_relayed: int = 0
    answers_unmatched: int = 0
    retransmitted: int = 0
    errors_sent: dict[int, int] = field(default_factory=dict)

    def error(self, result: int) -> None:
        self.errors_sent[result] = self.errors_sent.get(result, 0) + 1


class DiameterAgent:
    def __init__(self, config: RelayConfig, clock: Clock, factory: MessageFactory,
                 observer: RelayObserver | None = None, seed: int | None = None) -> None:
        self.config = config
        self.clock = clock
        self.factory = factory
        self.observer = observer
        self.rng = random.Random(seed)
        self.peers = {peer.origin_host.lower(): Peer(peer) for peer in config.peers}
        self.routing = RoutingTable(config.routing)
        self.connections: set[Link] = set()
        self.pending: dict[int, Pending] = {}
        self._deadlines: collections.deque[Pending] = collections.deque()
        self._next_hop_by_hop = self.rng.getrandbits(32)
        self._own_identity = config.identity.origin_host.lower().encode()
        self._names: dict[bytes, str] = {}
        self.counters = RelayCounters()
        # Round trip through the agent (request in to answer out), sampled: one answer in
        # latency_mask + 1 is timed, into bucket counters (no lock, reactor thread only).
        self.latency = Buckets(LATENCY_BUCKETS)
        self.latency_mask = 63
        # Hot-path copies of configuration values (attribute chains cost microseconds).
        self._relay_all_applications = config.identity.advertise_relay
        self._applications = frozenset(config.identity.auth_application_ids)
        self._max_pending = config.limits.max_pending_requests
        self._request_timeout = config.timers.request_timeout
        self._sweeper = task.LoopingCall(self._sweep)
        self._sweeper.clock = clock
        self._stop_phase = 0
        self._stop_started = 0.0
        self._stopped: defer.Deferred[None] | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        interval = min(0.1, self.config.timers.request_timeout / 4)
        self._sweeper.start(interval, now=False)

    @property
    def stopping(self) -> bool:
        return self._stop_phase > 0

    def stop(self, cause: int = avps.DISCONNECT_REBOOTING) -> defer.Deferred[None]:
        """DPR to client peers, drain in-flight requests, DPR to OCS peers, close.

        The Deferred fires when every connection is closed.
        """
        if self._stopped is not None:
            return self._stopped
        self._stopped = defer.Deferred()
        self._stop_phase = 1
        self._stop_started = self.clock.seconds()
        for peer in self.peers.values():
            if peer.connector is not None:
                peer.connector.stop()
        for connection in list(self.connections):
            if connection.state is State.OPEN and connection.peer is not None \
                    and connection.peer.config.role == "client":
                connection.send_dpr(cause)
            elif connection.state in (State.WAIT_CER, State.WAIT_CEA):
                connection.close()
        logger.info("stopping: draining %d in-flight requests", len(self.pending))
        self._advance_shutdown()
        return self._stopped

    def _advance_shutdown(self) -> None:
        now = self.clock.seconds()
        timers = self.config.timers
        if self._stop_phase == 1:
            if self.pending and now < self._stop_started + timers.request_timeout + 1:
                return
            for entry in list(self.pending.values()):
                self._abandon(entry, avps.UNABLE_TO_DELIVER,
                              "agent shutting down before the answer came")
            self._stop_phase = 2
            self._stop_started = now
            for connection in list(self.connections):
                if connection.state is State.OPEN:
                    connection.send_dpr(avps.DISCONNECT_REBOOTING)
                elif connection.dpa_received or connection.disconnect_cause is not None \
                        or connection.state is not State.CLOSING:
                    connection.close()
        if self._stop_phase == 2:
            for connection in list(self.connections):
                if connection.dpa_received or \
                        now >= self._stop_started + timers.disconnect_timeout:
                    connection.close()
            self._maybe_stopped()

    def _maybe_stopped(self) -> None:
        if self._stop_phase == 2 and not self.connections and self._stopped is not None:
            self._stop_phase = 3
            if self._sweeper.running:
                self._sweeper.stop()
            logger.info("all peer connections closed")
            self._stopped.callback(None)

    def disconnect_answered(self, connection: Link) -> None:
        connection.dpa_received = True
        if self._stop_phase == 2:
            connection.close()

    # -- connections -----------------------------------------------------------------

    def new_connection(self, remote_ip: str, initiator: bool,
                       expected_peer: Peer | None = None) -> Link:
        connection = Link(self, self.clock, remote_ip, initiator, expected_peer, self.rng)
        self.connections.add(connection)
        if initiator and expected_peer is not None:
            expected_peer.dialling = connection
        return connection

    def peer_for(self, origin_host: str) -> Peer | None:
        return self.peers.get(origin_host.lower())

    def responder_ready(self, connection: Link,
                        capabilities: messages.PeerCapabilities) -> tuple[int, str] | None:
        """A known peer sent a valid CER. None to accept, else (result, reason)."""
        peer = connection.peer
        assert peer is not None
        if self.stopping:
            return avps.UNABLE_TO_COMPLY, "agent is shutting down"
        existing = peer.connection
        if peer.config.role == "client":
            # We never dial clients, so there is no election: a client that reconnects
            # has restarted and its old connection is dead; take the new one.
            if existing is not None and existing is not connection:
                logger.warning("client %s connected again; closing its previous "
                               "connection", peer.name)
                peer.connection = None
                existing.close()
            return None
        if existing is not None:
            return avps.ELECTION_LOST, "a connection with this peer is already open"
        dialling = peer.dialling
        if dialling is not None and dialling.state is State.WAIT_CEA:
            # RFC 6733 §5.6.4: the responder elects; the higher Origin-Host wins.
            if self._own_identity > capabilities.origin_host.lower().encode():
                logger.info("election with %s won: keeping its connection", peer.name)
                peer.dialling = None
                dialling.close()
                return None
            logger.info("election with %s lost: keeping our connection", peer.name)
            return avps.ELECTION_LOST, "election lost"
        return None

    def initiator_ready(self, connection: Link) -> bool:
        peer = connection.peer
        assert peer is not None
        if peer.dialling is connection:
            peer.dialling = None
        if self.stopping:
            return False
        return peer.connection is None or peer.connection is connection

    def connection_open(self, connection: Link) -> None:
        peer = connection.peer
        if peer is None or connection.state is not State.OPEN:
            return
        peer.connection = connection
        connector = peer.connector
        if connector is not None and hasattr(connector, "opened"):
            connector.opened()

    def connection_suspect(self, connection: Link) -> None:
        self._fail_over(connection)

    def connection_closing(self, connection: Link) -> None:
        """The peer sent DPR: route nothing new to it; in-flight answers may still come."""
        peer = connection.peer
        if peer is not None and peer.connection is connection:
            peer.connection = None

    def connection_lost(self, connection: Link) -> None:
        self.connections.discard(connection)
        peer = connection.peer or connection.expected_peer
        was_open = False
        if peer is not None:
            if peer.connection is connection:
                peer.connection = None
                was_open = True
                expected = self.stopping or connection.disconnect_cause is not None
                logger.log(logging.INFO if expected else logging.WARNING, "peer %s down",
                           peer.name)
            elif connection.route_record:
                was_open = True
            if peer.dialling is connection:
                peer.dialling = None
        self._fail_over(connection)
        if peer is not None and peer.connector is not None and connection.initiator:
            peer.connector.connection_lost(was_open, connection.disconnect_cause)
        elif peer is not None and peer.connector is not None and peer.connection is None:
            peer.connector.peer_down()
        self._maybe_stopped()

    # -- relaying --------------------------------------------------------------------

    def _name(self, raw: bytes | None) -> str | None:
        if raw is None:
            return None
        name = self._names.get(raw)
        if name is None:
            name = raw.decode("utf-8", "replace").lower()
            if len(self._names) < _NAME_CACHE_LIMIT:
                self._names[raw] = name
        return name

    def _usable(self, name: str) -> bool:
        peer = self.peers.get(name)
        return peer is not None and peer.usable

    def relay_request(self, origin: Link, message: bytes) -> None:
        flags = message[4]
        if flags & avps.FLAG_ERROR:
            self._refuse(origin, message, avps.INVALID_HDR_BITS,
                         "E bit set in a request")
            return
        if not flags & avps.FLAG_PROXIABLE:
            self._refuse(origin, message, avps.UNABLE_TO_DELIVER,
                         "request is not proxiable and this agent does not serve it")
            return
        application_id = _U32.unpack_from(message, 8)[0]
        if application_id not in self._applications and not self._relay_all_applications:
            self._refuse(origin, message, avps.APPLICATION_UNSUPPORTED,
                         f"application {application_id} is not relayed here")
            return
        try:
            raw_host, raw_realm, loop = codec.routing_avps(message, self._own_identity)
        except codec.AvpLengthError as error:
            self._refuse(origin, message, avps.INVALID_AVP_LENGTH, error.reason,
                         failed_avp=_offending_avp(message, error.offset))
            return
        if loop:
            self._refuse(origin, message, avps.LOOP_DETECTED,
                         "this agent is already in Route-Record")
            return
        if raw_realm is None:
            self._refuse(origin, message, avps.MISSING_AVP, "Destination-Realm missing",
                         failed_avp=codec.encode_avp(avps.AVP_DESTINATION_REALM, b""))
            return
        pending = self.pending
        if len(pending) >= self._max_pending:
            self._refuse(origin, message, avps.TOO_BUSY, "too many requests in flight")
            return
        destination_host = self._name(raw_host)
        destination_realm = self._name(raw_realm)
        choice = self.routing.choose(destination_host, destination_realm, self._usable)
        if isinstance(choice, NoRoute):
            self._refuse(origin, message, choice.result, choice.reason)
            return
        target_peer = self.peers[choice]
        target = target_peer.connection
        assert target is not None
        hop_by_hop = (self._next_hop_by_hop + 1) & 0xFFFFFFFF
        if hop_by_hop in pending:
            hop_by_hop = self._allocate_hop_by_hop()
        self._next_hop_by_hop = hop_by_hop
        relayed = codec.relayed_request(message, hop_by_hop, origin.route_record)
        entry = Pending(hop_by_hop, origin, _U32.unpack_from(message, 12)[0], target,
                        relayed, self.clock.seconds() + self._request_timeout,
                        destination_host, destination_realm)
        pending[hop_by_hop] = entry
        self._deadlines.append(entry)
        self.counters.requests_relayed += 1
        target.send(relayed)

    def relay_answer(self, target: Link, message: bytes) -> None:
        hop_by_hop = _U32.unpack_from(message, 12)[0]
        entry = self.pending.get(hop_by_hop)
        if entry is None or entry.target is not target:
            # Late answers after failover or Tx expiry end here (RFC 6733 §6.2.1).
            self.counters.answers_unmatched += 1
            logger.debug("discarding answer with unknown hop-by-hop %#x from %s",
                         hop_by_hop, target.peer_name)
            return
        del self.pending[hop_by_hop]
        self.counters.answers_relayed += 1
        if not hop_by_hop & self.latency_mask:  # hop-by-hop ids are sequential: 1 in N
            self.latency.observe(self.clock.seconds() - entry.deadline
                                 + self._request_timeout)
        entry.origin.send(codec.with_hop_by_hop(message, entry.original_hop_by_hop))
        observer = self.observer
        if observer is not None and ((answer_filter := observer.answer_filter) is None
                                     or answer_filter in message) \
                and message[5:8] == _CREDIT_CONTROL:
            origin_peer, target_peer = entry.origin.peer, target.peer
            if origin_peer is not None and target_peer is not None:
                try:
                    observer.answer_relayed(entry.message, message, origin_peer, target_peer)
                except Exception:
                    # Side work never breaks relaying.
                    logger.exception("relay observer failed; relaying goes on")

    def _allocate_hop_by_hop(self) -> int:
        hop_by_hop = self._next_hop_by_hop
        while True:
            hop_by_hop = (hop_by_hop + 1) & 0xFFFFFFFF
            if hop_by_hop not in self.pending:
                self._next_hop_by_hop = hop_by_hop
                return hop_by_hop

    def _refuse(self, origin: Link, request: bytes, result: int, reason: str,
                failed_avp: bytes | None = None) -> None:
        logger.info("answering %s from %s with %d: %s", _describe(request),
                    origin.peer_name, result, reason)
        self.counters.error(result)
        origin.send(self.factory.error_answer(request, result, reason, failed_avp,
                                              _top_level_spans(request)))

    def _abandon(self, entry: Pending, result: int, reason: str) -> None:
        """Answer the client ourselves: the request will not be answered upstream."""
        self.pending.pop(entry.hop_by_hop, None)
        original = codec.with_hop_by_hop(entry.message, entry.original_hop_by_hop)
        if not entry.origin.lost:
            self._refuse(entry.origin, original, result, reason)

    def _fail_over(self, lost: Link) -> None:
        """Re-send what ``lost`` owed us to an alternate peer, with the T flag."""
        stranded = [entry for entry in self.pending.values() if entry.target is lost]
        if not stranded:
            return
        exclude = {lost.peer.key} if lost.peer is not None else set()
        moved = 0
        for entry in stranded:
            choice = self.routing.choose(entry.destination_host, entry.destination_realm,
                                         self._usable, exclude)
            if isinstance(choice, NoRoute):
                self._abandon(entry, avps.UNABLE_TO_DELIVER,
                              f"{lost.peer_name} lost and no alternate peer: "
                              f"{choice.reason}")
                continue
            target = self.peers[choice].connection
            assert target is not None
            entry.target = target
            entry.message = codec.set_retransmit(entry.message)
            target.send(entry.message)
            moved += 1
        self.counters.retransmitted += moved
        logger.warning("%s unavailable: %d in-flight requests re-sent to alternates, "
                       "%d answered with 3002", lost.peer_name, moved, len(stranded) - moved)

    def _sweep(self) -> None:
        now = self.clock.seconds()
        deadlines = self._deadlines
        pending = self.pending
        while deadlines and deadlines[0].deadline <= now:
            entry = deadlines.popleft()
            if pending.get(entry.hop_by_hop) is entry:
                self._abandon(entry, avps.UNABLE_TO_DELIVER,
                              f"no answer from {entry.target.peer_name} within Tx")
        if self._stop_phase:
            self._advance_shutdown()


def _top_level_spans(message: bytes) -> list[codec.AvpSpan]:
    spans: list[codec.AvpSpan] = []
    try:
        for span in codec.iter_avps(message, avps.HEADER_LENGTH, len(message)):
            spans.append(span)
    except codec.AvpLengthError:
        pass
    return spans


def _offending_avp(message: bytes, offset: int) -> bytes:
    """The AVP header at ``offset`` with a minimal zeroed payload (RFC 6733 §7.5.2)."""
    header = message[offset:offset + 8]
    if len(header) < 8:
        return codec.encode_avp(0, b"")
    code, flags_length = struct.unpack("!II", header)
    flags = flags_length >> 24
    vendor = b""
    if flags & avps.AVP_FLAG_VENDOR:
        vendor = message[offset + 8:offset + 12].ljust(4, b"\x00")
    header_length = 8 + len(vendor)
    payload = b"\x00" * 4
    return struct.pack("!II", code, (flags << 24) | (header_length + len(payload))) + \
        vendor + payload


def _describe(message: bytes) -> str:
    header = codec.parse_header(message)
    kind = "request" if header.is_request else "answer"
    return f"{kind} {header.command_code}/{header.application_id} " \
           f"hbh={header.hop_by_hop:#x}"
