"""The ``sip`` configuration section: routes per callee class, timers, limits, the marker.

Durations are written in the unit their key names (``_ms`` or ``_s``) and held in seconds.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from interceptor.core.section import ConfigError, Section
from interceptor.core.vocabulary import KNOWN_CALLEE_CLASSES, OutcomeKind

TRANSPORTS = ("udp", "tcp")
URI_SCHEMES = ("sip", "tel")
SDP_DIRECTIONS = ("inactive", "sendrecv")
RETRYABLE_OUTCOMES = (OutcomeKind.BUSY.value, OutcomeKind.UNAVAILABLE.value)  # B is there
RING_TIME_RANGE_MS = (300, 500)
_E164 = re.compile(r"^\+?[1-9][0-9]{5,14}$")
_TOKEN = re.compile(r"^[A-Za-z0-9!%*_+`'~.-]+$")  # RFC 3261 token (header names, tags)
_HEADER_VALUE = re.compile(r"^[\x20-\x7e]+$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")


@dataclass(frozen=True)
class RouteConfig:
    """Where the beeps to one callee class go and what they present."""

    callee_class: str
    host: str
    domain: str
    port: int = 5060
    transport: str = "udp"
    enabled: bool = True
    uri_scheme: str = "sip"  # Request-URI/From/To/P-Asserted-Identity: sip:+E164@domain or tel:
    caller_msisdn: str | None = None  # presented caller; None: A's own number
    local_port: int = 0  # our source port towards this next hop; 0: any free port

    @property
    def endpoint(self) -> tuple[str, str, int]:
        """(transport, host, port): routes with equal endpoints share one socket."""
        return (self.transport, self.host, self.port)


@dataclass(frozen=True)
class SipTimers:
    """RFC 3261 timers and the beep's own, in seconds."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    timer_b: float = 32.0  # INVITE transaction timeout (64*T1); also Timer M (RFC 6026)
    timer_d: float = 32.0  # absorb retransmitted INVITE finals (UDP)
    timer_f: float = 32.0  # non-INVITE transaction timeout (64*T1)
    ring_time: float = 0.4  # first 180/183 -> CANCEL
    ring_wait: float = 8.0  # INVITE sent -> CANCEL when nothing rang by then
    shutdown_grace: float = 5.0  # stop(): how long calls get to end after their CANCEL
    tcp_connect: float = 4.0  # TCP transport: connect timeout


@dataclass(frozen=True)
class SdpConfig:
    enabled: bool = True
    media_port: int = 49170  # advertised only: no media is ever sent or received
    direction: str = "inactive"


@dataclass(frozen=True)
class MarkerConfig:
    """How our calls are recognisable: a header, and optionally the charging vector."""

    header: str = "X-Beepcall"
    value: str = "1"
    charging_vector: bool = True  # send P-Charging-Vector with an icid-value we choose
    icid_prefix: str = "beepcall-"


@dataclass(frozen=True)
class BeepLimits:
    max_concurrent: int = 2000
    max_per_second: float = 500.0
    burst: int = 50
    queue_size: int = 20000
    max_age: float = 60.0  # seconds from BeepRequest.created_at to INVITE sent


@dataclass(frozen=True)
class RetryConfig:
    count: int = 0  # extra attempts after a retryable outcome; 0: off
    delay: float = 30.0
    outcomes: tuple[str, ...] = RETRYABLE_OUTCOMES


@dataclass(frozen=True)
class SipConfig:
    routes: tuple[RouteConfig, ...] = ()
    local_address: str = "127.0.0.1"  # bind address
    advertised_address: str | None = None  # Via/Contact host; default local_address
    contact_user: str = "beepcall"
    user_agent: str | None = "beepcall-interceptor"
    max_forwards: int = 70
    ring_codes: tuple[int, ...] = (180, 183)
    timers: SipTimers = field(default_factory=SipTimers)
    sdp: SdpConfig = field(default_factory=SdpConfig)
    marker: MarkerConfig = field(default_factory=MarkerConfig)
    limits: BeepLimits = field(default_factory=BeepLimits)
    retry: RetryConfig = field(default_factory=RetryConfig)
    max_message_size: int = 65535
    udp_receive_buffer: int = 4 * 1024 * 1024  # SO_RCVBUF bytes (capped by the kernel); 0: default

    @property
    def sent_by_host(self) -> str:
        return self.advertised_address or self.local_address

    def route(self, callee_class: str) -> RouteConfig | None:
        for route in self.routes:
            if route.callee_class == callee_class:
                return route
        return None


