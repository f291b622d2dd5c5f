"""The demo's own SMSC: a small SMPP 3.4 server on loopback, so ``beepcall demo`` shows
the SMS going out on a machine without node/npm (the npm SMSC in tests/sms is for tests).

It answers bind_transceiver/bind_transmitter/bind_receiver (system_id and password
checked: ESME_RINVPASWD otherwise), enquire_link, unbind and submit_sm (a message id per
part); anything else gets generic_nack. Each submit_sm's text is decoded (data_coding 0:
GSM 7-bit unpacked, 8: UCS-2), concatenated parts (UDH with an 8- or 16-bit reference,
or SAR TLVs) are put back together, and every whole message lands in
:attr:`DemoSmsc.messages`. When registered_delivery asks for it, a delivery receipt
(deliver_sm, "id:... stat:DELIVRD ...") follows after ``receipt_delay`` on the reactor
clock, on a bind that can receive it. PDUs go through the ESME's codec
(:mod:`interceptor.smpp.codec`, smpp.pdu3).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from smpp.pdu import constants
from smpp.pdu import operations as op
from smpp.pdu import pdu_types as t
from twisted.internet import defer
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure

from interceptor.core.reactor import Clock, DelayedCall, ListeningPort, Reactor
from interceptor.smpp import codec
from interceptor.smpp.messages import DATA_CODING_DEFAULT, DATA_CODING_UCS2
from interceptor.sms import gsm7

logger = logging.getLogger(__name__)

_MAX_SEQUENCE = 0x7FFFFFFF
_BIND_COMMANDS = {"bind_transceiver": "transceiver", "bind_transmitter": "transmitter",
                  "bind_receiver": "receiver"}
_RECEIVES = frozenset({"transceiver", "receiver"})
_IEI_CONCAT_8, _IEI_CONCAT_16 = 0x00, 0x08


@dataclass(frozen=True)
class ReceivedSms:
    """One whole SMS as the SMSC got it (all its parts)."""

    destination: str
    source: str
    text: str
    data_coding: int
    parts: int
    concat: str | None  # "udh" (8-bit ref), "udh16", "sar"; None for a single part
    message_ids: tuple[str, ...]


@dataclass
class SmscCounters:
    binds: int = 0
    bind_refusals: int = 0
    submits: int = 0
    receipts: int = 0
    generic_nacks: int = 0
    reassembly_errors: int = 0


@dataclass(frozen=True)
class _Part:
    destination: str
    source: str
    data_coding: int
    body: bytes  # without the UDH
    message_id: str
    concat: tuple[str, int, int, int] | None  # kind, reference, total, sequence


@dataclass
class _Assembly:
    total: int
    parts: dict[int, _Part] = field(default_factory=dict)


class _BadUdhError(ValueError):
    pass


def data_coding_value(coding: Any) -> int:
    """smpp.pdu3's DataCoding as the octet on the wire (0 GSM, 8 UCS-2...)."""
    if coding is None:
        return DATA_CODING_DEFAULT
    if coding.scheme == t.DataCodingScheme.DEFAULT:
        return int(constants.data_coding_default_name_map[coding.schemeData.name])
    if coding.scheme == t.DataCodingScheme.RAW:
        return int(coding.schemeData)
    return -1  # a GSM message class scheme: not one the demo decodes


def decode_text(data_coding: int, body: bytes) -> str:
    if data_coding in (DATA_CODING_DEFAULT, DATA_CODING_UCS2):
        return gsm7.decode(data_coding, body)
    return body.decode("latin-1")


def split_udh(payload: bytes) -> tuple[tuple[str, int, int, int] | None, bytes]:
    """(concatenation IE if any, body) of a payload that starts with a UDH."""
    if not payload or payload[0] + 1 > len(payload):
        raise _BadUdhError("UDH longer than the message")
    header, body = payload[1:payload[0] + 1], payload[payload[0] + 1:]
    concat = None
    index = 0
    while index + 2 <= len(header):
        iei, size = header[index], header[index + 1]
        data = header[index + 2:index + 2 + size]
        if len(data) < size:
            raise _BadUdhError("truncated UDH information element")
        if iei == _IEI_CONCAT_8 and size == 3:
            concat = ("udh", data[0], data[1], data[2])
        elif iei == _IEI_CONCAT_16 and size == 4:
            concat = ("udh16", data[0] << 8 | data[1], data[2], data[3])
        index += 2 + size
    return concat, body


def _status(code_name: str) -> Any:
    return getattr(t.CommandStatus, code_name)


