"""The closed and open vocabularies stored in string columns."""

from __future__ import annotations

from enum import StrEnum


class CalleeClass(StrEnum):
    ON_NET = "on_net"
    OFF_NET = "off_net"
    INTERNATIONAL = "international"
    UNKNOWN = "unknown"


class ResultCodeSource(StrEnum):
    """Where the out-of-credit Result-Code was found in the CCA."""

    TOP_LEVEL = "top_level"
    MSCC = "mscc"
    EXPERIMENTAL = "experimental"  # Experimental-Result-Code, where configured


class AttemptStatus(StrEnum):
    """Life cycle of an attempt; later features may add values (no migration needed)."""

    RECORDED = "recorded"
    SUPPRESSED = "suppressed"  # status_reason says which policy (blacklist, threshold...)
    BEEPING = "beeping"
    BEEPED = "beeped"
    FAILED = "failed"  # status_reason / beep_outcome say why
    SMS_ONLY = "sms_only"  # beeps off for the callee's class, the SMS on (sms_status)


class BlacklistScope(StrEnum):
    CALLER = "caller"  # never beep on A's behalf
    CALLEE = "callee"  # B opted out: never beep B


class PortabilityStatus(StrEnum):
    PORTED_IN = "ported_in"
    PORTED_OUT = "ported_out"