def is_e164(number: str) -> bool:
    """``+`` (optional) and 6 to 15 digits, no leading zero."""
    return bool(_E164.match(number))


def parse_sip(section: Section) -> SipConfig:
    """Read and check the ``sip`` section; every problem is a :class:`ConfigError`."""
    force = section.bool("force", False)
    timers = _timers(section, force)
    local_address = section.ip_address("local_address", "127.0.0.1")
    advertised = section.optional_str("advertised_address")
    if advertised is None and ipaddress.ip_address(local_address).is_unspecified:
        raise ConfigError("is required when local_address is a wildcard address",
                          section.at("advertised_address"))
    contact_user = section.str("contact_user", "beepcall")
    if not _TOKEN.match(contact_user):
        raise ConfigError("must be a SIP token (letters, digits, -.!%*_+`'~)",
                          section.at("contact_user"))
    user_agent = section.str("user_agent", "beepcall-interceptor", allow_empty=True) or None
    if user_agent is not None and not _HEADER_VALUE.match(user_agent):
        raise ConfigError("must be printable ASCII", section.at("user_agent"))
    ring_codes = section.int_list("ring_codes", [180, 183])
    for index, code in enumerate(ring_codes):
        if not 180 <= code <= 199:
            raise ConfigError("must be a 18x provisional code", (*section.at("ring_codes"), index))
    if not ring_codes:
        raise ConfigError("must name at least one 18x code", section.at("ring_codes"))
    routes = _routes(section.section("routes"))
    family = ipaddress.ip_address(local_address).version
    for route in routes:
        if is_ip_address(route.host) and ipaddress.ip_address(route.host).version != family:
            raise ConfigError(f"is IPv{ipaddress.ip_address(route.host).version} but "
                              f"local_address is IPv{family}",
                              (*section.at("routes"), route.callee_class, "host"))
    config = SipConfig(
        routes=routes,
        local_address=local_address,
        advertised_address=advertised,
        contact_user=contact_user,
        user_agent=user_agent,
        max_forwards=section.int("max_forwards", 70, low=1, high=255),
        ring_codes=tuple(ring_codes),
        timers=timers,
        sdp=_sdp(section.section("sdp")),
        marker=_marker(section.section("marker")),
        limits=_limits(section.section("limits")),
        retry=_retry(section.section("retry")),
        max_message_size=section.int("max_message_size", 65535, low=1300, high=65535),
        udp_receive_buffer=section.int("udp_receive_buffer", 4 * 1024 * 1024, low=0,
                                       high=1 << 30),
    )
    section.reject_unknown()
    return config


def is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _ms(section: Section, key: str, default: int, low: int, high: int) -> float:
    return section.int(key, default, low=low, high=high) / 1000.0


def _timers(section: Section, force: bool) -> SipTimers:
    low, high = RING_TIME_RANGE_MS
    ring_time_ms = section.int("ring_time_ms", 400, low=1, high=60_000)
    if not force and not low <= ring_time_ms <= high:
        raise ConfigError(f"must be {low}..{high} (set force: true to override)",
                          section.at("ring_time_ms"))
    ring_wait = _ms(section, "ring_wait_ms", 8000, 100, 300_000)
    shutdown_grace = _ms(section, "shutdown_grace_ms", 5000, 0, 300_000)
    sub = section.section("timers")
    t1 = _ms(sub, "t1_ms", 500, 10, 60_000)
    t2 = _ms(sub, "t2_ms", 4000, 10, 600_000)
    if t2 < t1:
        raise ConfigError("must be >= t1_ms", sub.at("t2_ms"))
    t1_ms = round(t1 * 1000)
    timers = SipTimers(
        t1=t1,
        t2=t2,
        t4=_ms(sub, "t4_ms", 5000, 0, 600_000),
        timer_b=_ms(sub, "timer_b_ms", 64 * t1_ms, 1, 3_600_000),
        timer_d=_ms(sub, "timer_d_ms", 32_000, 0, 3_600_000),
        timer_f=_ms(sub, "timer_f_ms", 64 * t1_ms, 1, 3_600_000),
        tcp_connect=_ms(sub, "tcp_connect_ms", 4000, 10, 600_000),
        ring_time=ring_time_ms / 1000.0,
        ring_wait=ring_wait,
        shutdown_grace=shutdown_grace,
    )
    sub.reject_unknown()
    return timers


