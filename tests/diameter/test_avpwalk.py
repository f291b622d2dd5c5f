"""The readers' AVP walks on messages python-diameter encodes (an independent encoder)."""

from __future__ import annotations

import pytest
from diameter.message import Avp

from interceptor.core import avps
from interceptor.core.avps import CC_TERMINATE as TERMINATE
from interceptor.core.avps import CC_UPDATE as UPDATE
from interceptor.diameter import avpwalk
from interceptor.diameter.codec import AvpLengthError
from interceptor.diameter.traffic import CallAttempt, cca, ccr


def _attempt(**kwargs: object) -> CallAttempt:
    return CallAttempt("walk;1", "cscf.test", "c.test", "ocs.test", **kwargs)  # type: ignore[arg-type]


def _unit(seconds: int) -> Avp:
    return Avp.new(avps.AVP_USED_SERVICE_UNIT, value=[Avp.new(avps.AVP_CC_TIME, value=seconds)])


def test_the_taps_probes_are_the_avps_a_ctf_sends() -> None:
    initial = Avp.new(avps.AVP_CC_REQUEST_TYPE, value=avps.CC_INITIAL).as_bytes()
    success = Avp.new(avps.AVP_RESULT_CODE, value=avps.SUCCESS).as_bytes()
    assert (initial, success) == (avpwalk.CC_REQUEST_TYPE_INITIAL, avpwalk.RESULT_CODE_SUCCESS)
    request = ccr(_attempt())
    assert avpwalk.CC_REQUEST_TYPE_INITIAL in request
    assert avpwalk.RESULT_CODE_SUCCESS in cca(request, "ocs.test", "ocs.test", avps.SUCCESS)
    assert avpwalk.session_id(request) == b"walk;1"


def test_used_seconds_add_up_top_level_and_mscc_units() -> None:
    assert avpwalk.used_seconds(ccr(_attempt(request_type=UPDATE, used_seconds=42))) == 42
    both = ccr(_attempt(request_type=TERMINATE, used_seconds=7, extra_avps=[_unit(5)]))
    assert avpwalk.used_seconds(both) == 12
    assert avpwalk.used_seconds(ccr(_attempt())) == 0
    assert avpwalk.request_type(both) == avps.CC_TERMINATE


def test_usage_of_a_cut_message_counts_what_came_before() -> None:
    message = ccr(_attempt(request_type=UPDATE, extra_avps=[_unit(5), _unit(6)]))
    cut = message[:-3]  # the last unit's CC-Time is no longer whole
    assert avpwalk.used_seconds(cut) == 5
    assert avpwalk.request_type(b"\x01" * 19) is None


def test_partial_collect_keeps_what_came_before_a_broken_avp() -> None:
    message = ccr(_attempt())
    broken = message + (avps.AVP_RESULT_CODE).to_bytes(4, "big") + (4).to_bytes(4, "big")
    wanted = frozenset({avps.AVP_SESSION_ID})
    with pytest.raises(AvpLengthError):
        avpwalk.collect(broken, avps.HEADER_LENGTH, len(broken), wanted, wanted)
    found = avpwalk.collect(broken, avps.HEADER_LENGTH, len(broken), wanted, wanted,
                            partial=True)
    assert [broken[start:end] for start, end in found[avps.AVP_SESSION_ID]] == [b"walk;1"]


def test_answer_walk_stops_at_a_wanted_value() -> None:
    request = ccr(_attempt())
    answer = cca(request, "ocs.test", "ocs.test", avps.CREDIT_LIMIT_REACHED,
                 mscc_result_codes=[avps.SUCCESS])
    mscc = frozenset({avps.AVP_MULTIPLE_SERVICES_CREDIT_CONTROL})
    limit = frozenset({avps.CREDIT_LIMIT_REACHED})
    value, _ = avpwalk.answer_walk_until(answer, avps.AVP_RESULT_CODE, limit, mscc)
    assert value == avps.CREDIT_LIMIT_REACHED
    value, met = avpwalk.answer_walk_until(answer, avps.AVP_RESULT_CODE, frozenset({1}), mscc)
    assert value is None
    [(code, start, stop)] = met
    assert code == avps.AVP_MULTIPLE_SERVICES_CREDIT_CONTROL
    assert avpwalk.first_unsigned32(answer, start, stop, avps.AVP_RESULT_CODE) == avps.SUCCESS
    # Not an answer, or a length beyond the bytes: nothing.
    assert avpwalk.answer_walk_until(request, avps.AVP_RESULT_CODE, limit, mscc) == (None, [])
    assert avpwalk.answer_walk_until(answer[:-4], avps.AVP_RESULT_CODE, limit,
                                     mscc) == (None, [])
