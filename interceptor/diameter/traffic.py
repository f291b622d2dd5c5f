"""Ro/Gy Credit-Control traffic as charging clients and an OCS write it, for the demo, the
tests and the benchmarks (RFC 8506; 3GPP TS 32.299, TS 32.260 for IMS voice).

``ccr(CallAttempt(...))`` is a CCR as an S-CSCF sends it; every field has a realistic
default (A=84912345678 calls B=+84987654321, CCR-Initial, IMS voice context) and None or
() leaves its AVP out. ``cca(request, ...)`` is the OCS's answer to a request's bytes.
AVPs follow the commands' ABNF order. Built with python-diameter; the relay path (agent,
codec, tap) never imports this module.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from diameter.message import Avp, Message, MessageHeader
from diameter.message.avp import AvpGrouped, AvpUtf8String

from interceptor.core import avps as a
from interceptor.diameter import codec

SubscriptionId = tuple[int, str]
"""(Subscription-Id-Type, Subscription-Id-Data)."""

OCS_HOST = "ocs1.ocs.example.net"
OCS_REALM = "ocs.example.net"

EVENT_TIME = datetime.datetime(2024, 5, 17, 10, 32, 0, tzinfo=datetime.UTC)
SERVICE_IDENTIFIER = 1000
RATING_GROUP = 100


def e164(number: str) -> tuple[SubscriptionId]:
    """``subscription_ids`` holding one END_USER_E164 Subscription-Id."""
    return ((a.END_USER_E164, number),)


@dataclass(frozen=True)
class CallAttempt:
    """One CCR's worth of facts."""

    session_id: str = "scscf1.ims.example.net;3141592653;42"
    origin_host: str = "scscf1.ims.example.net"
    origin_realm: str = "ims.example.net"
    destination_realm: str = "ocs.example.net"
    destination_host: str | None = None
    service_context: str = a.CONTEXT_IMS_VOICE
    request_type: int = a.CC_INITIAL
    request_number: int = 0
    subscription_ids: Sequence[SubscriptionId] = ((a.END_USER_E164, "84912345678"),
                                                  (a.END_USER_IMSI, "452041234567890"))
    requested_seconds: int = 60  # Requested-Service-Unit CC-Time
    used_seconds: int | None = None  # Used-Service-Unit CC-Time
    service_information: bool = True  # False: none at all, as from a PGW on Gy
    service_subscription_ids: Sequence[SubscriptionId] = ()  # inside Service-Information
    role_of_node: int | None = a.ROLE_ORIGINATING
    calling_party_address: str | None = "sip:+84912345678@ims.example.net"
    called_party_address: str | None = "tel:+84987654321"
    requested_party_address: str | None = None
    ims_charging_identifier: str | None = "4f2a-0001-icid-pcscf1"
    subscriber_role: int | None = None  # MMTel-Information/Subscriber-Role
    scscf_details: bool = True
    """The AVPs a real S-CSCF adds that detection only walks past: User-Name,
    Origin-State-Id, User-Equipment-Info and, in IMS-Information, Event-Type,
    User-Session-Id, Time-Stamps, Inter-Operator-Identifier, Access-Network-Information."""
    ims_extra_avps: Sequence[Avp] = ()  # appended to IMS-Information
    extra_avps: Sequence[Avp] = ()  # appended to the message


def text_avp(code: int, vendor_id: int, value: str) -> Avp:
    """A UTF8String AVP, whether or not python-diameter knows the code."""
    avp = AvpUtf8String(code, vendor_id)
    avp.value = value
    return avp


def grouped_avp(code: int, vendor_id: int, children: Sequence[Avp]) -> Avp:
    """A grouped AVP, whether or not python-diameter knows the code."""
    avp = AvpGrouped(code, vendor_id)
    avp.value = list(children)
    return avp


def _avp(code: int, value: object) -> Avp:
    return Avp.new(code, value=value)


def _tgpp(code: int, value: object) -> Avp:
    return Avp.new(code, a.VENDOR_3GPP, value=value)


def _subscription_id(kind: int, data: str) -> Avp:
    return _avp(a.AVP_SUBSCRIPTION_ID, [_avp(a.AVP_SUBSCRIPTION_ID_TYPE, kind),
                                        _avp(a.AVP_SUBSCRIPTION_ID_DATA, data)])


def _cc_time(code: int, seconds: int) -> Avp:
    return _avp(code, [_avp(a.AVP_CC_TIME, seconds)])


