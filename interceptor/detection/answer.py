"""Whether a CCA says the caller is out of credit.

Called on the answer to a request that produced a CallContext. Raw bytes in, no I/O, no
exception out. A configured code (default 4012 DIAMETER_CREDIT_LIMIT_REACHED) counts at
top level or in any Multiple-Services-Credit-Control's Result-Code; a top-level hit wins
over an MSCC one. Optionally configured Experimental-Result codes count last.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from interceptor.detection.config import DetectionConfig
from interceptor.diameter.avpwalk import first
from interceptor.diameter.codec import (
    AVP_FLAG_VENDOR,
    AVP_RESULT_CODE,
    FLAG_REQUEST,
    HEADER_LENGTH,
    AvpLengthError,
)

AVP_VENDOR_ID = 266
AVP_EXPERIMENTAL_RESULT = 297
AVP_EXPERIMENTAL_RESULT_CODE = 298
AVP_MULTIPLE_SERVICES_CREDIT_CONTROL = 456

TOP_LEVEL = "top_level"
MSCC = "mscc"
EXPERIMENTAL = "experimental"

_CREDIT_CONTROL_COMMAND = b"\x00\x01\x10"
_CODE_FLAGS_LENGTH = struct.Struct("!II").unpack_from
_U32 = struct.Struct("!I").unpack_from
_VENDOR_BIT = AVP_FLAG_VENDOR << 24


class OutOfCredit(NamedTuple):
    code: int
    where: str
    """``"top_level"``, ``"mscc"`` or ``"experimental"`` (the attempts table vocabulary)."""


class OutOfCreditClassifier:
    def __init__(self, config: DetectionConfig) -> None:
        self._codes = frozenset(config.out_of_credit_codes)
        self._experimental = frozenset(config.experimental_out_of_credit)
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
        size = len(message)
        if (size < HEADER_LENGTH or message[4] & FLAG_REQUEST
                or message[5:8] != _CREDIT_CONTROL_COMMAND):
            return None
        end = (message[1] << 16) | (message[2] << 8) | message[3]
        if end < HEADER_LENGTH or end > size:
            return None
        codes = self._codes
        check_experimental = bool(self._experimental)
        in_mscc: OutOfCredit | None = None
        experimental: OutOfCredit | None = None
        offset = HEADER_LENGTH
        try:
            while offset < end:
                code, flags_length = _CODE_FLAGS_LENGTH(message, offset)
                length = flags_length & 0xFFFFFF
                data_end = offset + length
                if length < 8 or data_end > end:
                    break
                if flags_length & _VENDOR_BIT:
                    pass  # Result-Code, MSCC and Experimental-Result are IETF AVPs
                elif code == AVP_RESULT_CODE:
                    if length == 12:
                        result = _U32(message, offset + 8)[0]
                        if result in codes:
                            return OutOfCredit(result, TOP_LEVEL)
                elif code == AVP_MULTIPLE_SERVICES_CREDIT_CONTROL:
                    if in_mscc is None:
                        inner = _unsigned(message, offset + 8, data_end, AVP_RESULT_CODE)
                        if inner is not None and inner in codes:
                            in_mscc = OutOfCredit(inner, MSCC)
                elif (code == AVP_EXPERIMENTAL_RESULT and check_experimental
                      and experimental is None):
                    experimental = self._experimental_result(message, offset + 8, data_end)
                offset = (data_end + 3) & -4
        except struct.error:  # an AVP header cut by the end of the buffer
            pass
        return in_mscc or experimental

    def _experimental_result(self, message: bytes, start: int,
                             end: int) -> OutOfCredit | None:
        vendor_id = _unsigned(message, start, end, AVP_VENDOR_ID)
        code = _unsigned(message, start, end, AVP_EXPERIMENTAL_RESULT_CODE)
        if vendor_id is not None and code is not None \
                and (vendor_id, code) in self._experimental:
            return OutOfCredit(code, EXPERIMENTAL)
        return None


def _unsigned(message: bytes, start: int, end: int, key: int) -> int | None:
    """The first Unsigned32 ``key`` directly inside [start, end); None if absent/broken."""
    try:
        span = first(message, start, end, key)
    except AvpLengthError:
        return None
    if span is None or span[1] - span[0] != 4:
        return None
    return int(_U32(message, span[0])[0])
