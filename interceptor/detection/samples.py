"""Realistic CCR/CCA bytes built with python-diameter, for tests, benchmarks and demos.

The shapes follow what an S-CSCF / MMTel AS sends on Ro (3GPP TS 32.299, 32.260) and what
an OCS answers. Nothing on the relay path imports this module.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from diameter.message.avp import Avp, AvpGrouped, AvpUtf8String
from diameter.message.avp.grouped import RequestedServiceUnit, UserEquipmentInfo
from diameter.message.commands import CreditControlAnswer, CreditControlRequest
from diameter.message.constants import (
    AVP_EXPERIMENTAL_RESULT,
    AVP_EXPERIMENTAL_RESULT_CODE,
    AVP_MULTIPLE_SERVICES_CREDIT_CONTROL,
    AVP_RATING_GROUP,
    AVP_RESULT_CODE,
    AVP_SERVICE_IDENTIFIER,
    AVP_SUBSCRIPTION_ID,
    AVP_SUBSCRIPTION_ID_DATA,
    AVP_SUBSCRIPTION_ID_TYPE,
    AVP_TGPP_ACCESS_NETWORK_INFORMATION,
    AVP_TGPP_CALLED_PARTY_ADDRESS,
    AVP_TGPP_CALLING_PARTY_ADDRESS,
    AVP_TGPP_EVENT_TYPE,
    AVP_TGPP_IMS_CHARGING_IDENTIFIER,
    AVP_TGPP_IMS_INFORMATION,
    AVP_TGPP_INTER_OPERATOR_IDENTIFIER,
    AVP_TGPP_MMTEL_INFORMATION,
    AVP_TGPP_NODE_FUNCTIONALITY,
    AVP_TGPP_ORIGINATING_IOI,
    AVP_TGPP_REQUESTED_PARTY_ADDRESS,
    AVP_TGPP_ROLE_OF_NODE,
    AVP_TGPP_SERVICE_INFORMATION,
    AVP_TGPP_SIP_REQUEST_TIMESTAMP,
    AVP_TGPP_SUBSCRIBER_ROLE,
    AVP_TGPP_TERMINATING_IOI,
    AVP_TGPP_TIME_STAMPS,
    AVP_TGPP_USER_SESSION_ID,
    AVP_VENDOR_ID,
    VENDOR_TGPP,
)

IMS_CONTEXT = "32260@3gpp.org"
MMTEL_CONTEXT = "32275@3gpp.org"
DATA_CONTEXT = "32251@3gpp.org"
E164 = 0
IMSI = 1
SIP_METHOD_3GPP = 824
"""TS 32.299 SIP-Method (vendor 10415); python-diameter only knows RFC 4740's (393)."""

_TIMESTAMP = datetime.datetime(2024, 5, 17, 10, 32, 0, tzinfo=datetime.UTC)


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


def _tgpp(code: int, value: Any) -> Avp:
    return Avp.new(code, VENDOR_TGPP, value=value)


def subscription_id(kind: int, data: str) -> Avp:
    return Avp.new(AVP_SUBSCRIPTION_ID, value=[
        Avp.new(AVP_SUBSCRIPTION_ID_TYPE, value=kind),
        Avp.new(AVP_SUBSCRIPTION_ID_DATA, value=data),
    ])


def ims_information(*, calling: Sequence[str] = ("sip:+84912345678@ims.example.net",),
                    called: str | None = "tel:+84987654321",
                    requested: Sequence[str] = (),
                    role_of_node: int | None = 0,
                    extra: Sequence[Avp] = ()) -> Avp:
    children = [
        grouped_avp(AVP_TGPP_EVENT_TYPE, VENDOR_TGPP,
                    [text_avp(SIP_METHOD_3GPP, VENDOR_TGPP, "INVITE")]),
    ]
    if role_of_node is not None:
        children.append(_tgpp(AVP_TGPP_ROLE_OF_NODE, role_of_node))
    children += [
        _tgpp(AVP_TGPP_NODE_FUNCTIONALITY, 0),  # S-CSCF
        _tgpp(AVP_TGPP_USER_SESSION_ID, "a84b4c76e66710@pcscf1.ims.example.net"),
    ]
    children += [_tgpp(AVP_TGPP_CALLING_PARTY_ADDRESS, address) for address in calling]
    if called is not None:
        children.append(_tgpp(AVP_TGPP_CALLED_PARTY_ADDRESS, called))
    children += [_tgpp(AVP_TGPP_REQUESTED_PARTY_ADDRESS, address) for address in requested]
    children += [
        _tgpp(AVP_TGPP_TIME_STAMPS, [_tgpp(AVP_TGPP_SIP_REQUEST_TIMESTAMP, _TIMESTAMP)]),
        _tgpp(AVP_TGPP_INTER_OPERATOR_IDENTIFIER, [
            _tgpp(AVP_TGPP_ORIGINATING_IOI, "ims.example.net"),
            _tgpp(AVP_TGPP_TERMINATING_IOI, "ims.example.net"),
        ]),
        _tgpp(AVP_TGPP_IMS_CHARGING_IDENTIFIER, "4f2a-0001-icid-pcscf1"),
        _tgpp(AVP_TGPP_ACCESS_NETWORK_INFORMATION,
              "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=45204000a1b2c3d4"),
    ]
    children += extra
    return _tgpp(AVP_TGPP_IMS_INFORMATION, children)


