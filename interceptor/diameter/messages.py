"""The agent's own messages (CER/CEA, DWR/DWA, DPR/DPA, error answers), built with
python-diameter. Relayed messages never pass through here.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass

from diameter.message import Avp, Message, MessageHeader

from interceptor.core import avps
from interceptor.diameter import codec
from interceptor.diameter.codec import AvpSpan, Header
from interceptor.diameter.config import AgentIdentity

# AVPs copied from a request into an error answer so the client can correlate it:
# Proxy-Info must be (RFC 6733 §6.2); the DCCA ones let a CTF match a CCA to its CCR.
_COPIED_INTO_ERRORS = (avps.AVP_PROXY_INFO, avps.AVP_AUTH_APPLICATION_ID,
                       avps.AVP_CC_REQUEST_TYPE, avps.AVP_CC_REQUEST_NUMBER)

_U32 = struct.Struct("!I")


def _is_protocol_error(result: int) -> bool:
    return 3000 <= result < 4000


class IdentifierSource:
    """Hop-by-hop and end-to-end identifiers for messages this agent originates.

    End-to-end ids follow RFC 6733 §3: high 12 bits from the start time, low 20 random.
    """

    def __init__(self, start_time: float, seed: int) -> None:
        self._hop_by_hop = itertools.count(seed & 0xFFFFFFFF)
        self._end_to_end = itertools.count(((int(start_time) & 0xFFF) << 20)
                                           | (seed & 0xFFFFF))

    def next_hop_by_hop(self) -> int:
        return next(self._hop_by_hop) & 0xFFFFFFFF

    def next_end_to_end(self) -> int:
        return next(self._end_to_end) & 0xFFFFFFFF


class MessageFactory:
    """Builds the agent's own messages for one local identity."""

    def __init__(self, identity: AgentIdentity, ids: IdentifierSource) -> None:
        self.identity = identity
        self.ids = ids
        self._origin = [
            Avp.new(avps.AVP_ORIGIN_HOST, value=identity.origin_host.encode()),
            Avp.new(avps.AVP_ORIGIN_REALM, value=identity.origin_realm.encode()),
        ]

    # -- requests --------------------------------------------------------------------

    def _request(self, command_code: int, message_avps: list[Avp]) -> bytes:
        header = MessageHeader(command_flags=avps.FLAG_REQUEST, command_code=command_code,
                               hop_by_hop_identifier=self.ids.next_hop_by_hop(),
                               end_to_end_identifier=self.ids.next_end_to_end())
        return bytes(Message(header, [*self._origin, *message_avps]).as_bytes())

    def capabilities(self) -> list[Avp]:
        identity = self.identity
        message_avps = [Avp.new(avps.AVP_HOST_IP_ADDRESS, value=address)
                        for address in identity.host_ip_addresses]
        message_avps.append(Avp.new(avps.AVP_VENDOR_ID, value=identity.vendor_id))
        message_avps.append(Avp.new(avps.AVP_PRODUCT_NAME, value=identity.product_name))
        message_avps.extend(Avp.new(avps.AVP_AUTH_APPLICATION_ID, value=application_id)
                            for application_id in identity.auth_application_ids)
        if identity.advertise_relay:  # RFC 6733 §2.4: the Relay Application Id
            message_avps.append(Avp.new(avps.AVP_AUTH_APPLICATION_ID,
                                        value=avps.APPLICATION_RELAY))
        message_avps.append(Avp.new(avps.AVP_FIRMWARE_REVISION,
                                    value=identity.firmware_revision))
        return message_avps

    def cer(self) -> bytes:
        return self._request(avps.CMD_CAPABILITIES_EXCHANGE, self.capabilities())

    def dwr(self) -> bytes:
        return self._request(avps.CMD_DEVICE_WATCHDOG, [])

    def dpr(self, cause: int = avps.DISCONNECT_REBOOTING) -> bytes:
        return self._request(avps.CMD_DISCONNECT_PEER,
                             [Avp.new(avps.AVP_DISCONNECT_CAUSE, value=cause)])

    # -- answers ---------------------------------------------------------------------

    def _answer_header(self, request: Header, result: int) -> MessageHeader:
        flags = request.flags & avps.FLAG_PROXIABLE
        if _is_protocol_error(result):
            flags |= avps.FLAG_ERROR
        return MessageHeader(command_flags=flags, command_code=request.command_code,
                             application_id=request.application_id,
                             hop_by_hop_identifier=request.hop_by_hop,
                             end_to_end_identifier=request.end_to_end)

    def cea(self, request: Header, result: int = avps.SUCCESS,
            error_message: str | None = None) -> bytes:
        message_avps = [Avp.new(avps.AVP_RESULT_CODE, value=result), *self._origin,
                        *self.capabilities()]
        if error_message:
            message_avps.append(Avp.new(avps.AVP_ERROR_MESSAGE, value=error_message))
        return bytes(Message(self._answer_header(request, result), message_avps).as_bytes())

    def dwa(self, request: Header) -> bytes:
        return self._success_answer(request)

    def dpa(self, request: Header) -> bytes:
        return self._success_answer(request)

    def _success_answer(self, request: Header) -> bytes:
        message_avps = [Avp.new(avps.AVP_RESULT_CODE, value=avps.SUCCESS), *self._origin]
        return bytes(Message(self._answer_header(request, avps.SUCCESS),
                             message_avps).as_bytes())

    def error_answer(self, request: bytes, result: int, error_message: str,
                     failed_avp: bytes | None = None,
                     spans: list[AvpSpan] | None = None) -> bytes:
        """An answer to ``request`` carrying ``result`` (RFC 6733 §7.2 layout).

        Session-Id first, then Origin-Host/Realm, Result-Code, Error-Message and
        Error-Reporting-Host; Proxy-Info and the DCCA correlation AVPs are copied as
        received. ``spans`` are the request's top-level AVPs if they could be walked.
        """
        header = codec.parse_header(request)
        body = Message(self._answer_header(header, result), [
            *self._origin,
            Avp.new(avps.AVP_RESULT_CODE, value=result),
            Avp.new(avps.AVP_ERROR_MESSAGE, value=error_message),
            Avp.new(avps.AVP_ERROR_REPORTING_HOST, value=self.identity.origin_host.encode()),
        ]).as_bytes()
        session_id = b""
        copied: list[bytes] = []
        for span in spans or ():
            if span.vendor_id:
                continue
            if span.code == avps.AVP_SESSION_ID and not session_id:
                session_id = request[span.start:span.end]
            elif span.code in _COPIED_INTO_ERRORS:
                copied.append(request[span.start:span.end])
        if failed_avp is not None:
            copied.append(codec.encode_avp(avps.AVP_FAILED_AVP, failed_avp))
        avp_bytes = b"".join((session_id, body[avps.HEADER_LENGTH:], *copied))
        length = avps.HEADER_LENGTH + len(avp_bytes)
        return b"".join((_U32.pack((avps.VERSION << 24) | length), body[4:20], avp_bytes))


