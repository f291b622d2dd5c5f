"""Diameter wire format on raw bytes: header peeks, AVP walking, the edits a proxy makes.

No I/O and no python-diameter here: this is the relay's hot path. A relayed message is
never decoded and re-encoded; only the hop-by-hop id, the T flag and an appended
Route-Record change (RFC 6733 §6.1.9).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from interceptor.core.avps import (
    AVP_DESTINATION_HOST,
    AVP_DESTINATION_REALM,
    AVP_FLAG_MANDATORY,
    AVP_FLAG_VENDOR,
    AVP_RESULT_CODE,
    AVP_ROUTE_RECORD,
    FLAG_ERROR,
    FLAG_PROXIABLE,
    FLAG_REQUEST,
    FLAG_RETRANSMIT,
    HEADER_LENGTH,
    VERSION,
)

_HEADER = struct.Struct("!IIIII")
_U32 = struct.Struct("!I")
_ROUTING_AVPS = frozenset({AVP_ROUTE_RECORD, AVP_DESTINATION_REALM, AVP_DESTINATION_HOST})
_AVP_CODE_FLAGS_LENGTH = struct.Struct("!II")


class FramingError(Exception):
    """The stream cannot be trusted any more: the connection must be closed."""


@dataclass(frozen=True, slots=True)
class Header:
    version: int
    length: int
    flags: int
    command_code: int
    application_id: int
    hop_by_hop: int
    end_to_end: int

    @property
    def is_request(self) -> bool:
        return bool(self.flags & FLAG_REQUEST)

    @property
    def is_proxiable(self) -> bool:
        return bool(self.flags & FLAG_PROXIABLE)

    @property
    def is_error(self) -> bool:
        return bool(self.flags & FLAG_ERROR)


def parse_header(data: bytes | bytearray | memoryview, offset: int = 0) -> Header:
    word0, word1, application_id, hop_by_hop, end_to_end = _HEADER.unpack_from(data, offset)
    return Header(word0 >> 24, word0 & 0xFFFFFF, word1 >> 24, word1 & 0xFFFFFF,
                  application_id, hop_by_hop, end_to_end)


class AvpSpan(NamedTuple):
    """Where one AVP sits in a buffer: header at ``start``, data in [data_start, data_end)."""

    code: int
    flags: int
    vendor_id: int
    start: int
    data_start: int
    data_end: int

    @property
    def end(self) -> int:
        """Offset just past the AVP including its padding."""
        return self.data_end + (-self.data_end & 3)

    def value(self, data: bytes) -> bytes:
        return bytes(data[self.data_start:self.data_end])


class AvpLengthError(Exception):
    """An AVP header claims a length that is too small or overruns its container."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


def iter_avps(data: bytes | memoryview, start: int, end: int) -> Iterator[AvpSpan]:
    """Walk the AVPs in ``data[start:end]`` (a message body or a grouped AVP's data).

    Raises AvpLengthError at the first AVP whose length cannot be right.
    """
    offset = start
    unpack = _AVP_CODE_FLAGS_LENGTH.unpack_from
    while offset < end:
        if end - offset < 8:
            raise AvpLengthError(offset, "truncated AVP header")
        code, flags_length = unpack(data, offset)
        flags = flags_length >> 24
        length = flags_length & 0xFFFFFF
        if flags & AVP_FLAG_VENDOR:
            if length < 12 or end - offset < 12:
                raise AvpLengthError(offset, f"AVP {code} length {length} below 12")
            vendor_id = _U32.unpack_from(data, offset + 8)[0]
            data_start = offset + 12
        else:
            if length < 8:
                raise AvpLengthError(offset, f"AVP {code} length {length} below 8")
            vendor_id = 0
            data_start = offset + 8
        data_end = offset + length
        if data_end > end:
            raise AvpLengthError(offset, f"AVP {code} length {length} overruns the message")
        yield AvpSpan(code, flags, vendor_id, offset, data_start, data_end)
        offset = data_end + (-data_end & 3)


