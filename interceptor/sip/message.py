"""SIP messages on bytes (RFC 3261 §7, §20): build our requests, parse what comes back.

No I/O and no clock: building is string formatting, parsing turns a datagram (or one framed
stream message) into a :class:`SipResponse` or :class:`SipRequest`, or raises
:class:`SipParseError` with a reason fit for a log line.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

SIP_VERSION = "SIP/2.0"
BRANCH_MAGIC = "z9hG4bK"  # RFC 3261 §8.1.1.7
CRLF = "\r\n"

# RFC 3261 §7.3.3 compact forms (and RFC 3515/3841 ones we might meet), to full lower names.
COMPACT_FORMS = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
    "s": "subject",
    "e": "content-encoding",
    "o": "event",
    "r": "refer-to",
    "b": "referred-by",
    "u": "allow-events",
    "x": "session-expires",
    "a": "accept-contact",
    "j": "reject-contact",
    "d": "request-disposition",
}
# Headers whose values may be comma-separated lists (RFC 3261 §7.3.1).
LIST_HEADERS = frozenset({"via", "contact", "route", "record-route", "allow", "supported",
                          "require", "proxy-require", "unsupported", "accept"})

REASON_PHRASES = {
    200: "OK",
    405: "Method Not Allowed",
    481: "Call/Transaction Does Not Exist",
}


class SipParseError(ValueError):
    """The bytes are not a SIP message we can use; ``str()`` says why."""


# --- identifiers ---------------------------------------------------------------------------
class IdSource:
    """Call-IDs, tags and branches: random enough to be globally unique (RFC 3261 §8.1.1)."""

    def __init__(self, rng: random.Random) -> None:
        self._bits = rng.getrandbits

    def branch(self) -> str:
        return f"{BRANCH_MAGIC}{self._bits(80):020x}"

    def tag(self) -> str:
        return f"{self._bits(48):012x}"

    def call_id(self, host: str) -> str:
        return f"{self._bits(96):024x}@{host}"

    def number(self, bits: int = 32) -> int:
        return self._bits(bits)


# --- building ------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutgoingRequest:
    """A request we send, kept as its parts so CANCEL and ACK can be derived from it."""

    method: str
    uri: str
    sent_by: str  # Via without parameters: "SIP/2.0/UDP 192.0.2.10:5070"
    branch: str
    from_: str  # name-addr with ;tag=
    to: str
    call_id: str
    cseq: int
    max_forwards: int = 70
    routes: tuple[str, ...] = ()
    contact: str | None = None
    extra: tuple[tuple[str, str], ...] = ()  # further (name, value) headers, in order
    content_type: str | None = None
    body: bytes = b""

    @property
    def via(self) -> str:
        return f"{self.sent_by};branch={self.branch};rport"

    def encode(self) -> bytes:
        lines = [
            f"{self.method} {self.uri} {SIP_VERSION}",
            f"Via: {self.via}",
            f"Max-Forwards: {self.max_forwards}",
        ]
        lines.extend(f"Route: {route}" for route in self.routes)
        lines.append(f"From: {self.from_}")
        lines.append(f"To: {self.to}")
        lines.append(f"Call-ID: {self.call_id}")
        lines.append(f"CSeq: {self.cseq} {self.method}")
        if self.contact is not None:
            lines.append(f"Contact: {self.contact}")
        lines.extend(f"{name}: {value}" for name, value in self.extra)
        if self.content_type is not None:
            lines.append(f"Content-Type: {self.content_type}")
        lines.append(f"Content-Length: {len(self.body)}")
        return (CRLF.join(lines) + CRLF + CRLF).encode() + self.body


def cancel_for(invite: OutgoingRequest, extra: tuple[tuple[str, str], ...] = ()) -> \
        OutgoingRequest:
    """RFC 3261 §9.1: same Request-URI, Via branch, Call-ID, From, To (no tag), Route and
    CSeq number as the INVITE; method CANCEL; no body."""
    return OutgoingRequest(
        method="CANCEL", uri=invite.uri, sent_by=invite.sent_by, branch=invite.branch,
        from_=invite.from_, to=invite.to, call_id=invite.call_id, cseq=invite.cseq,
        max_forwards=invite.max_forwards, routes=invite.routes, extra=extra,
    )


def ack_for_non2xx(invite: OutgoingRequest, response_to: str) -> OutgoingRequest:
    """RFC 3261 §17.1.1.3: the ACK of a non-2xx final is part of the INVITE transaction:
    same branch, Request-URI, From, Call-ID, CSeq number and Route; To of the response."""
    return OutgoingRequest(
        method="ACK", uri=invite.uri, sent_by=invite.sent_by, branch=invite.branch,
        from_=invite.from_, to=response_to, call_id=invite.call_id, cseq=invite.cseq,
        max_forwards=invite.max_forwards, routes=invite.routes,
    )


def name_addr(uri: str, tag: str | None = None, display: str | None = None) -> str:
    text = f"<{uri}>" if display is None else f'"{display}" <{uri}>'
    return text if tag is None else f"{text};tag={tag}"


# --- parsing -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SipMessage:
    """What requests and responses share: headers (lower-case full names) and the body."""

    headers: tuple[tuple[str, str], ...]
    body: bytes
    branch: str  # of the top Via
    call_id: str
    cseq_number: int
    cseq_method: str
    from_tag: str | None
    to: str
    to_tag: str | None
    _index: dict[str, list[str]] = field(repr=False, compare=False, default_factory=dict)

    def first(self, name: str) -> str | None:
        values = self._index.get(name.lower())
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        """Every value of a header, list headers split at their commas."""
        values = self._index.get(name.lower(), [])
        if name.lower() in LIST_HEADERS:
            return [item for value in values for item in split_commas(value)]
        return list(values)

    def has(self, name: str) -> bool:
        return name.lower() in self._index


@dataclass(frozen=True)
class SipResponse(SipMessage):
    status: int = 0
    reason_phrase: str = ""

    @property
    def is_provisional(self) -> bool:
        return self.status < 200

    @property
    def status_line(self) -> str:
        return f"{self.status} {self.reason_phrase}".rstrip()


@dataclass(frozen=True)
class SipRequest(SipMessage):
    method: str = ""
    uri: str = ""


def parse_message(data: bytes, max_size: int = 65535) -> SipResponse | SipRequest:
    """One whole SIP message; anything unusable raises :class:`SipParseError`."""
    if len(data) > max_size:
        raise SipParseError(f"message of {len(data)} bytes exceeds {max_size}")
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        head_bytes, body_start = data[:end], end + 4
    else:
        end = data.find(b"\n\n")  # RFC 3261 §7.5: tolerate bare LF
        if end < 0:
            raise SipParseError("no end of headers")
        head_bytes, body_start = data[:end], end + 2
    try:
        head = head_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("headers are not UTF-8") from None
    lines = head.replace("\r\n", "\n").split("\n")
    while lines and not lines[0]:
        lines.pop(0)  # RFC 3261 §7.5: ignore CRLFs before the start line
    if not lines:
        raise SipParseError("empty message")
    start = lines[0]
    is_response = start.startswith(SIP_VERSION + " ")
    if is_response:
        status, reason = _status_line(start)
    else:
        method, uri = _request_line(start)
    headers = list(_headers(lines[1:]))
    index: dict[str, list[str]] = {}
    for name, value in headers:
        index.setdefault(name, []).append(value)
    body = _body(data, body_start, index)
    c = _common_fields(index)
    if is_response:
        return SipResponse(tuple(headers), body, c.branch, c.call_id, c.cseq_number,
                           c.cseq_method, c.from_tag, c.to, c.to_tag, index, status, reason)
    return SipRequest(tuple(headers), body, c.branch, c.call_id, c.cseq_number,
                      c.cseq_method, c.from_tag, c.to, c.to_tag, index, method, uri)


def _headers(lines: list[str]) -> Iterator[tuple[str, str]]:
    name: str | None = None
    value = ""
    for line in lines:
        if line[:1] in (" ", "\t"):
            if name is None:
                raise SipParseError("continuation line before any header")
            value += " " + line.strip()
            continue
        if name is not None:
            yield name, value
        colon = line.find(":")
        if colon <= 0:
            raise SipParseError(f"header line without a name: {line[:40]!r}")
        raw_name = line[:colon].strip().lower()
        if not raw_name or " " in raw_name:
            raise SipParseError(f"bad header name {line[:colon]!r}")
        name = COMPACT_FORMS.get(raw_name, raw_name)
        value = line[colon + 1:].strip()
    if name is not None:
        yield name, value


def _body(data: bytes, start: int, index: dict[str, list[str]]) -> bytes:
    lengths = index.get("content-length")
    available = len(data) - start
    if not lengths:
        return data[start:]  # allowed over UDP (RFC 3261 §18.3)
    try:
        length = int(lengths[0])
    except ValueError:
        raise SipParseError(f"bad Content-Length {lengths[0]!r}") from None
    if length < 0 or length > available:
        raise SipParseError(f"Content-Length {length} but {available} body bytes")
    return data[start:start + length]


class _Common(NamedTuple):
    branch: str
    call_id: str
    cseq_number: int
    cseq_method: str
    from_tag: str | None
    to: str
    to_tag: str | None


def _common_fields(index: dict[str, list[str]]) -> _Common:
    vias = index.get("via")
    if not vias:
        raise SipParseError("no Via")
    top_via = split_commas(vias[0])[0]
    branch = header_param(top_via, "branch")
    call_ids = index.get("call-id")
    if not call_ids or not call_ids[0]:
        raise SipParseError("no Call-ID")
    cseqs = index.get("cseq")
    if not cseqs:
        raise SipParseError("no CSeq")
    parts = cseqs[0].split()
    if len(parts) != 2 or not parts[0].isdigit():
        raise SipParseError(f"bad CSeq {cseqs[0]!r}")
    froms = index.get("from")
    tos = index.get("to")
    if not froms or not tos:
        raise SipParseError("no From or To")
    return _Common(branch or "", call_ids[0], int(parts[0]), parts[1].upper(),
                   address_param(froms[0], "tag"), tos[0], address_param(tos[0], "tag"))


def _status_line(line: str) -> tuple[int, str]:
    parts = line.split(" ", 2)
    if len(parts) < 2 or len(parts[1]) != 3 or not parts[1].isdigit():
        raise SipParseError(f"bad status line {line[:60]!r}")
    status = int(parts[1])
    if not 100 <= status <= 699:
        raise SipParseError(f"status {status} out of range")
    return status, parts[2] if len(parts) == 3 else ""


def _request_line(line: str) -> tuple[str, str]:
    parts = line.split(" ")
    if len(parts) != 3 or parts[2] != SIP_VERSION or not parts[0].isalpha():
        raise SipParseError(f"bad start line {line[:60]!r}")
    return parts[0].upper(), parts[1]


# --- header value helpers ------------------------------------------------------------------
def split_commas(value: str) -> list[str]:
    """Split a list header at commas outside quotes and angle brackets."""
    if "," not in value:
        return [value.strip()]
    items: list[str] = []
    start = 0
    quoted = False
    angle = False
    escaped = False
    for position, char in enumerate(value):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char == "<":
            angle = True
        elif not quoted and char == ">":
            angle = False
        elif char == "," and not quoted and not angle:
            items.append(value[start:position].strip())
            start = position + 1
    items.append(value[start:].strip())
    return [item for item in items if item]


def _params(text: str) -> Iterable[tuple[str, str | None]]:
    for part in text.split(";"):
        name, sep, val = part.partition("=")
        name = name.strip().lower()
        if name:
            yield name, (val.strip() if sep else None)


def header_param(value: str, name: str) -> str | None:
    """A parameter of a Via-like value (``SIP/2.0/UDP h:p;branch=x``)."""
    _, _, params = value.partition(";")
    for key, val in _params(params):
        if key == name:
            return val if val is not None else ""
    return None


def address_param(value: str, name: str) -> str | None:
    """A header parameter of a From/To/Contact value (after ``>``, or after the addr-spec)."""
    close = value.rfind(">")
    params = value[close + 1:] if close >= 0 else value.partition(";")[2]
    if close >= 0:
        params = params.partition(";")[2]
    for key, val in _params(params):
        if key == name:
            return val if val is not None else ""
    return None


def address_uri(value: str) -> str:
    """The URI of a name-addr (``"A" <sip:a@h>;tag=1`` -> ``sip:a@h``) or addr-spec."""
    open_ = value.find("<")
    if open_ >= 0:
        close = value.find(">", open_)
        if close < 0:
            raise SipParseError(f"unbalanced <> in {value[:60]!r}")
        return value[open_ + 1:close].strip()
    return value.partition(";")[0].strip()


# --- responses to requests we receive ------------------------------------------------------
def build_response(request: SipRequest, status: int, to_tag: str | None = None,
                   reason: str | None = None) -> bytes:
    """A minimal response (RFC 3261 §8.2.6): Vias, From, To(+tag), Call-ID, CSeq copied."""
    phrase = reason or REASON_PHRASES.get(status, "")
    lines = [f"{SIP_VERSION} {status} {phrase}".rstrip()]
    lines.extend(f"Via: {via}" for via in request.all("via"))
    to = request.to
    if to_tag is not None and request.to_tag is None:
        to = f"{to};tag={to_tag}"
    lines.append(f"From: {request.first('from')}")
    lines.append(f"To: {to}")
    lines.append(f"Call-ID: {request.call_id}")
    lines.append(f"CSeq: {request.cseq_number} {request.cseq_method}")
    lines.append("Content-Length: 0")
    return (CRLF.join(lines) + CRLF + CRLF).encode()
