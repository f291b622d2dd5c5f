"""The ``sip`` section: defaults, validation, error paths."""

from __future__ import annotations

from typing import Any

import pytest

from interceptor.core.section import ConfigError, Section
from interceptor.sip.config import SipConfig, parse_sip

ROUTE = {"host": "192.0.2.50", "domain": "ims.example.net"}


def parse(**raw: Any) -> SipConfig:
    raw.setdefault("routes", {"on_net": ROUTE})
    return parse_sip(Section(raw, ("sip",)))


def error(**raw: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse(**raw)
    return str(info.value)


def test_defaults() -> None:
    config = parse()
    timers = config.timers
    assert (timers.t1, timers.t2, timers.t4) == (0.5, 4.0, 5.0)
    assert (timers.timer_b, timers.timer_f, timers.timer_d) == (32.0, 32.0, 32.0)
    assert (timers.ring_time, timers.ring_wait) == (0.4, 8.0)
    assert config.marker.header == "X-Beepcall" and config.marker.value == "1"
    assert config.limits.max_age == 60.0
    assert config.retry.count == 0
    [route] = config.routes
    assert (route.callee_class, route.port, route.transport, route.uri_scheme) == \
        ("on_net", 5060, "udp", "sip")
    assert route.caller_msisdn is None and route.enabled
    assert config.route("off_net") is None


def test_timer_b_follows_t1() -> None:
    timers = parse(timers={"t1_ms": 100}).timers
    assert timers.timer_b == pytest.approx(6.4) and timers.timer_f == pytest.approx(6.4)


def test_ring_time_range_enforced_unless_forced() -> None:
    assert error(ring_time_ms=250) == \
        "sip.ring_time_ms: must be 300..500 (set force: true to override)"
    assert error(ring_time_ms=501) == \
        "sip.ring_time_ms: must be 300..500 (set force: true to override)"
    assert parse(ring_time_ms=300).timers.ring_time == 0.3
    assert parse(ring_time_ms=500).timers.ring_time == 0.5
    assert parse(ring_time_ms=1500, force=True).timers.ring_time == 1.5


@pytest.mark.parametrize(("raw", "message"), [
    ({"routes": {"of_net": ROUTE}}, "sip.routes.of_net: unknown setting"),
    ({"routes": {"on_net": {"domain": "x.net"}}}, "sip.routes.on_net.host: is required"),
    ({"routes": {"on_net": {**ROUTE, "transport": "sctp"}}},
     "sip.routes.on_net.transport: must be one of udp, tcp"),
    ({"routes": {"on_net": {**ROUTE, "uri_scheme": "sips"}}},
     "sip.routes.on_net.uri_scheme: must be one of sip, tel"),
    ({"routes": {"on_net": {**ROUTE, "caller_msisdn": "0912345678"}}},
     "sip.routes.on_net.caller_msisdn: must be an E.164 number (+ and 6..15 digits)"),
    ({"routes": {"on_net": {**ROUTE, "port": 70000}}}, "sip.routes.on_net.port: must be 1..65535"),
    ({"routes": {"on_net": {**ROUTE, "local_port": 5070},
                 "off_net": {**ROUTE, "local_port": 5071}}},
     "sip.routes.off_net: routes to the same next hop must use the same local_port"),
    ({"local_address": "0.0.0.0"},
     "sip.advertised_address: is required when local_address is a wildcard address"),
    ({"timers": {"t1_ms": 500, "t2_ms": 100}}, "sip.timers.t2_ms: must be >= t1_ms"),
    ({"timers": {"t3_ms": 5}}, "sip.timers.t3_ms: unknown setting"),
    ({"marker": {"header": "X Beep"}}, "sip.marker.header: must be a header name (a SIP token)"),
    ({"limits": {"max_per_second": 0}}, "sip.limits.max_per_second: must be 0.01..1000000.0"),
    ({"retry": {"outcomes": ["no_ring"]}},
     "sip.retry.outcomes[0]: must be one of busy, unavailable"),
    ({"sdp": {"direction": "recvonly"}}, "sip.sdp.direction: must be one of inactive, sendrecv"),
    ({"ring_codes": [200]}, "sip.ring_codes[0]: must be a 18x provisional code"),
    ({"colour": "blue"}, "sip.colour: unknown setting"),
    ({"routes": {"on_net": {**ROUTE, "host": "2001:db8::5"}}},
     "sip.routes.on_net.host: is IPv6 but local_address is IPv4"),
    ({"routes": {"on_net": {**ROUTE, "host": "bad_host!"}}},
     "sip.routes.on_net.host: must be an IP address or a host name"),
])
def test_errors_name_the_path(raw: dict[str, Any], message: str) -> None:
    assert error(**raw) == message


def test_full_section() -> None:
    config = parse(
        local_address="0.0.0.0", advertised_address="198.51.100.10", user_agent="",
        ring_time_ms=450, ring_wait_ms=6000, shutdown_grace_ms=1000, ring_codes=[180],
        timers={"t1_ms": 250, "timer_b_ms": 10000, "timer_d_ms": 0},
        sdp={"enabled": False}, marker={"header": "X-Beep", "value": "yes",
                                        "charging_vector": False},
        limits={"max_concurrent": 10, "max_per_second": 20.5, "burst": 5, "queue_size": 0,
                "max_age_s": 30},
        retry={"count": 2, "delay_s": 15},
        routes={"on_net": {**ROUTE, "local_port": 5070},
                "off_net": {"host": "mgcf.example.net", "domain": "example.net",
                            "transport": "tcp", "caller_msisdn": "+84900000001"},
                "international": {**ROUTE, "enabled": False}})
    assert config.sent_by_host == "198.51.100.10" and config.user_agent is None
    assert config.timers.timer_b == 10.0 and config.timers.timer_d == 0.0
    assert config.ring_codes == (180,)
    assert config.limits.queue_size == 0 and config.limits.max_per_second == 20.5
    off_net = config.route("off_net")
    assert off_net is not None and off_net.transport == "tcp"
    assert off_net.caller_msisdn == "+84900000001"
    international = config.route("international")
    assert international is not None and not international.enabled
