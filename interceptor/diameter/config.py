"""Configuration of the Diameter agent: identity, listener, peers, routes, timers."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from interceptor import __version__
from interceptor.core import avps
from interceptor.core.section import ConfigError, Section

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AgentIdentity:
    origin_host: str
    origin_realm: str
    host_ip_addresses: tuple[str, ...]
    vendor_id: int = 0
    product_name: str = "beepcall-interceptor"
    firmware_revision: int = 1
    auth_application_ids: tuple[int, ...] = (avps.APPLICATION_CREDIT_CONTROL,)
    advertise_relay: bool = False

    def serves_application(self, application_id: int) -> bool:
        return self.advertise_relay or application_id in self.auth_application_ids


@dataclass(frozen=True)
class ListenConfig:
    address: str = "0.0.0.0"
    port: int = 3868
    backlog: int = 128


@dataclass(frozen=True)
class PeerConfig:
    """A peer we know by Origin-Host. ``connect`` peers are dialled; all may dial in."""

    origin_host: str
    role: str  # "client" or "ocs"
    allowed_networks: tuple[Network, ...]
    address: str | None = None
    port: int = 3868
    realm: str | None = None

    @property
    def connect(self) -> bool:
        return self.address is not None

    def allows(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.allowed_networks)


@dataclass(frozen=True)
class RealmRoute:
    realm: str
    primary: tuple[str, ...]
    secondary: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoutingConfig:
    realms: tuple[RealmRoute, ...] = ()
    default: tuple[str, ...] = ()


@dataclass(frozen=True)
class TimerConfig:
    """Seconds. Names follow RFC 6733 / RFC 3539 (Tw watchdog, Tx request timeout)."""

    watchdog: float = 30.0
    watchdog_jitter: float = 2.0
    request_timeout: float = 4.0
    connect_timeout: float = 5.0
    reconnect_initial: float = 1.0
    reconnect_max: float = 30.0
    reconnect_after_loss: float = 0.5
    disconnect_timeout: float = 5.0


@dataclass(frozen=True)
class LimitConfig:
    max_message_length: int = 65536
    max_pending_requests: int = 200_000


@dataclass(frozen=True)
class RelayConfig:
    identity: AgentIdentity
    listen: ListenConfig
    peers: tuple[PeerConfig, ...]
    routing: RoutingConfig
    timers: TimerConfig = field(default_factory=TimerConfig)
    limits: LimitConfig = field(default_factory=LimitConfig)

    def peer(self, origin_host: str) -> PeerConfig | None:
        for peer in self.peers:
            if peer.origin_host.lower() == origin_host.lower():
                return peer
        return None


def parse_identity(section: Section) -> AgentIdentity:
    identity = AgentIdentity(
        origin_host=section.str("origin_host"),
        origin_realm=section.str("origin_realm"),
        host_ip_addresses=tuple(
            _each_ip(section, "host_ip_addresses", section.str_list("host_ip_addresses",
                                                                    ["127.0.0.1"]))),
        vendor_id=section.int("vendor_id", 0, low=0, high=0xFFFFFFFF),
        product_name=section.str("product_name", "beepcall-interceptor"),
        firmware_revision=section.int("firmware_revision", _firmware_revision(), low=0,
                                      high=0xFFFFFFFF),
        auth_application_ids=tuple(section.int_list("auth_application_ids",
                                                     [avps.APPLICATION_CREDIT_CONTROL])),
        advertise_relay=section.bool("advertise_relay", False),
    )
    if not identity.auth_application_ids and not identity.advertise_relay:
        raise ConfigError("must name at least one application unless advertise_relay is on",
                          section.at("auth_application_ids"))
    section.reject_unknown()
    return identity


def _each_ip(section: Section, key: str, values: list[str]) -> list[str]:
    for index, value in enumerate(values):
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ConfigError(f"{value!r} is not an IP address",
                              (*section.at(key), index)) from None
    return values


def _firmware_revision() -> int:
    major, minor, patch = (int(part) for part in __version__.split(".")[:3])
    return major * 10000 + minor * 100 + patch


def parse_listen(section: Section) -> ListenConfig:
    listen = ListenConfig(
        address=section.ip_address("address", "0.0.0.0"),
        port=section.port("port", 3868, allow_any=True),
        backlog=section.int("backlog", 128, low=1, high=65535),
    )
    section.reject_unknown()
    return listen


def parse_peers(section: Section) -> tuple[PeerConfig, ...]:
    peers: list[PeerConfig] = []
    seen: set[str] = set()
    for peer_section in section.sections("clients", []):
        networks = peer_section.networks("addresses")
        origin_host = peer_section.str("origin_host")
        _check_unique(peer_section, origin_host, seen)
        peers.append(PeerConfig(
            origin_host=origin_host,
            role="client",
            allowed_networks=networks,
            realm=peer_section.optional_str("realm"),
        ))
        peer_section.reject_unknown()
    for peer_section in section.sections("ocs", []):
        origin_host = peer_section.str("origin_host")
        _check_unique(peer_section, origin_host, seen)
        address = peer_section.ip_address("address")
        port = peer_section.port("port", 3868)
        networks = peer_section.networks("addresses", [address])
        peers.append(PeerConfig(
            origin_host=origin_host,
            role="ocs",
            allowed_networks=networks,
            address=address,
            port=port,
            realm=peer_section.optional_str("realm"),
        ))
        peer_section.reject_unknown()
    section.reject_unknown()
    return tuple(peers)


def _check_unique(peer_section: Section, origin_host: str, seen: set[str]) -> None:
    if origin_host.lower() in seen:
        raise ConfigError(f"peer {origin_host!r} is configured twice",
                          peer_section.at("origin_host"))
    seen.add(origin_host.lower())


def parse_routing(section: Section, peers: tuple[PeerConfig, ...]) -> RoutingConfig:
    known = {peer.origin_host.lower() for peer in peers}

    def peer_list(sub: Section, key: str) -> tuple[str, ...]:
        names = sub.str_list(key, [])
        for index, name in enumerate(names):
            if name.lower() not in known:
                raise ConfigError(f"unknown peer {name!r}", (*sub.at(key), index))
        return tuple(names)

    realms = []
    for route_section in section.sections("realms", []):
        route = RealmRoute(
            realm=route_section.str("realm"),
            primary=peer_list(route_section, "primary"),
            secondary=peer_list(route_section, "secondary"),
        )
        if not route.primary:
            raise ConfigError("must name at least one peer", route_section.at("primary"))
        route_section.reject_unknown()
        realms.append(route)
    default = peer_list(section, "default")
    section.reject_unknown()
    return RoutingConfig(realms=tuple(realms), default=default)


def parse_timers(section: Section) -> TimerConfig:
    defaults = TimerConfig()
    timers = TimerConfig(
        watchdog=section.float("watchdog", defaults.watchdog, low=6.0, high=3600.0),
        watchdog_jitter=section.float("watchdog_jitter", defaults.watchdog_jitter, low=0.0,
                                      high=2.0),
        request_timeout=section.float("request_timeout", defaults.request_timeout, low=0.05,
                                      high=600.0),
        connect_timeout=section.float("connect_timeout", defaults.connect_timeout, low=0.1,
                                      high=120.0),
        reconnect_initial=section.float("reconnect_initial", defaults.reconnect_initial,
                                        low=0.01, high=600.0),
        reconnect_max=section.float("reconnect_max", defaults.reconnect_max, low=0.01,
                                    high=3600.0),
        reconnect_after_loss=section.float("reconnect_after_loss",
                                           defaults.reconnect_after_loss, low=0.0, high=600.0),
        disconnect_timeout=section.float("disconnect_timeout", defaults.disconnect_timeout,
                                         low=0.0, high=600.0),
    )
    if timers.reconnect_max < timers.reconnect_initial:
        raise ConfigError("must be >= reconnect_initial", section.at("reconnect_max"))
    section.reject_unknown()
    return timers


def parse_limits(section: Section) -> LimitConfig:
    limits = LimitConfig(
        max_message_length=section.int("max_message_length", 65536, low=4096,
                                       high=0xFFFFFF),
        max_pending_requests=section.int("max_pending_requests", 200_000, low=1),
    )
    section.reject_unknown()
    return limits


def parse_relay(root: Section) -> RelayConfig:
    identity = parse_identity(root.section("agent"))
    listen = parse_listen(root.section("listen"))
    peers = parse_peers(root.section("peers"))
    if not peers:
        raise ConfigError("configure at least one client or ocs peer", root.at("peers"))
    routing = parse_routing(root.section("routing"), peers)
    return RelayConfig(
        identity=identity,
        listen=listen,
        peers=peers,
        routing=routing,
        timers=parse_timers(root.section("timers")),
        limits=parse_limits(root.section("limits")),
    )
