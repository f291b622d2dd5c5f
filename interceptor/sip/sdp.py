"""The minimal SDP (RFC 4566, offer/answer RFC 3264) a beep needs; no media is ever sent."""

from __future__ import annotations

import ipaddress

CONTENT_TYPE = "application/sdp"


def _address_type(address: str) -> str:
    return "IP6" if ipaddress.ip_address(address).version == 6 else "IP4"


def build_offer(address: str, media_port: int, direction: str, session_id: int) -> bytes:
    """An audio offer (PCMU, PCMA) for networks that refuse INVITEs without SDP."""
    return _description(address, session_id, [
        f"m=audio {media_port} RTP/AVP 0 8",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        f"a={direction}",
    ])


def rejecting_answer(offer: bytes, address: str, session_id: int) -> bytes | None:
    """An answer refusing every stream of ``offer`` (port 0, RFC 3264 §6), for the ACK of
    a 2xx that carried an offer we must answer before hanging up. None if no m= line."""
    media = []
    for raw in offer.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if line.startswith("m="):
            parts = line[2:].split()
            if len(parts) >= 4:
                media.append(f"m={parts[0]} 0 {parts[2]} {parts[3]}")
    if not media:
        return None
    return _description(address, session_id, media)


def _description(address: str, session_id: int, media: list[str]) -> bytes:
    """A session description: our origin and connection lines, then ``media``."""
    kind = _address_type(address)
    lines = [
        "v=0",
        f"o=- {session_id} {session_id} IN {kind} {address}",
        "s=-",
        f"c=IN {kind} {address}",
        "t=0 0",
        *media,
    ]
    return ("\r\n".join(lines) + "\r\n").encode()
