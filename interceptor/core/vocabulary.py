"""The domain's words: what string columns store, what figures and metrics count by, what
the configuration names. Each closed vocabulary is one StrEnum here; a member equals its
string, so SQL, JSON and YAML keep the plain words (``CalleeClass.ON_NET == "on_net"``).
"""

from __future__ import annotations

from enum import StrEnum


class CalleeClass(StrEnum):
    ON_NET = "on_net"
    OFF_NET = "off_net"
    INTERNATIONAL = "international"
    UNKNOWN = "unknown"  # B's number could not be normalised


KNOWN_CALLEE_CLASSES = (CalleeClass.ON_NET, CalleeClass.OFF_NET, CalleeClass.INTERNATIONAL)
"""The classes a normalised number falls in; a SIP route serves one of them."""


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


class SuppressionReason(StrEnum):
    """``attempts.status_reason`` of a suppressed attempt: which rule said no."""

    BLACKLIST_CALLER = "blacklist:caller"  # at detection
    BLACKLIST_CALLEE = "blacklist:callee"  # at detection
    CLASS_OFF = "policy:class_off"  # beeps and SMS off for B's class
    QUIET_HOURS = "policy:quiet_hours"
    PAIR_INTERVAL = "policy:pair_interval"
    CALLER_HOURLY = "policy:caller_hourly"
    CALLER_DAILY = "policy:caller_daily"
    CALLEE_DAILY = "policy:callee_daily"


class OutcomeKind(StrEnum):
    """What came of a beep (``attempts.beep_outcome``, ``BeepOutcome.kind``)."""

    RANG = "rang"  # B's phone rang and we cancelled it: the beep worked
    BUSY = "busy"  # 486, 600
    UNAVAILABLE = "unavailable"  # 480
    NOT_FOUND = "not_found"  # 404, 604
    DECLINED = "declined"  # 603
    ANSWERED = "answered"  # 2xx before or racing the CANCEL: ACKed and BYEd at once
    REJECTED = "rejected"  # any other final 3xx-6xx (not 5xx)
    NO_RESPONSE = "no_response"  # Timer B: nothing at all came back
    NO_RING = "no_ring"  # provisional responses, but no 180/183 within ring_wait
    NETWORK_ERROR = "network_error"  # 5xx, ICMP port unreachable, send errors, TCP failure
    EXPIRED = "expired"  # could not start within max_age of the attempt
    REFUSED = "refused"  # never started: queue full, route disabled, bad number, stopped
    STOPPED = "stopped"  # cancelled because the emitter was stopping


RANG_OUTCOMES = frozenset({OutcomeKind.RANG, OutcomeKind.ANSWERED})
"""B's phone rang: the beep worked (an answered beep rang first)."""

NOT_BEEPED = "not_beeped"
"""The ``sms.send_after`` word for an attempt that was not beeped (beeps off for B's
class): it stands where a beep outcome would."""


class SmsStatus(StrEnum):
    """``attempts.sms_status``: queued -> sending -> submitted -> delivered | undeliverable;
    or failed (refused) / expired (queued past the age limit)."""

    QUEUED = "queued"  # approved, waiting for a bind (also: a claim released unsent)
    SENDING = "sending"  # claimed
    SUBMITTED = "submitted"  # every part has a message id
    DELIVERED = "delivered"  # delivery receipt
    UNDELIVERABLE = "undeliverable"  # delivery receipt
    FAILED = "failed"
    EXPIRED = "expired"


SMS_SENT_STATUSES = frozenset({SmsStatus.SUBMITTED, SmsStatus.DELIVERED})
"""The SMSC took the SMS: B was notified."""


class CallbackKind(StrEnum):
    """``attempts.callback_kind``: how a linked call answers the notified attempt."""

    CALLBACK = "callback"  # B called A back after a beep
    AFTER_SMS = "after_sms"  # B called A back; only the SMS reached B
    TOPPED_UP = "topped_up"  # A called B again, successfully


CALLED_BACK_KINDS = frozenset({CallbackKind.CALLBACK, CallbackKind.AFTER_SMS})
"""B called A back (after a beep, or after the SMS alone)."""


class WatchKind(StrEnum):
    """``callback_watches.kind``: what a watch waits for."""

    CALLEE = "callee"  # B may call A back (callback, after_sms)
    CALLER = "caller"  # A may call B once topped up (topped_up)
    SESSION = "session"  # a linked call's CCR-Update/Terminate carry its charged time


class CampaignStatus(StrEnum):
    """``ad_campaigns.status`` (a CHECK constraint enforces it)."""

    ACTIVE = "active"
    PAUSED = "paused"
    REMOVED = "removed"  # retired for good; its counters are kept


class BlacklistScope(StrEnum):
    CALLER = "caller"  # never beep on A's behalf
    CALLEE = "callee"  # B opted out: never beep B


class PortabilityStatus(StrEnum):
    PORTED_IN = "ported_in"
    PORTED_OUT = "ported_out"
