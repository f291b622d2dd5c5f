"""Where a request goes: Destination-Host if that peer is up, else the realm's primary
peers, else its secondary peers, else the default route (RFC 6733 §6.1.4 to 6.1.6).

Pure decisions over names; the agent says which peers are usable right now.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from interceptor.core import avps
from interceptor.diameter.config import RoutingConfig


@dataclass(frozen=True)
class NoRoute:
    result: int
    reason: str


class RoutingTable:
    def __init__(self, config: RoutingConfig) -> None:
        self._realms = {route.realm.lower(): (tuple(p.lower() for p in route.primary),
                                              tuple(p.lower() for p in route.secondary))
                        for route in config.realms}
        self._default = tuple(peer.lower() for peer in config.default)
        self._turn = 0

    def choose(self, destination_host: str | None, destination_realm: str | None,
               usable: Callable[[str], bool], exclude: Iterable[str] = ()) -> str | NoRoute:
        """The lower-case Origin-Host of the next hop, or why there is none.

        Among several usable peers of one tier, requests are spread round-robin.
        """
        excluded = set(exclude)

        def ok(name: str) -> bool:
            return name not in excluded and usable(name)

        if destination_host and ok(destination_host):
            return destination_host
        if destination_realm is None:
            return NoRoute(avps.UNABLE_TO_DELIVER, "no Destination-Realm and "
                           "Destination-Host is not a connected peer")
        tiers: tuple[tuple[str, ...], ...]
        if destination_realm in self._realms:
            tiers = self._realms[destination_realm]
        elif self._default:
            tiers = (self._default,)
        else:
            return NoRoute(avps.REALM_NOT_SERVED, f"realm {destination_realm} is not served")
        for tier in tiers:
            candidates = [name for name in tier if ok(name)]
            if candidates:
                self._turn += 1
                return candidates[self._turn % len(candidates)]
        return NoRoute(avps.UNABLE_TO_DELIVER,
                       f"no peer serving realm {destination_realm} is available")
