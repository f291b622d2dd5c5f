"""Pre-encoded Diameter templates for the C generator and stub, built with python-diameter.

The C programs only patch identifiers into these bytes: hop-by-hop and end-to-end ids in
every message, the decimal counter inside the CCR's Session-Id, and (in the stub) the
Session-Id AVP copied from the request into the CCA.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from diameter.message import Message, MessageHeader
from diameter.message.avp import Avp

VENDOR_3GPP = 10415
APPLICATION_CREDIT_CONTROL = 4
FLAG_REQUEST = 0x80
FLAG_PROXIABLE = 0x40

CMD_CAPABILITIES_EXCHANGE = 257
CMD_CREDIT_CONTROL = 272
CMD_DEVICE_WATCHDOG = 280
CMD_DISCONNECT_PEER = 282

RESULT_SUCCESS = 2001
RESULT_CREDIT_LIMIT_REACHED = 4012

SESSION_COUNTER_WIDTH = 10


@dataclass(frozen=True)
class Identity:
    origin_host: str
    origin_realm: str
    product_name: str


CLIENT = Identity("bench-client.test", "bench.test", "beepcall-bench-generator")
OCS = Identity("ocs-stub.ocs.test", "ocs.test", "beepcall-bench-ocs-stub")
DESTINATION_REALM = "ocs.test"


@dataclass(frozen=True)
class Templates:
    directory: Path
    ccr_length: int
    session_counter_offset: int
    session_counter_width: int


def _avp(code: int, value: object, vendor: int = 0) -> Avp:
    return Avp.new(code, vendor, value=value)


def _message(command: int, flags: int, application_id: int, avps: list[Avp]) -> bytes:
    header = MessageHeader(command_flags=flags, command_code=command,
                           application_id=application_id, hop_by_hop_identifier=1,
                           end_to_end_identifier=1)
    return Message(header, avps).as_bytes()


def _origin(identity: Identity) -> list[Avp]:
    return [_avp(264, identity.origin_host.encode()), _avp(296, identity.origin_realm.encode())]


def capabilities_exchange(identity: Identity, *, answer: bool) -> bytes:
    avps = [_avp(268, RESULT_SUCCESS)] if answer else []
    avps += [
        *_origin(identity),
        _avp(257, "127.0.0.1"),            # Host-IP-Address
        _avp(266, 0),                      # Vendor-Id
        _avp(269, identity.product_name),  # Product-Name
        _avp(265, VENDOR_3GPP),            # Supported-Vendor-Id
        _avp(258, APPLICATION_CREDIT_CONTROL),
        _avp(267, 1),                      # Firmware-Revision
    ]
    return _message(CMD_CAPABILITIES_EXCHANGE, 0 if answer else FLAG_REQUEST, 0, avps)


def watchdog_answer(identity: Identity) -> bytes:
    return _message(CMD_DEVICE_WATCHDOG, 0, 0, [_avp(268, RESULT_SUCCESS), *_origin(identity)])


def disconnect_answer(identity: Identity) -> bytes:
    return _message(CMD_DISCONNECT_PEER, 0, 0, [_avp(268, RESULT_SUCCESS), *_origin(identity)])


def disconnect_request(identity: Identity) -> bytes:
    return _message(CMD_DISCONNECT_PEER, FLAG_REQUEST, 0,
                    [*_origin(identity), _avp(273, 0)])  # Disconnect-Cause REBOOTING


def session_id(counter_placeholder: str, run_tag: int) -> str:
    return f"{CLIENT.origin_host};{run_tag % 10**8:08d};{counter_placeholder}"


def credit_control_request(session: str) -> bytes:
    """A CCR-Initial for an IMS voice call, about 390 bytes."""
    ims_information = _avp(876, [
        _avp(829, 0, VENDOR_3GPP),                   # Role-Of-Node: ORIGINATING_ROLE
        _avp(831, "tel:+84912345678", VENDOR_3GPP),  # Calling-Party-Address
        _avp(832, "tel:+84987654321", VENDOR_3GPP),  # Called-Party-Address
    ], VENDOR_3GPP)
    avps = [
        _avp(263, session),                                  # Session-Id
        *_origin(CLIENT),
        _avp(283, DESTINATION_REALM.encode()),               # Destination-Realm
        _avp(258, APPLICATION_CREDIT_CONTROL),
        _avp(461, "32260@3gpp.org"),                         # Service-Context-Id
        _avp(416, 1),                                        # CC-Request-Type INITIAL
        _avp(415, 0),                                        # CC-Request-Number
        _avp(55, datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)),  # Event-Timestamp
        _avp(443, [_avp(450, 0), _avp(444, "84912345678")]),  # Subscription-Id E164
        _avp(455, 1),                                        # Multiple-Services-Indicator
        _avp(456, [                                          # Multiple-Services-CC
            _avp(437, [_avp(420, 600)]),                     # Requested-Service-Unit
            _avp(432, 100),                                  # Rating-Group
        ]),
        _avp(873, [ims_information], VENDOR_3GPP),           # Service-Information
    ]
    return _message(CMD_CREDIT_CONTROL, FLAG_REQUEST | FLAG_PROXIABLE,
                    APPLICATION_CREDIT_CONTROL, avps)


def credit_control_answer(result_code: int) -> bytes:
    """A CCA-Initial; the stub replaces its Session-Id (first AVP) with the request's."""
    avps = [
        _avp(263, f"{CLIENT.origin_host};0;0"),
        _avp(268, result_code),
        *_origin(OCS),
        _avp(258, APPLICATION_CREDIT_CONTROL),
        _avp(416, 1),
        _avp(415, 0),
    ]
    if result_code == RESULT_SUCCESS:
        avps.append(_avp(456, [
            _avp(431, [_avp(420, 600)]),  # Granted-Service-Unit CC-Time
            _avp(432, 100),               # Rating-Group
            _avp(448, 3600),              # Validity-Time
            _avp(268, RESULT_SUCCESS),
        ]))
    return _message(CMD_CREDIT_CONTROL, FLAG_PROXIABLE, APPLICATION_CREDIT_CONTROL, avps)


def write_templates(directory: Path, run_tag: int) -> Templates:
    """Write every template the generator and stub load; return where the CCR counter is."""
    directory.mkdir(parents=True, exist_ok=True)
    placeholder = "0" * SESSION_COUNTER_WIDTH
    ccr = credit_control_request(session_id(placeholder, run_tag))
    session_avp_value = 20 + 8  # header, then the Session-Id AVP header (no vendor id)
    counter_offset = ccr.index(placeholder.encode(), session_avp_value)
    files = {
        "gen_cer.bin": capabilities_exchange(CLIENT, answer=False),
        "gen_ccr.bin": ccr,
        "gen_dwa.bin": watchdog_answer(CLIENT),
        "gen_dpa.bin": disconnect_answer(CLIENT),
        "gen_dpr.bin": disconnect_request(CLIENT),
        "stub_cea.bin": capabilities_exchange(OCS, answer=True),
        "stub_dwa.bin": watchdog_answer(OCS),
        "stub_dpa.bin": disconnect_answer(OCS),
        "stub_cca.bin": credit_control_answer(RESULT_SUCCESS),
        "stub_cca_4012.bin": credit_control_answer(RESULT_CREDIT_LIMIT_REACHED),
    }
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return Templates(directory=directory, ccr_length=len(ccr),
                     session_counter_offset=counter_offset,
                     session_counter_width=SESSION_COUNTER_WIDTH)
