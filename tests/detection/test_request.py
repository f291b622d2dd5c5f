from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Any

import pytest

from interceptor.core.avps import (
    CONTEXT_GY_DATA,
    CONTEXT_MMTEL,
    END_USER_E164,
    END_USER_IMSI,
    HEADER_LENGTH,
)
from interceptor.detection import CallContext, CallContextExtractor, DetectionConfig
from interceptor.diameter import traffic
from interceptor.diameter.codec import iter_avps
from interceptor.diameter.dictionary import Dictionary, PathError, load_dictionary
from interceptor.diameter.traffic import CallAttempt, grouped_avp, text_avp

EXAMPLE_VENDOR = Path(__file__).resolve().parents[2] / "dictionaries" / "examples" / \
    "example-vendor.xml"
TGPP = 10415
EXAMPLE = 32473


def ccr(**changes: Any) -> bytes:
    """The kit's S-CSCF voice CCR-Initial, with ``changes``."""
    return traffic.ccr(CallAttempt(**changes))


@pytest.fixture(scope="module")
def dictionary() -> Dictionary:
    return load_dictionary(extra=[EXAMPLE_VENDOR])


@pytest.fixture(scope="module")
def extractor(dictionary: Dictionary) -> CallContextExtractor:
    return CallContextExtractor(DetectionConfig(), dictionary)


def test_ccr_initial_voice_call(extractor: CallContextExtractor) -> None:
    assert extractor.call_context(ccr()) == CallContext(
        session_id="scscf1.ims.example.net;3141592653;42",
        caller_raw="84912345678",
        callee_raw="tel:+84987654321",
        service_context="32260@3gpp.org",
        request_type=1,
        problem=None,
    )


def test_ccr_event_and_mmtel(extractor: CallContextExtractor) -> None:
    context = extractor.call_context(ccr(request_type=4, service_context=CONTEXT_MMTEL))
    assert context is not None
    assert (context.request_type, context.service_context) == (4, CONTEXT_MMTEL)
    assert context.complete


@pytest.mark.parametrize("service_context", [
    "8.32260@3gpp.org", "10.32275@3gpp.org", "mnc004.mcc452.14.32260@3gpp.org",
])
def test_release_prefixed_contexts(extractor: CallContextExtractor,
                                   service_context: str) -> None:
    context = extractor.call_context(ccr(service_context=service_context))
    assert context is not None and context.service_context == service_context


@pytest.mark.parametrize("message", [
    pytest.param(ccr(service_context=CONTEXT_GY_DATA), id="gy-data"),
    pytest.param(ccr(service_context="8.32251@3gpp.org"), id="gy-data-release"),
    pytest.param(ccr(service_context="32274@3gpp.org"), id="sms"),
    pytest.param(ccr(service_context="x32260@3gpp.org"), id="lookalike"),
    pytest.param(ccr(service_context="32260@3gpp.org.evil"), id="lookalike-suffix"),
    pytest.param(ccr(request_type=2), id="ccr-update"),
    pytest.param(ccr(request_type=3), id="ccr-terminate"),
    pytest.param(ccr(request_type=7), id="ccr-bad-type"),
    pytest.param(ccr(role_of_node=1), id="terminating-role"),
    pytest.param(ccr(subscriber_role=1), id="mmtel-terminating"),
])
def test_not_candidates(extractor: CallContextExtractor, message: bytes) -> None:
    assert extractor.call_context(message) is None


def test_originating_roles_are_candidates(extractor: CallContextExtractor) -> None:
    assert extractor.call_context(ccr(role_of_node=0, subscriber_role=0)) is not None
    assert extractor.call_context(ccr(role_of_node=None)) is not None


def test_answers_and_other_commands_are_not_candidates(
        extractor: CallContextExtractor) -> None:
    request = ccr()
    answer = request[:4] + bytes([request[4] & 0x7F]) + request[5:]
    assert extractor.call_context(answer) is None
    other_command = request[:5] + b"\x00\x01\x13" + request[8:]  # 275 STR
    assert extractor.call_context(other_command) is None
    assert extractor.call_context(b"") is None
    assert extractor.call_context(request[:19]) is None


def test_missing_mandatory_avps_mean_no_candidate(extractor: CallContextExtractor) -> None:
    request = ccr()
    for code in (416, 461):
        assert extractor.call_context(without_top_level(request, code)) is None
    context = extractor.call_context(without_top_level(request, 263))
    assert context is not None and context.session_id is None


def test_caller_from_subscription_id_of_type_e164(extractor: CallContextExtractor) -> None:
    message = ccr(subscription_ids=((END_USER_IMSI, "452041234567890"),
                                    (END_USER_E164, "84911111111")))
    context = extractor.call_context(message)
    assert context is not None and context.caller_raw == "84911111111"


