"""Plain data exchanged with the SMPP client: one submit_sm and one delivery receipt."""

from __future__ import annotations

import re
from dataclasses import dataclass

# TON / NPI values (SMPP 3.4 5.2.5, 5.2.6)
TON_UNKNOWN = 0
TON_INTERNATIONAL = 1
TON_NATIONAL = 2
TON_NETWORK_SPECIFIC = 3  # short codes
TON_ALPHANUMERIC = 5
NPI_UNKNOWN = 0
NPI_ISDN = 1

DATA_CODING_DEFAULT = 0  # GSM 03.38 default alphabet (unpacked septets over SMPP)
DATA_CODING_UCS2 = 8


@dataclass(frozen=True)
class Address:
    value: str
    ton: int = TON_INTERNATIONAL
    npi: int = NPI_ISDN


@dataclass(frozen=True)
class Sar:
    """SAR TLVs of one part of a concatenated message."""

    reference: int
    total: int
    sequence: int


@dataclass(frozen=True)
class ShortMessage:
    """One submit_sm: one part of an SMS (``udhi`` when ``payload`` starts with a UDH)."""

    source: Address
    destination: Address
    data_coding: int
    payload: bytes
    udhi: bool = False
    sar: Sar | None = None
    registered_delivery: bool = True


@dataclass(frozen=True)
class DeliveryReceipt:
    """A delivery receipt (deliver_sm with esm_class receipt): ``state`` is the SMPP
    message state name: DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, UNKNOWN, ACCEPTD,
    ENROUTE."""

    message_id: str
    state: str
    error: str | None = None


FINAL_STATES = frozenset({"DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED", "UNKNOWN"})

_RECEIPT_FIELD = re.compile(r"(id|stat|err):(\S*)", re.IGNORECASE)

# message_state TLV values (SMPP 3.4 5.3.2.35) -> the receipt text's stat names
_MESSAGE_STATES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV",
                   6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD"}


def parse_receipt(text: str, receipted_id: str | None = None,
                  message_state: int | None = None) -> DeliveryReceipt | None:
    """A receipt from its text ("id:... sub:... stat:DELIVRD err:000 ...") and TLVs (the
    TLVs win where both are present). None if it names no message or no state."""
    fields: dict[str, str] = {}
    for key, value in _RECEIPT_FIELD.findall(text):
        fields.setdefault(key.lower(), value)
    message_id = receipted_id or fields.get("id")
    state = _MESSAGE_STATES.get(message_state or 0) or fields.get("stat", "").upper()
    if not message_id or not state:
        return None
    return DeliveryReceipt(message_id=message_id, state=state[:16], error=fields.get("err"))
