"""Recognising our own beeps, so that nothing ever beeps because of a beep.

Every request of a beep carries the marker header (default ``X-Beepcall: 1``); the INVITE
also carries a P-Charging-Vector whose icid-value starts with the marker's ``icid_prefix``
(default ``beepcall-``). A network element that charges the call copies the icid into
the CCR's ``IMS-Information/IMS-Charging-Identifier`` (TS 32.299), where
:func:`is_beep_charging_id` recognises it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from interceptor.sip.config import MarkerConfig
from interceptor.sip.message import SipMessage, SipParseError, parse_message

DEFAULT_MARKER = MarkerConfig()

Headers = SipMessage | Mapping[str, str] | Iterable[tuple[str, str]] | bytes


def is_beep_call(message: Headers, marker: MarkerConfig = DEFAULT_MARKER) -> bool:
    """True if a SIP message (parsed, raw bytes, or its headers as a mapping or as
    (name, value) pairs) carries the beep marker header with the marker value.
    Header names compare case-insensitively, values exactly (after trimming)."""
    wanted = marker.header.lower()
    if isinstance(message, bytes):
        try:
            message = parse_message(message)
        except SipParseError:
            return False
    if isinstance(message, SipMessage):
        pairs: Iterable[tuple[str, str]] = message.headers
    elif isinstance(message, Mapping):
        pairs = message.items()
    else:
        pairs = message
    return any(name.strip().lower() == wanted and value.strip() == marker.value
               for name, value in pairs)


def is_beep_charging_id(icid: str | bytes | None, marker: MarkerConfig = DEFAULT_MARKER) -> bool:
    """True if an IMS charging identifier (P-Charging-Vector icid-value, or the Diameter
    IMS-Charging-Identifier AVP) is one our beeps generate."""
    if icid is None or not marker.charging_vector:
        return False
    text = icid.decode("utf-8", "replace") if isinstance(icid, bytes) else icid
    return text.strip().strip('"').startswith(marker.icid_prefix)