def test_caller_falls_back_to_calling_party_address(extractor: CallContextExtractor) -> None:
    for ids in ((), ((END_USER_IMSI, "452041234567890"),), ((END_USER_E164, ""),)):
        context = extractor.call_context(ccr(subscription_ids=ids))
        assert context is not None
        assert context.caller_raw == "sip:+84912345678@ims.example.net"


def test_callee_falls_back_to_requested_party_address(
        extractor: CallContextExtractor) -> None:
    context = extractor.call_context(
        ccr(called_party_address=None,
            requested_party_address="sip:0987654321@ims.example.net;user=phone"))
    assert context is not None
    assert context.callee_raw == "sip:0987654321@ims.example.net;user=phone"
    context = extractor.call_context(ccr(called_party_address="",
                                         requested_party_address="tel:0987654321"))
    assert context is not None and context.callee_raw == "tel:0987654321"


def test_neither_found(extractor: CallContextExtractor) -> None:
    context = extractor.call_context(ccr(subscription_ids=(), calling_party_address=None,
                                         called_party_address=None))
    assert context is not None
    assert (context.caller_raw, context.callee_raw, context.problem) == (None, None, None)
    assert not context.complete
    context = extractor.call_context(ccr(subscription_ids=(), service_information=False))
    assert context is not None and context.callee_raw is None


def test_configured_order_and_paths(dictionary: Dictionary) -> None:
    config = DetectionConfig(
        caller_paths=("Service-Information/IMS-Information/Calling-Party-Address",
                      "Subscription-Id[Subscription-Id-Type=END_USER_E164]/"
                      "Subscription-Id-Data"),
        callee_paths=("Service-Information/IMS-Information/Requested-Party-Address",
                      "Service-Information/IMS-Information/Called-Party-Address"),
        exclude_when=())
    extractor = CallContextExtractor(config, dictionary)
    context = extractor.call_context(ccr(requested_party_address="tel:+84977777777",
                                         role_of_node=1))
    assert context is not None
    assert context.caller_raw == "sip:+84912345678@ims.example.net"
    assert context.callee_raw == "tel:+84977777777"


def test_subscription_id_inside_service_information(dictionary: Dictionary) -> None:
    config = DetectionConfig(caller_paths=(
        "Service-Information/Subscription-Id[Subscription-Id-Type=0]/Subscription-Id-Data",))
    extractor = CallContextExtractor(config, dictionary)
    context = extractor.call_context(
        ccr(subscription_ids=(), service_subscription_ids=((END_USER_E164, "84933333333"),)))
    assert context is not None and context.caller_raw == "84933333333"


def vendor_call_info(dialled: str) -> Any:
    return grouped_avp(1001, EXAMPLE, [
        text_avp(1003, EXAMPLE, "tel:+84912345678"),
        text_avp(1002, EXAMPLE, dialled),
    ])


def test_vendor_avp_nested_in_a_grouped_avp(dictionary: Dictionary) -> None:
    config = DetectionConfig(callee_paths=(
        "Service-Information/IMS-Information/Example-Call-Info/Example-Dialled-Number",
        "Service-Information/IMS-Information/Called-Party-Address",
    ))
    extractor = CallContextExtractor(config, dictionary)
    message = ccr(ims_extra_avps=[vendor_call_info("0966666666")])
    context = extractor.call_context(message)
    assert context is not None and context.callee_raw == "0966666666"
    # without the vendor AVP the standard one is used
    context = extractor.call_context(ccr())
    assert context is not None and context.callee_raw == "tel:+84987654321"


def test_unknown_vendor_avps_are_skipped(extractor: CallContextExtractor) -> None:
    unknown = grouped_avp(77, 424242, [text_avp(78, 424242, "x" * 33)])
    message = ccr(ims_extra_avps=[unknown], extra_avps=[text_avp(99, 424242, "tel:+1")])
    context = extractor.call_context(message)
    assert context is not None and context.callee_raw == "tel:+84987654321"


def test_vendor_avp_with_a_standard_code_is_not_confused(
        extractor: CallContextExtractor) -> None:
    # a vendor AVP numbered 416/461/263 must not be read as CC-Request-Type & co.
    message = ccr(request_type=2, extra_avps=[grouped_avp(416, 424242, []),
                                              text_avp(461, 424242, "32260@3gpp.org")])
    assert extractor.call_context(message) is None


def test_filter_values_and_conditions(dictionary: Dictionary) -> None:
    config = DetectionConfig(
        caller_paths=("Subscription-Id[Subscription-Id-Type=END_USER_IMSI]/"
                      "Subscription-Id-Data",),
        exclude_when=("Service-Information/IMS-Information/Called-Party-Address="
                      "tel:+84987654321",))
    extractor = CallContextExtractor(config, dictionary)
    assert extractor.call_context(ccr()) is None
    context = extractor.call_context(ccr(called_party_address="tel:+84900000000"))
    assert context is not None and context.caller_raw == "452041234567890"


