"""A CCR that our own beep caused (its IMS-Charging-Identifier carries our ICID prefix)
is recognised, so it can never produce another beep."""

from __future__ import annotations

from interceptor.diameter.avpwalk import ims_charging_identifier
from interceptor.diameter.traffic import CallAttempt, ccr
from interceptor.sip import is_beep_charging_id


def _with_icid(icid: bytes) -> bytes:
    """A CCR whose Service-Information/IMS-Information carries ``icid``."""
    return ccr(CallAttempt("loop;1", "scscf.test", "ims.test", "ocs.test",
                           ims_charging_identifier=icid.decode()))


def test_our_beeps_charging_identifier_is_found_and_recognised() -> None:
    request = _with_icid(b"beepcall-7f3a9c")
    assert ims_charging_identifier(request) == b"beepcall-7f3a9c"
    assert is_beep_charging_id(ims_charging_identifier(request))


def test_ordinary_calls_are_not_mistaken_for_beeps() -> None:
    assert not is_beep_charging_id(ims_charging_identifier(_with_icid(b"scscf-123")))
    no_icid = ccr(CallAttempt("plain;1", "scscf.test", "ims.test", "ocs.test",
                              ims_charging_identifier=None))
    assert ims_charging_identifier(no_icid) is None
    assert not is_beep_charging_id(ims_charging_identifier(no_icid))