@dataclass(frozen=True)
class PeerCapabilities:
    """What a peer told us in its CER or CEA."""

    origin_host: str
    origin_realm: str
    host_ip_addresses: tuple[str, ...]
    vendor_id: int
    product_name: str
    auth_application_ids: frozenset[int]
    acct_application_ids: frozenset[int]
    result_code: int | None

    def shares_application(self, identity: AgentIdentity) -> bool:
        theirs = self.auth_application_ids | self.acct_application_ids
        if avps.APPLICATION_RELAY in theirs or identity.advertise_relay:
            return True
        return bool(theirs & set(identity.auth_application_ids))


class CapabilitiesError(Exception):
    def __init__(self, result: int, message: str) -> None:
        super().__init__(message)
        self.result = result


def parse_capabilities(message: bytes) -> PeerCapabilities:
    """Read a CER/CEA (raw bytes). Raises CapabilitiesError with the result code to send."""
    origin_host = origin_realm = product_name = None
    vendor_id = 0
    result: int | None = None
    addresses: list[str] = []
    auth: set[int] = set()
    acct: set[int] = set()
    try:
        for span in codec.iter_avps(message, avps.HEADER_LENGTH, len(message)):
            if span.vendor_id:
                continue
            value = message[span.data_start:span.data_end]
            code = span.code
            if code == avps.AVP_ORIGIN_HOST:
                origin_host = value.decode("utf-8")
            elif code == avps.AVP_ORIGIN_REALM:
                origin_realm = value.decode("utf-8")
            elif code == avps.AVP_PRODUCT_NAME:
                product_name = value.decode("utf-8", "replace")
            elif code == avps.AVP_VENDOR_ID and len(value) == 4:
                vendor_id = _U32.unpack(value)[0]
            elif code == avps.AVP_RESULT_CODE and len(value) == 4:
                result = _U32.unpack(value)[0]
            elif code == avps.AVP_HOST_IP_ADDRESS:
                addresses.append(_address_text(value))
            elif code == avps.AVP_AUTH_APPLICATION_ID and len(value) == 4:
                auth.add(_U32.unpack(value)[0])
            elif code == avps.AVP_ACCT_APPLICATION_ID and len(value) == 4:
                acct.add(_U32.unpack(value)[0])
            elif code == avps.AVP_VENDOR_SPECIFIC_APPLICATION_ID:
                for inner in codec.iter_avps(message, span.data_start, span.data_end):
                    inner_value = message[inner.data_start:inner.data_end]
                    if len(inner_value) != 4:
                        continue
                    if inner.code == avps.AVP_AUTH_APPLICATION_ID:
                        auth.add(_U32.unpack(inner_value)[0])
                    elif inner.code == avps.AVP_ACCT_APPLICATION_ID:
                        acct.add(_U32.unpack(inner_value)[0])
    except codec.AvpLengthError as error:
        raise CapabilitiesError(avps.INVALID_AVP_LENGTH, error.reason) from None
    except UnicodeDecodeError:
        raise CapabilitiesError(avps.INVALID_AVP_VALUE, "identity is not UTF-8") from None
    if not origin_host:
        raise CapabilitiesError(avps.MISSING_AVP, "Origin-Host missing")
    if not origin_realm:
        raise CapabilitiesError(avps.MISSING_AVP, "Origin-Realm missing")
    return PeerCapabilities(origin_host, origin_realm, tuple(addresses), vendor_id,
                            product_name or "", frozenset(auth), frozenset(acct), result)


def _address_text(value: bytes) -> str:
    import ipaddress

    if len(value) == 6 and value[:2] == b"\x00\x01":
        return str(ipaddress.IPv4Address(value[2:]))
    if len(value) == 18 and value[:2] == b"\x00\x02":
        return str(ipaddress.IPv6Address(value[2:]))
    return value.hex()


def disconnect_cause(message: bytes) -> int | None:
    try:
        span = codec.find_avp(message, avps.AVP_DISCONNECT_CAUSE)
    except codec.AvpLengthError:
        return None
    return None if span is None else codec.unsigned32(message, span)
