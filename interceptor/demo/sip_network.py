"""B's network for the demo: a SIP UAS on UDP that rings each callee (100, 180) and
answers a CANCEL with 200 and 487, or answers busy (486) for the demo's busy numbers.
It records what it saw so the demo can print it. Not a SIP stack: just enough UAS."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.protocol import DatagramProtocol

from interceptor.sip.message import SipParseError, SipRequest, parse_message

logger = logging.getLogger(__name__)

_ECHOED = {"via": "Via", "from": "From", "call-id": "Call-ID", "cseq": "CSeq"}


@dataclass
class RangCall:
    caller: str
    callee: str
    cancelled: bool = False


@dataclass
class DemoSipNetwork(DatagramProtocol):
    busy: frozenset[str] = frozenset()
    calls: dict[str, RangCall] = field(default_factory=dict)

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        try:
            message = parse_message(datagram)
        except SipParseError as error:
            logger.warning("demo SIP network: unreadable message: %s", error)
            return
        if not isinstance(message, SipRequest):
            return
        if message.method == "INVITE" and message.call_id not in self.calls:
            callee = message.to.split("sip:", 1)[-1].split("@", 1)[0].lstrip("+")
            caller = (message.first("p-asserted-identity") or "").split("sip:", 1)[-1]
            self.calls[message.call_id] = RangCall(caller.split("@", 1)[0], callee)
            self._respond(message, addr, 100, "Trying")
            if callee in self.busy:
                self._respond(message, addr, 486, "Busy Here", tag=True)
            else:
                self._respond(message, addr, 180, "Ringing", tag=True)
        elif message.method == "CANCEL":
            call = self.calls.get(message.call_id)
            if call is not None:
                call.cancelled = True
            self._respond(message, addr, 200, "OK", tag=True)
            invite_cseq = f"{message.cseq_number} INVITE"
            self._respond(message, addr, 487, "Request Terminated", tag=True,
                          cseq=invite_cseq)
        elif message.method == "BYE":
            self._respond(message, addr, 200, "OK", tag=True)

    def _respond(self, request: SipRequest, addr: Any, status: int, reason: str,
                 tag: bool = False, cseq: str | None = None) -> None:
        lines = [f"SIP/2.0 {status} {reason}"]
        for name, label in _ECHOED.items():
            for value in request.all(name) if name == "via" else [request.first(name)]:
                if name == "cseq" and cseq is not None:
                    value = cseq
                if value is not None:
                    lines.append(f"{label}: {value}")
        to = request.first("to") or ""
        if tag and ";tag=" not in to:
            to += f";tag=demo{abs(hash(request.call_id)) % 100000}"
        lines.append(f"To: {to}")
        lines.append("Content-Length: 0")
        transport: Any = self.transport
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode(), addr)
