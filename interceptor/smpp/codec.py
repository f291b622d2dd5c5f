"""PDUs on the wire through smpp.pdu3's codec: build the ones we send, decode what comes.

The rest of the package sees plain values (command names, integer statuses, bytes);
smpp.pdu3's enums stay in this module.
"""

from __future__ import annotations

import struct
from io import BytesIO
from typing import Any

from smpp.pdu import constants
from smpp.pdu import operations as op
from smpp.pdu import pdu_types as t
from smpp.pdu.error import PDUParseError
from smpp.pdu.pdu_encoding import PDUEncoder

from interceptor.smpp.config import BindConfig
from interceptor.smpp.messages import DATA_CODING_UCS2, ShortMessage

HEADER_LENGTH = 16
MAX_PDU_LENGTH = 64 * 1024
_WORD = struct.Struct("!I")

ESME_ROK = 0x00
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
ESME_RINVCMDID = 0x03
ESME_RSYSERR = 0x08
TRANSIENT_STATUSES = frozenset({ESME_RMSGQFUL, ESME_RTHROTTLED})

_ENCODER = PDUEncoder()
_TON = {value: getattr(t.AddrTon, name) for name, value in constants.addr_ton_name_map.items()}
_NPI = {value: getattr(t.AddrNpi, name) for name, value in constants.addr_npi_name_map.items()}
_DEFAULT_CODING = t.DataCoding(t.DataCodingScheme.DEFAULT,
                               t.DataCodingDefault.SMSC_DEFAULT_ALPHABET)
_UCS2_CODING = t.DataCoding(t.DataCodingScheme.DEFAULT, t.DataCodingDefault.UCS2)
_BIND = {"transmitter": op.BindTransmitter, "transceiver": op.BindTransceiver,
         "receiver": op.BindReceiver}


class CodecError(Exception):
    """A PDU we cannot read: answer generic_nack with ``status`` (sequence if known)."""

    def __init__(self, message: str, status: int, sequence: int) -> None:
        super().__init__(message)
        self.status = status
        self.sequence = sequence


def frame_length(data: bytes | bytearray | memoryview, offset: int = 0) -> int:
    return int(_WORD.unpack_from(data, offset)[0])


class FramingError(Exception):
    """A command_length no PDU can have: the stream cannot be read further."""


class PduFramer:
    """Cuts a TCP byte stream into whole PDUs by their command_length. A partial PDU is
    kept as a list of chunks and joined once, when it may be complete."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._pending = 0

    def feed(self, data: bytes) -> list[bytes]:
        if self._chunks:
            self._chunks.append(data)
            self._pending += len(data)
            if self._pending < HEADER_LENGTH:
                return []
            data = b"".join(self._chunks)
            self._chunks, self._pending = [], 0
        frames: list[bytes] = []
        offset, end = 0, len(data)
        while end - offset >= 4:
            length = frame_length(data, offset)
            if length < HEADER_LENGTH or length > MAX_PDU_LENGTH:
                raise FramingError(f"bad command_length {length}")
            if end - offset < length:
                break
            frames.append(data if offset == 0 and length == end
                          else data[offset:offset + length])
            offset += length
        if offset < end:
            self._chunks, self._pending = [data[offset:]], end - offset
        return frames


def encode(pdu: Any) -> bytes:
    return bytes(_ENCODER.encode(pdu))


def decode(frame: bytes) -> Any:
    try:
        return _ENCODER.decode(BytesIO(frame))
    except PDUParseError as error:
        status = constants.command_status_name_map.get(error.status.name, ESME_RSYSERR)
        raise CodecError(str(error), status, _sequence_of(frame)) from None
    except (KeyError, ValueError, struct.error) as error:
        raise CodecError(f"unreadable PDU: {error!r}", ESME_RINVCMDID,
                         _sequence_of(frame)) from None


def _sequence_of(frame: bytes) -> int:
    return frame_length(frame, 12) if len(frame) >= HEADER_LENGTH else 0


def command(pdu: Any) -> str:
    return str(pdu.commandId.name)


def status(pdu: Any) -> int:
    return int(constants.command_status_name_map[pdu.status.name])


def status_name(code: int) -> str:
    entry = constants.command_status_value_map.get(code)
    if entry is None:
        return f"0x{code:08x}"
    return f"{entry['name']} ({entry['description']})"


def sequence(pdu: Any) -> int:
    return int(pdu.seqNum)


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def bind(config: BindConfig, seq: int) -> Any:
    klass = _BIND[config.mode]
    return klass(seqNum=seq, system_id=config.system_id, password=config.password,
                 system_type=config.system_type, interface_version=0x34,
                 addr_ton=_TON[config.addr_ton], addr_npi=_NPI[config.addr_npi],
                 address_range=config.address_range)


def submit_sm(message: ShortMessage, seq: int) -> Any:
    features = [t.EsmClassGsmFeatures.UDHI_INDICATOR_SET] if message.udhi else []
    receipt = (t.RegisteredDeliveryReceipt.SMSC_DELIVERY_RECEIPT_REQUESTED
               if message.registered_delivery
               else t.RegisteredDeliveryReceipt.NO_SMSC_DELIVERY_RECEIPT_REQUESTED)
    params: dict[str, Any] = {
        "service_type": "",
        "source_addr_ton": _TON[message.source.ton],
        "source_addr_npi": _NPI[message.source.npi],
        "source_addr": message.source.value,
        "dest_addr_ton": _TON[message.destination.ton],
        "dest_addr_npi": _NPI[message.destination.npi],
        "destination_addr": message.destination.value,
        "esm_class": t.EsmClass(t.EsmClassMode.DEFAULT, t.EsmClassType.DEFAULT, features),
        "protocol_id": 0,
        "priority_flag": t.PriorityFlag.LEVEL_0,
        "schedule_delivery_time": None,
        "validity_period": None,
        "registered_delivery": t.RegisteredDelivery(receipt),
        "replace_if_present_flag": t.ReplaceIfPresentFlag.DO_NOT_REPLACE,
        "data_coding": _UCS2_CODING if message.data_coding == DATA_CODING_UCS2
        else _DEFAULT_CODING,
        "sm_default_msg_id": 0,
        "short_message": message.payload,
    }
    if message.sar is not None:
        params.update(sar_msg_ref_num=message.sar.reference,
                      sar_total_segments=message.sar.total,
                      sar_segment_seqnum=message.sar.sequence)
    return op.SubmitSM(seqNum=seq, **params)


def enquire_link(seq: int) -> Any:
    return op.EnquireLink(seqNum=seq)


def unbind(seq: int) -> Any:
    return op.Unbind(seqNum=seq)


def response(request: Any) -> Any:
    """The OK response to a request we received (enquire_link, unbind, deliver_sm)."""
    klass = request.requireAck
    if klass is op.DeliverSMResp:
        return klass(seqNum=request.seqNum, message_id=None)
    return klass(seqNum=request.seqNum)


def generic_nack(seq: int, code: int) -> Any:
    return op.GenericNack(seqNum=seq, status=getattr(
        t.CommandStatus, constants.command_status_value_map[code]["name"]))


def is_receipt(pdu: Any) -> bool:
    esm = pdu.params.get("esm_class")
    return bool(pdu.params.get("receipted_message_id")) or (
        esm is not None and esm.type == t.EsmClassType.SMSC_DELIVERY_RECEIPT)


def message_state(pdu: Any) -> int | None:
    state = pdu.params.get("message_state")
    if state is None:
        return None
    return int(constants.message_state_name_map[state.name])
