"""The requests of a beep: the INVITE to B, its CANCEL, and, if B answers, ACK and BYE.

The INVITE presents the caller in From and P-Asserted-Identity (RFC 3325), carries the beep
marker header and, optionally, a P-Charging-Vector (RFC 7315) whose icid-value starts with
the configured prefix, so any charging the network does for it is recognisable too.
"""

from __future__ import annotations

from interceptor.sip.config import MarkerConfig, RouteConfig, SipConfig
from interceptor.sip.message import (
    IdSource,
    OutgoingRequest,
    SipResponse,
    address_uri,
    cancel_for,
    name_addr,
)
from interceptor.sip.sdp import CONTENT_TYPE as SDP
from interceptor.sip.sdp import build_offer, rejecting_answer
from interceptor.sip.transaction import Flow

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"


def plus_e164(number: str) -> str:
    """``84912345678`` or ``+84912345678`` -> ``+84912345678``."""
    return number if number.startswith("+") else f"+{number}"


def party_uri(number: str, route: RouteConfig) -> str:
    """``sip:+E164@domain;user=phone`` or ``tel:+E164`` (RFC 3966) as the route says."""
    if route.uri_scheme == "tel":
        return f"tel:{plus_e164(number)}"
    return f"sip:{plus_e164(number)}@{route.domain};user=phone"


def marker_headers(marker: MarkerConfig) -> tuple[tuple[str, str], ...]:
    return ((marker.header, marker.value),)


class RequestBuilder:
    def __init__(self, config: SipConfig, ids: IdSource) -> None:
        self.config = config
        self.ids = ids
        self._marker = marker_headers(config.marker)
        self._user_agent: tuple[tuple[str, str], ...] = \
            (("User-Agent", config.user_agent),) if config.user_agent else ()

    def invite(self, caller: str, callee: str, route: RouteConfig, flow: Flow) -> \
            OutgoingRequest:
        config = self.config
        ids = self.ids
        host = config.sent_by_host
        caller_uri = party_uri(caller, route)
        callee_uri = party_uri(callee, route)
        extra: list[tuple[str, str]] = [("P-Asserted-Identity", name_addr(caller_uri))]
        extra.extend(self._marker)
        marker = config.marker
        if marker.charging_vector:
            icid = f"{marker.icid_prefix}{ids.number(64):016x}"
            extra.append(("P-Charging-Vector",
                          f"icid-value={icid};icid-generated-at={_host_param(host)}"))
        extra.append(("Allow", ALLOW))
        extra.extend(self._user_agent)
        body = b""
        content_type = None
        if config.sdp.enabled:
            body = build_offer(host, config.sdp.media_port, config.sdp.direction,
                               ids.number(31))
            content_type = SDP
        return OutgoingRequest(
            method="INVITE",
            uri=callee_uri,
            sent_by=flow.sent_by,
            branch=ids.branch(),
            from_=name_addr(caller_uri, ids.tag()),
            to=name_addr(callee_uri),
            call_id=ids.call_id(host),
            cseq=1,
            max_forwards=config.max_forwards,
            contact=f"<sip:{config.contact_user}@{flow.contact_address}>",
            extra=tuple(extra),
            content_type=content_type,
            body=body,
        )

    def cancel(self, invite: OutgoingRequest) -> OutgoingRequest:
        return cancel_for(invite, extra=self._marker + self._user_agent)

    def in_dialog(self, invite: OutgoingRequest, response: SipResponse, method: str,
                  cseq: int) -> OutgoingRequest:
        """ACK (for a 2xx) or BYE in the dialog the 2xx created (RFC 3261 §12.1.2,
        §12.2.1.1): target = the 2xx's Contact, route set = its Record-Route reversed
        (loose routing assumed), To with the remote tag, a new branch. The message goes
        to the route's next hop, which acts as our outbound proxy."""
        contacts = response.all("contact")
        target = address_uri(contacts[0]) if contacts else invite.uri
        routes = tuple(reversed(response.all("record-route")))
        body = b""
        content_type = None
        if method == "ACK" and not invite.body and response.body:
            answer = rejecting_answer(response.body, self.config.sent_by_host,
                                      self.ids.number(31))
            if answer is not None:
                body, content_type = answer, SDP
        return OutgoingRequest(
            method=method,
            uri=target,
            sent_by=invite.sent_by,
            branch=self.ids.branch(),
            from_=invite.from_,
            to=response.to,
            call_id=invite.call_id,
            cseq=cseq,
            max_forwards=invite.max_forwards,
            routes=routes,
            extra=self._marker + self._user_agent,
            content_type=content_type,
            body=body,
        )


def _host_param(host: str) -> str:
    return f"[{host}]" if ":" in host else host