def find_avp(data: bytes, code: int, vendor_id: int = 0, start: int = HEADER_LENGTH,
             end: int | None = None) -> AvpSpan | None:
    for span in iter_avps(data, start, len(data) if end is None else end):
        if span.code == code and span.vendor_id == vendor_id:
            return span
    return None


def encode_avp(code: int, value: bytes, *, mandatory: bool = True,
               vendor_id: int = 0) -> bytes:
    """Encode one AVP from its raw data (padding added)."""
    flags = AVP_FLAG_MANDATORY if mandatory else 0
    if vendor_id:
        flags |= AVP_FLAG_VENDOR
        header = struct.pack("!III", code, (flags << 24) | (12 + len(value)), vendor_id)
    else:
        header = struct.pack("!II", code, (flags << 24) | (8 + len(value)))
    return header + value + b"\x00" * (-len(value) & 3)


def with_hop_by_hop(message: bytes, hop_by_hop: int) -> bytes:
    """The same message with another hop-by-hop identifier (answers going back)."""
    return b"".join((message[:12], _U32.pack(hop_by_hop), message[16:]))


def relayed_request(message: bytes, hop_by_hop: int, route_record: bytes,
                    retransmit: bool = False) -> bytes:
    """The request as a proxy forwards it: new hop-by-hop, Route-Record appended.

    ``route_record`` is a pre-encoded Route-Record AVP. Every other byte is the original.
    """
    length = len(message) + len(route_record)
    flags_code = _U32.unpack_from(message, 4)[0]
    if retransmit:
        flags_code |= FLAG_RETRANSMIT << 24
    return b"".join((
        _HEADER.pack((VERSION << 24) | length, flags_code,
                     _U32.unpack_from(message, 8)[0], hop_by_hop,
                     _U32.unpack_from(message, 16)[0]),
        message[HEADER_LENGTH:],
        route_record,
    ))


def set_retransmit(message: bytes) -> bytes:
    """The same request with the T flag set (failover re-send, RFC 6733 §5.5.4)."""
    return b"".join((message[:4], bytes((message[4] | FLAG_RETRANSMIT,)), message[5:]))


def diameter_identity_avp(code: int, identity: str) -> bytes:
    return encode_avp(code, identity.encode("utf-8"))


def result_code(data: bytes) -> int | None:
    """Top-level Result-Code of an answer, or None."""
    span = find_avp(data, AVP_RESULT_CODE)
    if span is None or span.data_end - span.data_start != 4:
        return None
    return int(_U32.unpack_from(data, span.data_start)[0])


def unsigned32(data: bytes, span: AvpSpan) -> int | None:
    if span.data_end - span.data_start != 4:
        return None
    return int(_U32.unpack_from(data, span.data_start)[0])


def routing_avps(message: bytes, own_identity: bytes) -> tuple[bytes | None, bytes | None, bool]:
    """The hot-path scan of a request: (Destination-Host, Destination-Realm, loop).

    ``loop`` is true when a Route-Record already names ``own_identity`` (RFC 6733
    §6.1.3). Walks every top-level AVP so that a bad length anywhere is found before
    the request is forwarded; raises AvpLengthError for it.
    """
    destination_host = destination_realm = None
    loop = False
    offset = HEADER_LENGTH
    end = len(message)
    unpack = _AVP_CODE_FLAGS_LENGTH.unpack_from
    while offset < end:
        if end - offset < 8:
            raise AvpLengthError(offset, "truncated AVP header")
        code, flags_length = unpack(message, offset)
        length = flags_length & 0xFFFFFF
        next_offset = offset + length
        if length < 8 or next_offset > end:
            raise AvpLengthError(offset, f"AVP {code} has an invalid length {length}")
        if flags_length & 0x80000000:
            if length < 12:
                raise AvpLengthError(offset, f"AVP {code} has an invalid length {length}")
        elif code in _ROUTING_AVPS:
            if code == AVP_ROUTE_RECORD:
                if message[offset + 8:next_offset].lower() == own_identity:
                    loop = True
            elif code == AVP_DESTINATION_REALM:
                destination_realm = message[offset + 8:next_offset]
            else:
                destination_host = message[offset + 8:next_offset]
        offset = next_offset + (-next_offset & 3)
    return destination_host, destination_realm, loop
