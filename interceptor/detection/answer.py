"""Whether a CCA says the caller is out of credit.

Called on the answer to a request that produced a CallContext. Raw bytes in, no I/O, no
exception out. A configured code (default 4012 DIAMETER_CREDIT_LIMIT_REACHED) counts at
top level or in any Multiple-Services-Credit-Control's Result-Code; a top-level hit wins
over an MSCC one. Optionally configured Experimental-Result codes count last.
"""

from __future__ import annotations

from typing import NamedTuple

from interceptor.core.avps import (
    AVP_EXPERIMENTAL_RESULT,
    AVP_EXPERIMENTAL_RESULT_CODE,
    AVP_MULTIPLE_SERVICES_CREDIT_CONTROL,
    AVP_RESULT_CODE,
    AVP_VENDOR_ID,
)
from interceptor.detection.config import DetectionConfig
from interceptor.diameter.avpwalk import answer_walk_until, first_unsigned32

TOP_LEVEL = "top_level"
MSCC = "mscc"
EXPERIMENTAL = "experimental"


class OutOfCredit(NamedTuple):
    code: int
    where: str
    """``"top_level"``, ``"mscc"`` or ``"experimental"`` (the attempts table vocabulary)."""


class OutOfCreditClassifier:
    def __init__(self, config: DetectionConfig) -> None:
        self._codes = frozenset(config.out_of_credit_codes)
        self._experimental = frozenset(config.experimental_out_of_credit)
        # The grouped AVPs that may say so (Experimental-Result only when codes of it count).
        self._grouped = frozenset({AVP_MULTIPLE_SERVICES_CREDIT_CONTROL,
                                   *([AVP_EXPERIMENTAL_RESULT] if self._experimental else [])})
        # An answer that nowhere holds the 4 bytes of a code we look for cannot carry it:
        # a C-speed substring test spares the AVP walk for almost every answer.
        self._needles = tuple(code.to_bytes(4, "big") for code in sorted(
            {*self._codes, *(code for _, code in self._experimental)}))

    @property
    def needles(self) -> tuple[bytes, ...]:
        return self._needles

    def may_be_out_of_credit(self, message: bytes) -> bool:
        """Cheap and never wrong in the "no" direction: does any configured code's 4-byte
        value occur anywhere in the answer? (The relay asks only this.)"""
        for needle in self._needles:  # noqa: SIM110 - any(genexpr) costs more than the test
            if needle in message:
                return True
        return False

    def out_of_credit(self, message: bytes | bytearray | memoryview) -> OutOfCredit | None:
        """The out-of-credit code this CCA carries, or None.

        Best effort on malformed answers: a code found before a broken AVP still counts;
        a broken MSCC is skipped; nothing raises.
        """
        if not isinstance(message, bytes):  # their slices would be unhashable
            message = bytes(message)
        for needle in self._needles:
            if needle in message:
                break
        else:
            return None
        codes = self._codes
        # A configured Result-Code at top level ends the walk; the grouped AVPs met on the
        # way are looked into only when it is not there: the MSCCs first.
        result, grouped = answer_walk_until(message, AVP_RESULT_CODE, codes, self._grouped)
        if result is not None:
            return OutOfCredit(result, TOP_LEVEL)
        for code, start, stop in grouped:
            if code == AVP_MULTIPLE_SERVICES_CREDIT_CONTROL:
                result = first_unsigned32(message, start, stop, AVP_RESULT_CODE)
                if result in codes:
                    return OutOfCredit(result, MSCC)
        for code, start, stop in grouped:
            if code == AVP_EXPERIMENTAL_RESULT:
                verdict = self._experimental_result(message, start, stop)
                if verdict is not None:
                    return verdict
        return None

    def _experimental_result(self, message: bytes, start: int,
                             end: int) -> OutOfCredit | None:
        vendor_id = first_unsigned32(message, start, end, AVP_VENDOR_ID)
        code = first_unsigned32(message, start, end, AVP_EXPERIMENTAL_RESULT_CODE)
        if vendor_id is not None and code is not None \
                and (vendor_id, code) in self._experimental:
            return OutOfCredit(code, EXPERIMENTAL)
        return None