def _ims_information(call: CallAttempt) -> Avp:
    """IMS-Information in TS 32.299 order."""
    details = call.scscf_details
    children: list[Avp] = []
    if details:
        children.append(grouped_avp(a.AVP_TGPP_EVENT_TYPE, a.VENDOR_3GPP, [
            text_avp(a.AVP_TGPP_SIP_METHOD, a.VENDOR_3GPP, "INVITE")]))
    if call.role_of_node is not None:
        children.append(_tgpp(a.AVP_TGPP_ROLE_OF_NODE, call.role_of_node))
    children.append(_tgpp(a.AVP_TGPP_NODE_FUNCTIONALITY, a.NODE_S_CSCF))
    if details:
        children.append(_tgpp(a.AVP_TGPP_USER_SESSION_ID,
                              "a84b4c76e66710@pcscf1.ims.example.net"))
    if call.calling_party_address is not None:
        children.append(_tgpp(a.AVP_TGPP_CALLING_PARTY_ADDRESS, call.calling_party_address))
    if call.called_party_address is not None:
        children.append(_tgpp(a.AVP_TGPP_CALLED_PARTY_ADDRESS, call.called_party_address))
    if call.requested_party_address is not None:
        children.append(_tgpp(a.AVP_TGPP_REQUESTED_PARTY_ADDRESS,
                              call.requested_party_address))
    if details:
        children += [
            _tgpp(a.AVP_TGPP_TIME_STAMPS, [_tgpp(a.AVP_TGPP_SIP_REQUEST_TIMESTAMP, EVENT_TIME)]),
            _tgpp(a.AVP_TGPP_INTER_OPERATOR_IDENTIFIER, [
                _tgpp(a.AVP_TGPP_ORIGINATING_IOI, "ims.example.net"),
                _tgpp(a.AVP_TGPP_TERMINATING_IOI, "ims.example.net"),
            ]),
        ]
    if call.ims_charging_identifier is not None:
        children.append(_tgpp(a.AVP_TGPP_IMS_CHARGING_IDENTIFIER,
                              call.ims_charging_identifier))
    if details:
        children.append(_tgpp(a.AVP_TGPP_ACCESS_NETWORK_INFORMATION,
                              "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=45204000a1b2c3d4"))
    children += call.ims_extra_avps
    return _tgpp(a.AVP_TGPP_IMS_INFORMATION, children)


def _service_information(call: CallAttempt) -> Avp:
    children = [_subscription_id(kind, data) for kind, data in call.service_subscription_ids]
    children.append(_ims_information(call))
    if call.subscriber_role is not None:
        children.append(_tgpp(a.AVP_TGPP_MMTEL_INFORMATION,
                              [_tgpp(a.AVP_TGPP_SUBSCRIBER_ROLE, call.subscriber_role)]))
    return _tgpp(a.AVP_TGPP_SERVICE_INFORMATION, children)


def ccr(call: CallAttempt, hop_by_hop: int = 1, end_to_end: int = 1) -> bytes:
    """The Credit-Control-Request for ``call`` (RFC 8506 §3.1 order, Service-Information
    last before ``extra_avps``)."""
    details = call.scscf_details
    avps = [
        _avp(a.AVP_SESSION_ID, call.session_id),
        _avp(a.AVP_ORIGIN_HOST, call.origin_host.encode()),
        _avp(a.AVP_ORIGIN_REALM, call.origin_realm.encode()),
        _avp(a.AVP_DESTINATION_REALM, call.destination_realm.encode()),
        _avp(a.AVP_AUTH_APPLICATION_ID, a.APPLICATION_CREDIT_CONTROL),
        _avp(a.AVP_SERVICE_CONTEXT_ID, call.service_context),
        _avp(a.AVP_CC_REQUEST_TYPE, call.request_type),
        _avp(a.AVP_CC_REQUEST_NUMBER, call.request_number),
    ]
    if call.destination_host is not None:
        avps.append(_avp(a.AVP_DESTINATION_HOST, call.destination_host.encode()))
    if details:
        avps += [_avp(a.AVP_USER_NAME, "84912345678@ims.example.net"),
                 _avp(a.AVP_ORIGIN_STATE_ID, 1715941920)]
    avps.append(_avp(a.AVP_EVENT_TIMESTAMP, EVENT_TIME))
    avps += [_subscription_id(kind, data) for kind, data in call.subscription_ids]
    avps.append(_avp(a.AVP_MULTIPLE_SERVICES_INDICATOR, a.MULTIPLE_SERVICES_SUPPORTED))
    mscc = [_cc_time(a.AVP_REQUESTED_SERVICE_UNIT, call.requested_seconds)]
    if call.used_seconds is not None:
        mscc.append(_cc_time(a.AVP_USED_SERVICE_UNIT, call.used_seconds))
    mscc += [_avp(a.AVP_SERVICE_IDENTIFIER, SERVICE_IDENTIFIER),
             _avp(a.AVP_RATING_GROUP, RATING_GROUP)]
    avps.append(_avp(a.AVP_MULTIPLE_SERVICES_CREDIT_CONTROL, mscc))
    if details:
        avps.append(_avp(a.AVP_USER_EQUIPMENT_INFO, [
            _avp(a.AVP_USER_EQUIPMENT_INFO_TYPE, a.USER_EQUIPMENT_IMEISV),
            _avp(a.AVP_USER_EQUIPMENT_INFO_VALUE, b"3534900698733190"),
        ]))
    if call.service_information:
        avps.append(_service_information(call))
    avps += call.extra_avps
    header = MessageHeader(command_flags=a.FLAG_REQUEST | a.FLAG_PROXIABLE,
                           command_code=a.CMD_CREDIT_CONTROL,
                           application_id=a.APPLICATION_CREDIT_CONTROL,
                           hop_by_hop_identifier=hop_by_hop, end_to_end_identifier=end_to_end)
    return bytes(Message(header, avps).as_bytes())


