"""The beep emitter: a SIP user agent client (RFC 3261) that rings B and hangs up.

See README.md in this folder for the call flow, routing and loop safety.
"""

from interceptor.sip.config import SipConfig, parse_sip
from interceptor.sip.emitter import BeepEmitter
from interceptor.sip.marker import is_beep_call, is_beep_charging_id
from interceptor.sip.outcome import BeepOutcome, BeepRequest, CallTimes

__all__ = [
    "BeepEmitter",
    "BeepOutcome",
    "BeepRequest",
    "CallTimes",
    "SipConfig",
    "is_beep_call",
    "is_beep_charging_id",
    "parse_sip",
]
