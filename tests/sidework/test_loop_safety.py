"""A CCR that our own beep caused (its IMS-Charging-Identifier carries our ICID prefix)
is recognised, so it can never produce another beep."""

from __future__ import annotations

from interceptor.demo.traffic import VENDOR_3GPP, CallAttempt, ccr
from interceptor.diameter import codec
from interceptor.diameter.avpwalk import ims_charging_identifier
from interceptor.sip import is_beep_charging_id


def _with_icid(icid: bytes) -> bytes:
    """A CCR whose Service-Information/IMS-Information carries ``icid``."""
    base = ccr(CallAttempt("loop;1", "scscf.test", "ims.test", "ocs.test"))
    span = codec.find_avp(base, 873, VENDOR_3GPP)
    assert span is not None
    ims_information = codec.encode_avp(876, codec.encode_avp(841, icid, vendor_id=VENDOR_3GPP)
                                       + base[span.data_start + 12:span.data_end],
                                       vendor_id=VENDOR_3GPP)
    service_information = codec.encode_avp(873, ims_information, vendor_id=VENDOR_3GPP)
    message = base[:span.start] + service_information + base[span.end:]
    return (len(message) | (1 << 24)).to_bytes(4, "big") + message[4:]


def test_our_beeps_charging_identifier_is_found_and_recognised() -> None:
    request = _with_icid(b"beepcall-7f3a9c")
    assert ims_charging_identifier(request) == b"beepcall-7f3a9c"
    assert is_beep_charging_id(ims_charging_identifier(request))


def test_ordinary_calls_are_not_mistaken_for_beeps() -> None:
    assert not is_beep_charging_id(ims_charging_identifier(_with_icid(b"scscf-123")))
    no_icid = ccr(CallAttempt("plain;1", "scscf.test", "ims.test", "ocs.test"))
    assert ims_charging_identifier(no_icid) is None
    assert not is_beep_charging_id(ims_charging_identifier(no_icid))