class SmscSession(Protocol):
    """One ESME's connection: open -> bound (as transceiver/transmitter/receiver)."""

    def __init__(self, smsc: DemoSmsc) -> None:
        self.smsc = smsc
        self.mode: str | None = None  # bound as
        self.system_id = ""
        self._sequence = 0
        self._framer = codec.PduFramer()
        self._closing = False
        self.closed: defer.Deferred[None] = defer.Deferred()

    @property
    def _transport(self) -> Any:
        return self.transport

    @property
    def receives(self) -> bool:
        return self.mode in _RECEIVES

    def send(self, pdu: Any) -> None:
        self._transport.write(codec.encode(pdu))

    def next_sequence(self) -> int:
        self._sequence = self._sequence % _MAX_SEQUENCE + 1
        return self._sequence

    def close(self) -> None:
        self._closing = True
        self._transport.loseConnection()

    def connectionMade(self) -> None:
        self.smsc.sessions.add(self)

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        self.smsc.sessions.discard(self)
        self.mode = None
        self.closed.callback(None)

    # --- framing: codec.PduFramer, shared with the ESME -----------------------------
    def dataReceived(self, data: bytes) -> None:
        try:
            frames = self._framer.feed(data)
        except codec.FramingError as error:
            logger.warning("demo SMSC: %s; closing", error)
            self.close()
            return
        for frame in frames:
            if self._closing:
                return
            self._frame(frame)

    def _frame(self, frame: bytes) -> None:
        try:
            pdu = codec.decode(frame)
        except codec.CodecError as error:
            logger.info("demo SMSC: %s", error)
            self._nack(error.sequence, error.status)
            return
        name = codec.command(pdu)
        if name in _BIND_COMMANDS:
            self._bind(pdu, _BIND_COMMANDS[name])
        elif name == "submit_sm":
            self._submit(pdu)
        elif name in ("enquire_link", "unbind"):
            self.send(codec.response(pdu))
            if name == "unbind":
                self.mode = None
                self.close()
        elif name == "generic_nack":
            logger.info("demo SMSC: generic_nack from %s: %s", self.system_id,
                        codec.status_name(codec.status(pdu)))
        elif not name.endswith("_resp"):  # responses (deliver_sm_resp...) need nothing
            self._nack(codec.sequence(pdu), codec.ESME_RINVCMDID)

    def _nack(self, sequence: int, status: int) -> None:
        self.smsc.counters.generic_nacks += 1
        self.send(codec.generic_nack(sequence, status))

    # --- requests -----------------------------------------------------------------------
    def _bind(self, pdu: Any, mode: str) -> None:
        system_id = codec.text(pdu.params.get("system_id"))
        password = codec.text(pdu.params.get("password"))
        answer = pdu.requireAck
        if self.mode is not None:
            self.send(answer(seqNum=codec.sequence(pdu), status=_status("ESME_RALYBND")))
            return
        if system_id != self.smsc.system_id or password != self.smsc.password:
            self.smsc.counters.bind_refusals += 1
            logger.info("demo SMSC: bind as %r refused (wrong system_id or password)",
                        system_id)
            self.send(answer(seqNum=codec.sequence(pdu), status=_status("ESME_RINVPASWD")))
            self.close()
            return
        self.mode, self.system_id = mode, system_id
        self.smsc.counters.binds += 1
        self.send(answer(seqNum=codec.sequence(pdu), system_id=self.smsc.name))

    def _submit(self, pdu: Any) -> None:
        seq = codec.sequence(pdu)
        if self.mode not in ("transceiver", "transmitter"):
            self.send(op.SubmitSMResp(seqNum=seq, status=_status("ESME_RINVBNDSTS")))
            return
        params = pdu.params
        payload = params.get("short_message") or params.get("message_payload") or b""
        esm = params.get("esm_class")
        concat = None
        if esm is not None and t.EsmClassGsmFeatures.UDHI_INDICATOR_SET in esm.gsmFeatures:
            try:
                concat, payload = split_udh(payload)
            except _BadUdhError as error:
                logger.info("demo SMSC: submit_sm refused: %s", error)
                self.send(op.SubmitSMResp(seqNum=seq, status=_status("ESME_RINVESMCLASS")))
                return
        if concat is None and params.get("sar_msg_ref_num") is not None:
            concat = ("sar", int(params["sar_msg_ref_num"]),
                      int(params.get("sar_total_segments") or 0),
                      int(params.get("sar_segment_seqnum") or 0))
        message_id = self.smsc.next_message_id()
        self.send(op.SubmitSMResp(seqNum=seq, message_id=message_id))
        part = _Part(destination=codec.text(params.get("destination_addr")),
                     source=codec.text(params.get("source_addr")),
                     data_coding=data_coding_value(params.get("data_coding")),
                     body=bytes(payload), message_id=message_id, concat=concat)
        self.smsc.part_received(part)
        delivery = params.get("registered_delivery")
        if delivery is not None and delivery.receipt == \
                t.RegisteredDeliveryReceipt.SMSC_DELIVERY_RECEIPT_REQUESTED:
            self.smsc.receipt_later(self, pdu, part)


