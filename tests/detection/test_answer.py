from __future__ import annotations

import random
import struct
from collections.abc import Sequence
from typing import Any

import pytest

from interceptor.core.avps import HEADER_LENGTH
from interceptor.detection import (
    EXPERIMENTAL,
    MSCC,
    TOP_LEVEL,
    DetectionConfig,
    OutOfCredit,
    OutOfCreditClassifier,
)
from interceptor.diameter import traffic
from interceptor.diameter.codec import iter_avps

DEFAULT = OutOfCreditClassifier(DetectionConfig())


def ccr() -> bytes:
    return traffic.ccr(traffic.CallAttempt())


def cca(result_code: int | None = 2001, mscc_result_codes: Sequence[int | None] = (),
        experimental: tuple[int, int] | None = None, extra: Sequence[Any] = ()) -> bytes:
    """The kit's answer to its CCR: ``result_code`` at top level (None: absent), one MSCC
    per entry of ``mscc_result_codes`` (None: an MSCC without Result-Code), and optionally
    an Experimental-Result (vendor id, code)."""
    return traffic.cca(ccr(), result_code=result_code, mscc_result_codes=mscc_result_codes,
                       experimental_result=experimental, extra_avps=extra)


@pytest.mark.parametrize(("message", "expected"), [
    pytest.param(cca(result_code=4012), OutOfCredit(4012, TOP_LEVEL), id="4012-top"),
    pytest.param(cca(result_code=4012, mscc_result_codes=[4012]),
                 OutOfCredit(4012, TOP_LEVEL), id="4012-both"),
    pytest.param(cca(result_code=2001, mscc_result_codes=[4012]),
                 OutOfCredit(4012, MSCC), id="2001-top-4012-mscc"),
    pytest.param(cca(result_code=2001, mscc_result_codes=[2001, None, 4012]),
                 OutOfCredit(4012, MSCC), id="4012-in-third-mscc"),
    pytest.param(cca(result_code=None, mscc_result_codes=[4012]),
                 OutOfCredit(4012, MSCC), id="no-top-level-result"),
    pytest.param(cca(result_code=2001), None, id="2001"),
    pytest.param(cca(result_code=2001, mscc_result_codes=[2001, 2001]), None,
                 id="2001-mscc-2001"),
    pytest.param(cca(result_code=4011), None, id="4011"),
    pytest.param(cca(result_code=2001, mscc_result_codes=[4011]), None, id="4011-mscc"),
    pytest.param(cca(result_code=4010), None, id="4010-not-configured"),
    pytest.param(cca(result_code=5030), None, id="5030"),
    pytest.param(cca(result_code=2001, experimental=(10415, 4012)), None,
                 id="experimental-not-configured"),
])
def test_default_classification(message: bytes, expected: OutOfCredit | None) -> None:
    assert DEFAULT.out_of_credit(message) == expected


def test_result_is_a_plain_pair() -> None:
    code, where = DEFAULT.out_of_credit(cca(result_code=4012)) or (0, "")
    assert (code, where) == (4012, "top_level")


def test_top_level_wins_even_after_an_mscc() -> None:
    message = cca(result_code=None, mscc_result_codes=[4012],
                  extra=[_result_code_avp(4012)])
    assert DEFAULT.out_of_credit(message) == OutOfCredit(4012, TOP_LEVEL)


def _result_code_avp(code: int) -> object:
    from diameter.message.avp import Avp
    return Avp.new(268, value=code)


def test_configured_codes() -> None:
    classifier = OutOfCreditClassifier(
        DetectionConfig(out_of_credit_codes=frozenset({4012, 4010})))
    assert classifier.out_of_credit(cca(result_code=4010)) == OutOfCredit(4010, TOP_LEVEL)
    assert classifier.out_of_credit(cca(mscc_result_codes=[4010])) == \
        OutOfCredit(4010, MSCC)
    assert classifier.out_of_credit(cca(result_code=4011)) is None


def test_experimental_result_when_configured() -> None:
    classifier = OutOfCreditClassifier(
        DetectionConfig(experimental_out_of_credit=((32473, 4012),)))
    assert classifier.out_of_credit(cca(result_code=None, experimental=(32473, 4012))) == \
        OutOfCredit(4012, EXPERIMENTAL)
    assert classifier.out_of_credit(cca(result_code=None, experimental=(10415, 4012))) \
        is None
    # a Result-Code still wins
    assert classifier.out_of_credit(
        cca(result_code=2001, mscc_result_codes=[4012], experimental=(32473, 4012))) == \
        OutOfCredit(4012, MSCC)


def test_requests_and_other_commands_are_ignored() -> None:
    answer = cca(result_code=4012)
    as_request = answer[:4] + bytes([answer[4] | 0x80]) + answer[5:]
    assert DEFAULT.out_of_credit(as_request) is None
    other = answer[:5] + b"\x00\x01\x13" + answer[8:]
    assert DEFAULT.out_of_credit(other) is None
    assert DEFAULT.out_of_credit(ccr()) is None
    assert DEFAULT.out_of_credit(b"") is None


def _mscc_result_offset(message: bytes) -> int:
    for span in iter_avps(message, HEADER_LENGTH, len(message)):
        if span.code == 456:
            for inner in iter_avps(message, span.data_start, span.data_end):
                if inner.code == 268:
                    return inner.start
    raise AssertionError("no MSCC Result-Code")


@pytest.mark.parametrize("length", [0, 7, 13, 0xFFFFFF])
def test_malformed_mscc_is_skipped(length: int) -> None:
    message = cca(result_code=2001, mscc_result_codes=[4012])
    offset = _mscc_result_offset(message)
    broken = message[:offset + 4] + struct.pack("!I", (0x40 << 24) | length) + \
        message[offset + 8:]
    assert DEFAULT.out_of_credit(broken) is None


def test_malformed_mscc_does_not_hide_a_later_one() -> None:
    message = cca(result_code=2001, mscc_result_codes=[2001, 4012])
    offset = _mscc_result_offset(message)  # the first MSCC's Result-Code
    broken = message[:offset + 4] + struct.pack("!I", (0x40 << 24) | 3) + \
        message[offset + 8:]
    assert DEFAULT.out_of_credit(broken) == OutOfCredit(4012, MSCC)


def test_result_code_of_the_wrong_size_is_ignored() -> None:
    message = cca(result_code=4012)
    for span in iter_avps(message, HEADER_LENGTH, len(message)):
        if span.code == 268:
            # claim 5 data bytes: not an Unsigned32 (and what follows misframes)
            broken = message[:span.start + 5] + b"\x00\x00\x0d" + message[span.start + 8:]
            assert DEFAULT.out_of_credit(broken) is None
            return
    raise AssertionError("no Result-Code")


def test_fuzzed_answers_never_raise() -> None:
    generator = random.Random(4011)
    for original in (cca(result_code=4012), cca(mscc_result_codes=[2001, 4012]),
                     cca(result_code=2001, experimental=(10415, 5030))):
        classifiers = (DEFAULT, OutOfCreditClassifier(
            DetectionConfig(experimental_out_of_credit=((10415, 5030),))))
        for classifier in classifiers:
            for index in range(HEADER_LENGTH, len(original)):
                for value in (0x00, 0xFF, generator.randrange(256)):
                    classifier.out_of_credit(
                        original[:index] + bytes([value]) + original[index + 1:])
            for cut in range(len(original)):
                truncated = original[:cut]
                classifier.out_of_credit(truncated)
                if cut >= 4:
                    classifier.out_of_credit(
                        truncated[:1] + cut.to_bytes(3, "big") + truncated[4:])
