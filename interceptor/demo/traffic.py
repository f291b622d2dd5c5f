"""Credit-Control traffic as charging clients and an OCS write it (TS 32.299 shapes).

Used by the demo peers, the tests and the benchmark; built with python-diameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from diameter.message import Avp, Message, MessageHeader
from diameter.message import constants as c

from interceptor.core.avps import (
    AVP_CC_REQUEST_NUMBER,
    AVP_CC_REQUEST_TYPE,
    AVP_SESSION_ID,
    CMD_CREDIT_CONTROL,
    FLAG_PROXIABLE,
    FLAG_REQUEST,
)
from interceptor.diameter import codec

VENDOR_3GPP = 10415
CONTEXT_IMS_VOICE = "32260@3gpp.org"
CONTEXT_MMTEL = "32275@3gpp.org"
CONTEXT_GY_DATA = "32251@3gpp.org"

INITIAL, UPDATE, TERMINATE, EVENT = 1, 2, 3, 4
END_USER_E164 = 0

SUCCESS = 2001
CREDIT_CONTROL_NOT_APPLICABLE = 4011
CREDIT_LIMIT_REACHED = 4012


@dataclass
class CallAttempt:
    """One CCR's worth of facts."""

    session_id: str
    origin_host: str
    origin_realm: str
    destination_realm: str
    caller: str | None = "84912345678"
    calling_party_address: str | None = "tel:+84912345678"
    called_party_address: str | None = "tel:+84987654321"
    requested_party_address: str | None = None
    context: str = CONTEXT_IMS_VOICE
    request_type: int = INITIAL
    request_number: int = 0
    destination_host: str | None = None
    used_seconds: int | None = None
    extra_avps: list[Avp] = field(default_factory=list)


def _avp(code: int, value: object, vendor: int = 0) -> Avp:
    return Avp.new(code, vendor, value=value)


def ccr(attempt: CallAttempt, hop_by_hop: int = 1, end_to_end: int = 1) -> bytes:
    """A CCR with Subscription-Id, IMS-Information and an MSCC, as a CSCF sends it."""
    header = MessageHeader(command_flags=FLAG_REQUEST | FLAG_PROXIABLE,
                           command_code=CMD_CREDIT_CONTROL, application_id=4,
                           hop_by_hop_identifier=hop_by_hop,
                           end_to_end_identifier=end_to_end)
    avps = [
        _avp(c.AVP_SESSION_ID, attempt.session_id),
        _avp(c.AVP_ORIGIN_HOST, attempt.origin_host.encode()),
        _avp(c.AVP_ORIGIN_REALM, attempt.origin_realm.encode()),
        _avp(c.AVP_DESTINATION_REALM, attempt.destination_realm.encode()),
        _avp(c.AVP_AUTH_APPLICATION_ID, 4),
        _avp(c.AVP_SERVICE_CONTEXT_ID, attempt.context),
        _avp(c.AVP_CC_REQUEST_TYPE, attempt.request_type),
        _avp(c.AVP_CC_REQUEST_NUMBER, attempt.request_number),
    ]
    if attempt.destination_host:
        avps.append(_avp(c.AVP_DESTINATION_HOST, attempt.destination_host.encode()))
    if attempt.caller:
        avps.append(_avp(c.AVP_SUBSCRIPTION_ID, [
            _avp(c.AVP_SUBSCRIPTION_ID_TYPE, END_USER_E164),
            _avp(c.AVP_SUBSCRIPTION_ID_DATA, attempt.caller),
        ]))
    mscc: list[Avp] = [_avp(c.AVP_REQUESTED_SERVICE_UNIT, [_avp(c.AVP_CC_TIME, 60)])]
    if attempt.used_seconds is not None:
        mscc.append(_avp(c.AVP_USED_SERVICE_UNIT, [_avp(c.AVP_CC_TIME, attempt.used_seconds)]))
    avps.append(_avp(c.AVP_MULTIPLE_SERVICES_CREDIT_CONTROL, mscc))
    ims: list[Avp] = [_avp(c.AVP_TGPP_ROLE_OF_NODE, 0, VENDOR_3GPP),
                      _avp(c.AVP_TGPP_NODE_FUNCTIONALITY, 0, VENDOR_3GPP)]
    if attempt.calling_party_address:
        ims.append(_avp(c.AVP_TGPP_CALLING_PARTY_ADDRESS, attempt.calling_party_address,
                        VENDOR_3GPP))
    if attempt.called_party_address:
        ims.append(_avp(c.AVP_TGPP_CALLED_PARTY_ADDRESS, attempt.called_party_address,
                        VENDOR_3GPP))
    if attempt.requested_party_address:
        ims.append(_avp(c.AVP_TGPP_REQUESTED_PARTY_ADDRESS,
                        attempt.requested_party_address, VENDOR_3GPP))
    avps.append(_avp(c.AVP_TGPP_SERVICE_INFORMATION,
                     [_avp(c.AVP_TGPP_IMS_INFORMATION, ims, VENDOR_3GPP)], VENDOR_3GPP))
    avps.extend(attempt.extra_avps)
    return bytes(Message(header, avps).as_bytes())


def cca(request: bytes, origin_host: str, origin_realm: str, result: int = SUCCESS,
        mscc_result: int | None = None, granted_seconds: int = 60) -> bytes:
    """The OCS's answer to ``request``; ``mscc_result`` puts a Result-Code in the MSCC."""
    header = codec.parse_header(request)
    session = codec.find_avp(request, AVP_SESSION_ID)
    request_type = codec.find_avp(request, AVP_CC_REQUEST_TYPE)
    request_number = codec.find_avp(request, AVP_CC_REQUEST_NUMBER)
    avps = [
        _avp(c.AVP_SESSION_ID, session.value(request).decode() if session else "none"),
        _avp(c.AVP_RESULT_CODE, result),
        _avp(c.AVP_ORIGIN_HOST, origin_host.encode()),
        _avp(c.AVP_ORIGIN_REALM, origin_realm.encode()),
        _avp(c.AVP_AUTH_APPLICATION_ID, 4),
        _avp(c.AVP_CC_REQUEST_TYPE,
             codec.unsigned32(request, request_type) if request_type else INITIAL),
        _avp(c.AVP_CC_REQUEST_NUMBER,
             codec.unsigned32(request, request_number) if request_number else 0),
    ]
    mscc: list[Avp] = []
    if mscc_result is not None:
        mscc.append(_avp(c.AVP_RESULT_CODE, mscc_result))
    if (mscc_result or result) == SUCCESS:
        mscc.append(_avp(c.AVP_GRANTED_SERVICE_UNIT, [_avp(c.AVP_CC_TIME, granted_seconds)]))
    if mscc:
        avps.append(_avp(c.AVP_MULTIPLE_SERVICES_CREDIT_CONTROL, mscc))
    answer_header = MessageHeader(command_flags=header.flags & FLAG_PROXIABLE,
                                  command_code=header.command_code,
                                  application_id=header.application_id,
                                  hop_by_hop_identifier=header.hop_by_hop,
                                  end_to_end_identifier=header.end_to_end)
    return bytes(Message(answer_header, avps).as_bytes())