class DemoSmsc(Factory):
    """The SMSC's state: sessions, received messages, counters. ``listen`` on loopback,
    ``stop`` closes everything (a Deferred firing once the sessions are gone)."""

    def __init__(self, clock: Clock, system_id: str, password: str, *,
                 receipt_delay: float = 0.05, name: str = "demo-smsc") -> None:
        self.clock = clock
        self.system_id = system_id
        self.password = password
        self.receipt_delay = receipt_delay
        self.name = name
        self.sessions: set[SmscSession] = set()
        self.messages: list[ReceivedSms] = []
        self.on_message: list[Callable[[ReceivedSms], None]] = []
        self.counters = SmscCounters()
        self.port: ListeningPort | None = None
        self._next_id = 0
        self._assemblies: dict[tuple[str, str, str, int], _Assembly] = {}
        self._receipts: set[DelayedCall] = set()

    def buildProtocol(self, addr: Any) -> SmscSession:
        session = SmscSession(self)
        session.factory = self
        return session

    def listen(self, reactor: Reactor, port: int = 0, interface: str = "127.0.0.1") -> int:
        """Start listening (port 0: any free one); returns the port."""
        self.port = reactor.listenTCP(port, self, interface=interface)
        return int(self.port.getHost().port)

    def stop(self) -> defer.Deferred[Any]:
        for call in list(self._receipts):
            if call.active():
                call.cancel()
        self._receipts.clear()
        waits: list[defer.Deferred[Any]] = [session.closed for session in self.sessions]
        for session in list(self.sessions):
            session.close()
        if self.port is not None:
            port, self.port = self.port, None
            waits.append(defer.maybeDeferred(port.stopListening))
        return defer.gatherResults(waits, consumeErrors=True)

    def next_message_id(self) -> str:
        self._next_id += 1
        return f"demo{self._next_id:06d}"

    # --- reassembly ------------------------------------------------------------------------
    def part_received(self, part: _Part) -> None:
        self.counters.submits += 1
        if part.concat is None:
            self._complete([part], None)
            return
        kind, reference, total, sequence = part.concat
        key = (part.source, part.destination, kind, reference)
        assembly = self._assemblies.setdefault(key, _Assembly(total))
        if assembly.total != total or not 1 <= sequence <= total \
                or sequence in assembly.parts:
            self.counters.reassembly_errors += 1
            logger.warning("demo SMSC: part %d/%d of %s ref %d from %s to %s does not fit",
                           sequence, total, kind, reference, part.source, part.destination)
            return
        assembly.parts[sequence] = part
        if len(assembly.parts) == total:
            del self._assemblies[key]
            self._complete([assembly.parts[index] for index in range(1, total + 1)], kind)

    def _complete(self, parts: list[_Part], kind: str | None) -> None:
        first = parts[0]
        # the bodies joined before decoding: another ESME may split a character
        text = decode_text(first.data_coding, b"".join(part.body for part in parts))
        message = ReceivedSms(destination=first.destination, source=first.source, text=text,
                              data_coding=first.data_coding, parts=len(parts), concat=kind,
                              message_ids=tuple(part.message_id for part in parts))
        self.messages.append(message)
        for listener in self.on_message:
            listener(message)

    # --- delivery receipts -----------------------------------------------------------------
    def receipt_later(self, session: SmscSession, submit: Any, part: _Part) -> None:
        submitted = datetime.fromtimestamp(self.clock.seconds(), UTC)
        holder: list[DelayedCall] = []

        def fire() -> None:
            self._receipts.discard(holder[0])
            self._send_receipt(session, submit, part, submitted)

        holder.append(self.clock.callLater(self.receipt_delay, fire))
        self._receipts.add(holder[0])

    def _send_receipt(self, session: SmscSession, submit: Any, part: _Part,
                      submitted: datetime) -> None:
        target = session if session.receives else next(
            (other for other in self.sessions
             if other.receives and other.system_id == session.system_id), None)
        if target is None:
            logger.info("demo SMSC: no bind to take the receipt of %s", part.message_id)
            return
        done = datetime.fromtimestamp(self.clock.seconds(), UTC)
        excerpt = decode_text(part.data_coding, part.body)[:20]
        body = (f"id:{part.message_id} sub:001 dlvrd:001 submit date:"
                f"{submitted:%y%m%d%H%M} done date:{done:%y%m%d%H%M} stat:DELIVRD "
                f"err:000 text:{excerpt}").encode("ascii", "replace")
        params = submit.params
        target.send(op.DeliverSM(
            seqNum=target.next_sequence(), service_type="",
            source_addr_ton=params["dest_addr_ton"], source_addr_npi=params["dest_addr_npi"],
            source_addr=params["destination_addr"],
            dest_addr_ton=params["source_addr_ton"], dest_addr_npi=params["source_addr_npi"],
            destination_addr=params["source_addr"],
            esm_class=t.EsmClass(t.EsmClassMode.DEFAULT, t.EsmClassType.SMSC_DELIVERY_RECEIPT),
            protocol_id=0, priority_flag=t.PriorityFlag.LEVEL_0,
            schedule_delivery_time=None, validity_period=None,
            registered_delivery=t.RegisteredDelivery(
                t.RegisteredDeliveryReceipt.NO_SMSC_DELIVERY_RECEIPT_REQUESTED),
            replace_if_present_flag=t.ReplaceIfPresentFlag.DO_NOT_REPLACE,
            data_coding=t.DataCoding(t.DataCodingScheme.DEFAULT,
                                     t.DataCodingDefault.SMSC_DEFAULT_ALPHABET),
            sm_default_msg_id=0, short_message=body,
            receipted_message_id=part.message_id,
            message_state=t.MessageState.DELIVERED))
        self.counters.receipts += 1