def _unsigned32(request: bytes, code: int, default: int) -> int:
    span = codec.find_avp(request, code)
    value = codec.unsigned32(request, span) if span is not None else None
    return default if value is None else value


def cca(request: bytes, origin_host: str = OCS_HOST, origin_realm: str = OCS_REALM,
        result_code: int | None = a.SUCCESS, *,
        mscc_result_codes: Sequence[int | None] | None = None,
        granted_seconds: int = 60, validity_time: int | None = None,
        experimental_result: tuple[int, int] | None = None,
        extra_avps: Sequence[Avp] = ()) -> bytes:
    """The OCS's Credit-Control-Answer to ``request`` (RFC 8506 §3.2 order): its ids,
    Session-Id, CC-Request-Type and -Number; ``result_code`` at the top level (None:
    absent).

    ``mscc_result_codes``: one Multiple-Services-Credit-Control per entry, with that
    Result-Code (None: without one); None: one without Result-Code on a success, none
    otherwise. An MSCC whose own (else the top-level) code is a success grants
    ``granted_seconds`` of CC-Time, valid for ``validity_time`` when given.
    ``experimental_result`` is (Vendor-Id, Experimental-Result-Code)."""
    header = codec.parse_header(request)
    session = codec.find_avp(request, a.AVP_SESSION_ID)
    avps = [_avp(a.AVP_SESSION_ID, session.value(request).decode() if session else "none")]
    if result_code is not None:
        avps.append(_avp(a.AVP_RESULT_CODE, result_code))
    avps += [
        _avp(a.AVP_ORIGIN_HOST, origin_host.encode()),
        _avp(a.AVP_ORIGIN_REALM, origin_realm.encode()),
        _avp(a.AVP_AUTH_APPLICATION_ID, a.APPLICATION_CREDIT_CONTROL),
        _avp(a.AVP_CC_REQUEST_TYPE, _unsigned32(request, a.AVP_CC_REQUEST_TYPE, a.CC_INITIAL)),
        _avp(a.AVP_CC_REQUEST_NUMBER, _unsigned32(request, a.AVP_CC_REQUEST_NUMBER, 0)),
    ]
    if mscc_result_codes is None:
        mscc_result_codes = [None] if result_code == a.SUCCESS else []
    for index, code in enumerate(mscc_result_codes):
        mscc = []
        if (code or result_code) == a.SUCCESS:
            mscc.append(_cc_time(a.AVP_GRANTED_SERVICE_UNIT, granted_seconds))
        mscc.append(_avp(a.AVP_RATING_GROUP, RATING_GROUP + index))
        if validity_time is not None:
            mscc.append(_avp(a.AVP_VALIDITY_TIME, validity_time))
        if code is not None:
            mscc.append(_avp(a.AVP_RESULT_CODE, code))
        avps.append(_avp(a.AVP_MULTIPLE_SERVICES_CREDIT_CONTROL, mscc))
    if experimental_result is not None:
        vendor_id, experimental_code = experimental_result
        avps.append(_avp(a.AVP_EXPERIMENTAL_RESULT, [
            _avp(a.AVP_VENDOR_ID, vendor_id),
            _avp(a.AVP_EXPERIMENTAL_RESULT_CODE, experimental_code),
        ]))
    avps += extra_avps
    answer = MessageHeader(command_flags=header.flags & a.FLAG_PROXIABLE,
                           command_code=header.command_code,
                           application_id=header.application_id,
                           hop_by_hop_identifier=header.hop_by_hop,
                           end_to_end_identifier=header.end_to_end)
    return bytes(Message(answer, avps).as_bytes())
