"""GSM 03.38 7-bit or UCS-2, and splitting long texts into concatenated parts.

Over SMPP the default alphabet travels unpacked (one septet per octet, data_coding 0);
a character of the extension table is two septets (ESC + code) and never straddles two
parts. Anything outside the alphabet (Vietnamese diacritics, the em dash...) makes the
whole message UCS-2 (data_coding 8, UTF-16BE; a surrogate pair never straddles parts).
Concatenation: a 6-octet UDH (IEI 0x00, 8-bit reference) or SAR TLVs; either way a part
carries at most 153 septets or 67 UCS-2 characters (the SMSC adds the UDH itself for
SAR), a single message 160 septets or 70 characters.
"""

from __future__ import annotations

from dataclasses import dataclass

from interceptor.smpp.messages import DATA_CODING_DEFAULT, DATA_CODING_UCS2, Sar

_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENDED = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D,
             "]": 0x3E, "|": 0x40, "€": 0x65}
_ESC = 0x1B
GSM_TABLE: dict[str, bytes] = {char: bytes([code]) for code, char in enumerate(_BASIC)
                               if code != _ESC}
GSM_TABLE.update({char: bytes([_ESC, code]) for char, code in _EXTENDED.items()})
_DECODE_BASIC = {code: char for code, char in enumerate(_BASIC) if code != _ESC}
_DECODE_EXTENDED = {code: char for char, code in _EXTENDED.items()}

SINGLE_SEPTETS, PART_SEPTETS = 160, 153
SINGLE_UCS2, PART_UCS2 = 70, 67  # UTF-16 code units
CONCAT_MODES = ("udh", "sar")


@dataclass(frozen=True)
class Encoded:
    data_coding: int
    units: tuple[bytes, ...]  # one per character: its septet(s) or UTF-16BE code unit(s)

    @property
    def size(self) -> int:
        """Septets (GSM) or UTF-16 code units (UCS-2)."""
        return sum(len(unit) for unit in self.units) // self._width

    @property
    def _width(self) -> int:
        return 2 if self.data_coding == DATA_CODING_UCS2 else 1

    def chunks(self) -> list[bytes]:
        """The payload of each part (without UDH): one part if it fits a single message."""
        single, per_part = ((SINGLE_UCS2, PART_UCS2) if self.data_coding == DATA_CODING_UCS2
                            else (SINGLE_SEPTETS, PART_SEPTETS))
        if self.size <= single:
            return [b"".join(self.units)]
        limit = per_part * self._width
        chunks: list[bytes] = []
        current: list[bytes] = []
        length = 0
        for unit in self.units:
            if length + len(unit) > limit:
                chunks.append(b"".join(current))
                current, length = [], 0
            current.append(unit)
            length += len(unit)
        if current:
            chunks.append(b"".join(current))
        return chunks


def fits_gsm(text: str) -> bool:
    return all(char in GSM_TABLE for char in text)


def encode(text: str) -> Encoded:
    """GSM 7-bit when every character fits, else UCS-2."""
    if fits_gsm(text):
        return Encoded(DATA_CODING_DEFAULT, tuple(GSM_TABLE[char] for char in text))
    return Encoded(DATA_CODING_UCS2, tuple(char.encode("utf-16-be") for char in text))


def part_count(text: str) -> int:
    return len(encode(text).chunks())


def decode(data_coding: int, payload: bytes) -> str:
    """The inverse of :func:`encode` for one payload (tests, receipts)."""
    if data_coding == DATA_CODING_UCS2:
        return payload.decode("utf-16-be")
    out: list[str] = []
    escape = False
    for octet in payload:
        if escape:
            out.append(_DECODE_EXTENDED.get(octet, " "))
            escape = False
        elif octet == _ESC:
            escape = True
        else:
            out.append(_DECODE_BASIC.get(octet, " "))
    return "".join(out)


@dataclass(frozen=True)
class Part:
    payload: bytes  # with the UDH in front when ``udhi``
    udhi: bool
    sar: Sar | None


def concatenate(chunks: list[bytes], reference: int, mode: str) -> list[Part]:
    """The parts of one message: a single part as is, more with a UDH or SAR TLVs."""
    total = len(chunks)
    if total == 1:
        return [Part(chunks[0], False, None)]
    if total > 255:
        raise ValueError("more than 255 parts")
    if mode == "sar":
        return [Part(chunk, False, Sar(reference & 0xFFFF, total, index))
                for index, chunk in enumerate(chunks, 1)]
    ref = reference & 0xFF
    return [Part(bytes([5, 0x00, 3, ref, total, index]) + chunk, True, None)
            for index, chunk in enumerate(chunks, 1)]