def test_compile_errors(dictionary: Dictionary) -> None:
    with pytest.raises(PathError, match="unknown AVP 'Foo'"):
        CallContextExtractor(DetectionConfig(callee_paths=("Foo",)), dictionary)
    with pytest.raises(PathError, match="must end at a text AVP"):
        CallContextExtractor(DetectionConfig(callee_paths=("CC-Request-Number",)),
                             dictionary)


# -- malformed content ----------------------------------------------------------------


def locate(message: bytes, *keys: tuple[int, int]) -> int:
    """Offset of the AVP header reached by following ``keys`` from the top level."""
    start, end = HEADER_LENGTH, len(message)
    offset = -1
    for code, vendor_id in keys:
        for span in iter_avps(message, start, end):
            if (span.code, span.vendor_id) == (code, vendor_id):
                offset, start, end = span.start, span.data_start, span.data_end
                break
        else:
            raise AssertionError(f"AVP {code} not found")
    return offset


def with_length(message: bytes, offset: int, length: int) -> bytes:
    flags = message[offset + 4]
    return message[:offset + 4] + struct.pack("!I", (flags << 24) | length) + \
        message[offset + 8:]


def without_top_level(message: bytes, code: int) -> bytes:
    parts = [message[:HEADER_LENGTH]]
    for span in iter_avps(message, HEADER_LENGTH, len(message)):
        if span.code != code:
            parts.append(message[span.start:span.end])
    body = b"".join(parts)
    return body[:1] + len(body).to_bytes(3, "big") + body[4:]


SI = (873, TGPP)
IMS = (876, TGPP)


@pytest.mark.parametrize("length", [0, 7, 11, 0xFFFFFF, 200])
def test_malformed_called_party_address(extractor: CallContextExtractor,
                                        length: int) -> None:
    message = ccr(called_party_address="tel:+84987654321",
                  requested_party_address="tel:+84955555555")
    broken = with_length(message, locate(message, SI, IMS, (832, TGPP)), length)
    context = extractor.call_context(broken)
    assert context is not None
    assert context.caller_raw == "84912345678"   # from Subscription-Id, unaffected
    # IMS-Information cannot be trusted past the broken AVP: no fallback inside it either
    assert context.callee_raw is None
    assert context.problem is not None
    assert context.problem.startswith("Service-Information: AVP ")


def test_malformed_ims_information_is_reported(extractor: CallContextExtractor) -> None:
    message = ccr(subscription_ids=())
    broken = with_length(message, locate(message, SI, IMS, (831, TGPP)), 9999)
    context = extractor.call_context(broken)
    assert context is not None
    assert context.caller_raw is None and context.callee_raw is None
    assert context.problem is not None and "overruns" in context.problem


def test_malformed_subscription_id(extractor: CallContextExtractor) -> None:
    message = ccr()
    broken = with_length(message, locate(message, (443, 0), (450, 0)), 3)
    context = extractor.call_context(broken)
    assert context is not None
    assert context.caller_raw == "sip:+84912345678@ims.example.net"  # fallback used
    assert context.problem is not None and context.problem.startswith("Subscription-Id")


def test_malformed_top_level_is_not_a_candidate(extractor: CallContextExtractor) -> None:
    message = ccr()
    assert extractor.call_context(with_length(message, locate(message, SI), 7)) is None
    assert extractor.call_context(with_length(message, locate(message, SI), 5000)) is None
    # header length beyond the buffer, or too short
    assert extractor.call_context(message[:-4]) is None
    assert extractor.call_context(message[:1] + b"\x00\x00\x10" + message[4:]) is None


def test_fuzzed_requests_never_raise(extractor: CallContextExtractor) -> None:
    generator = random.Random(4012)
    originals = [ccr(), ccr(subscription_ids=(), called_party_address=None,
                            requested_party_address="tel:1"),
                 ccr(ims_extra_avps=[vendor_call_info("0966666666")])]
    for original in originals:
        for index in range(HEADER_LENGTH, len(original)):
            for value in (0x00, 0xFF, generator.randrange(256)):
                mutated = original[:index] + bytes([value]) + original[index + 1:]
                extractor.call_context(mutated)
        for cut in range(len(original)):
            truncated = original[:cut]
            extractor.call_context(truncated)
            if cut >= 4:  # also with a header length that agrees with the cut
                extractor.call_context(truncated[:1] + cut.to_bytes(3, "big") + truncated[4:])
        for _ in range(300):
            noise = bytearray(original)
            for _ in range(generator.randrange(1, 8)):
                noise[generator.randrange(HEADER_LENGTH, len(noise))] = generator.randrange(256)
            result = extractor.call_context(bytes(noise))
            assert result is None or isinstance(result, CallContext)


def test_bytearray_and_memoryview_are_accepted(extractor: CallContextExtractor) -> None:
    message = ccr()
    expected = extractor.call_context(message)
    assert expected is not None
    assert extractor.call_context(bytearray(message)) == expected
    assert extractor.call_context(memoryview(message)) == expected