def ccr(*, session_id: str = "scscf1.ims.example.net;3141592653;42",
        service_context: str = IMS_CONTEXT,
        request_type: int = 1,
        request_number: int = 0,
        subscription_ids: Sequence[tuple[int, str]] = ((E164, "84912345678"),
                                                       (IMSI, "452041234567890")),
        calling: Sequence[str] = ("sip:+84912345678@ims.example.net",),
        called: str | None = "tel:+84987654321",
        requested: Sequence[str] = (),
        role_of_node: int | None = 0,
        subscriber_role: int | None = None,
        service_subscription_ids: Sequence[tuple[int, str]] = (),
        ims_extra: Sequence[Avp] = (),
        service_information: bool = True,
        extra: Sequence[Avp] = ()) -> bytes:
    """A CCR as an S-CSCF sends it for a voice call (defaults: CCR-Initial, A=84912345678
    calling B=+84987654321 on the IMS context)."""
    message = CreditControlRequest()
    message.header.hop_by_hop_identifier = 0x1234
    message.header.end_to_end_identifier = 0x5678
    message.session_id = session_id
    message.origin_host = b"scscf1.ims.example.net"
    message.origin_realm = b"ims.example.net"
    message.destination_realm = b"ocs.example.net"
    message.service_context_id = service_context
    message.cc_request_type = request_type
    message.cc_request_number = request_number
    message.origin_state_id = 1715941920
    message.event_timestamp = _TIMESTAMP
    message.multiple_services_indicator = 1
    message.user_equipment_info = UserEquipmentInfo(0, b"3534900698733190")
    message.add_multiple_services_credit_control(
        requested_service_unit=RequestedServiceUnit(cc_time=0), service_identifier=1000,
        rating_group=100)
    message.append_avp(text_avp(1, 0, "84912345678@ims.example.net"))  # User-Name
    for avp in extra:
        message.append_avp(avp)
    if service_information:
        children = [subscription_id(kind, data) for kind, data in service_subscription_ids]
        children.append(ims_information(calling=calling, called=called, requested=requested,
                                        role_of_node=role_of_node, extra=ims_extra))
        if subscriber_role is not None:
            children.append(_tgpp(AVP_TGPP_MMTEL_INFORMATION,
                                  [_tgpp(AVP_TGPP_SUBSCRIBER_ROLE, subscriber_role)]))
        message.append_avp(_tgpp(AVP_TGPP_SERVICE_INFORMATION, children))
    for kind, data in subscription_ids:
        message.add_subscription_id(kind, data)
    return bytes(message.as_bytes())


def cca(*, session_id: str = "scscf1.ims.example.net;3141592653;42",
        result_code: int | None = 2001,
        mscc_result_codes: Sequence[int | None] = (),
        experimental: tuple[int, int] | None = None,
        request_type: int = 1,
        extra: Sequence[Avp] = ()) -> bytes:
    """A CCA as an OCS sends it: ``result_code`` at top level (None: absent), one MSCC per
    entry of ``mscc_result_codes`` (None: an MSCC without Result-Code), and optionally an
    Experimental-Result (vendor id, code)."""
    message = CreditControlAnswer()
    message.header.hop_by_hop_identifier = 0x1234
    message.header.end_to_end_identifier = 0x5678
    message.session_id = session_id
    message.origin_host = b"ocs1.ocs.example.net"
    message.origin_realm = b"ocs.example.net"
    message.cc_request_type = request_type
    message.cc_request_number = 0
    if result_code is not None:
        message.result_code = result_code
    for index, code in enumerate(mscc_result_codes):
        children = [Avp.new(AVP_SERVICE_IDENTIFIER, value=1000),
                    Avp.new(AVP_RATING_GROUP, value=100 + index)]
        if code is not None:
            children.append(Avp.new(AVP_RESULT_CODE, value=code))
        message.append_avp(Avp.new(AVP_MULTIPLE_SERVICES_CREDIT_CONTROL, value=children))
    if experimental is not None:
        vendor_id, code = experimental
        message.append_avp(Avp.new(AVP_EXPERIMENTAL_RESULT, value=[
            Avp.new(AVP_VENDOR_ID, value=vendor_id),
            Avp.new(AVP_EXPERIMENTAL_RESULT_CODE, value=code),
        ]))
    for avp in extra:
        message.append_avp(avp)
    return bytes(message.as_bytes())