def _routes(section: Section) -> tuple[RouteConfig, ...]:
    routes = []
    for callee_class in KNOWN_CALLEE_CLASSES:
        if section.has(callee_class):
            routes.append(_route(section.section(callee_class), callee_class))
    section.reject_unknown()
    ports: dict[tuple[str, str, int], int] = {}
    for route in routes:
        if not route.enabled:
            continue
        if route.transport == "udp" and ports.setdefault(route.endpoint, route.local_port) \
                != route.local_port:
            raise ConfigError("routes to the same next hop must use the same local_port",
                              section.at(route.callee_class))
    return tuple(routes)


def _route(section: Section, callee_class: str) -> RouteConfig:
    transport = section.str("transport", "udp").lower()
    if transport not in TRANSPORTS:
        raise ConfigError(f"must be one of {', '.join(TRANSPORTS)}", section.at("transport"))
    scheme = section.str("uri_scheme", "sip").lower()
    if scheme not in URI_SCHEMES:
        raise ConfigError(f"must be one of {', '.join(URI_SCHEMES)}", section.at("uri_scheme"))
    caller = section.optional_str("caller_msisdn")
    if caller is not None and not is_e164(caller):
        raise ConfigError("must be an E.164 number (+ and 6..15 digits)",
                          section.at("caller_msisdn"))
    domain = section.str("domain")
    if not _HOST.match(domain):
        raise ConfigError("must be a host name", section.at("domain"))
    host = section.str("host")
    if not _HOST.match(host) and not is_ip_address(host):
        raise ConfigError("must be an IP address or a host name", section.at("host"))
    route = RouteConfig(
        callee_class=callee_class,
        enabled=section.bool("enabled", True),
        host=host,
        port=section.port("port", 5060),
        transport=transport,
        domain=domain,
        uri_scheme=scheme,
        caller_msisdn=caller,
        local_port=section.port("local_port", 0, allow_any=True),
    )
    section.reject_unknown()
    return route


def _sdp(section: Section) -> SdpConfig:
    direction = section.str("direction", "inactive")
    if direction not in SDP_DIRECTIONS:
        raise ConfigError(f"must be one of {', '.join(SDP_DIRECTIONS)}",
                          section.at("direction"))
    sdp = SdpConfig(
        enabled=section.bool("enabled", True),
        media_port=section.port("media_port", 49170),
        direction=direction,
    )
    section.reject_unknown()
    return sdp


def _marker(section: Section) -> MarkerConfig:
    header = section.str("header", "X-Beepcall")
    if not _TOKEN.match(header):
        raise ConfigError("must be a header name (a SIP token)", section.at("header"))
    value = section.str("value", "1")
    if not _HEADER_VALUE.match(value) or value != value.strip():
        raise ConfigError("must be printable ASCII without surrounding spaces",
                          section.at("value"))
    prefix = section.str("icid_prefix", "beepcall-")
    if not _TOKEN.match(prefix):
        raise ConfigError("must be a SIP token", section.at("icid_prefix"))
    marker = MarkerConfig(
        header=header,
        value=value,
        charging_vector=section.bool("charging_vector", True),
        icid_prefix=prefix,
    )
    section.reject_unknown()
    return marker


def _limits(section: Section) -> BeepLimits:
    limits = BeepLimits(
        max_concurrent=section.int("max_concurrent", 2000, low=1, high=1_000_000),
        max_per_second=section.float("max_per_second", 500.0, low=0.01, high=1_000_000.0),
        burst=section.int("burst", 50, low=1, high=1_000_000),
        queue_size=section.int("queue_size", 20000, low=0, high=10_000_000),
        max_age=section.float("max_age_s", 60.0, low=0.001, high=86_400.0),
    )
    section.reject_unknown()
    return limits


def _retry(section: Section) -> RetryConfig:
    outcomes = section.str_list("outcomes", list(RETRYABLE_OUTCOMES))
    for index, name in enumerate(outcomes):
        if name not in RETRYABLE_OUTCOMES:
            raise ConfigError(f"must be one of {', '.join(RETRYABLE_OUTCOMES)}",
                              (*section.at("outcomes"), index))
    retry = RetryConfig(
        count=section.int("count", 0, low=0, high=10),
        delay=section.float("delay_s", 30.0, low=0.0, high=86_400.0),
        outcomes=tuple(outcomes),
    )
    section.reject_unknown()
    return retry
