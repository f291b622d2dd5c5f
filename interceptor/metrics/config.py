"""The ``metrics`` section: where the relay process serves /metrics and /status."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from interceptor.core.section import ConfigError, Section


@dataclass(frozen=True)
class MetricsConfig:
    host: str = "127.0.0.1"
    port: int = 9464  # 0: any free port (tests)
    stats_interval: float = 2.0  # how often the side-work process reports its figures
    latency_sample: int = 64  # one relayed answer in this many is timed (power of two)

    @property
    def listen(self) -> str:
        return f"{self.host}:{self.port}"


def parse_listen(text: str, path: tuple[str | int, ...]) -> tuple[str, int]:
    host, separator, port_text = text.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        port = int(port_text)
    except ValueError:
        raise ConfigError("must be ADDRESS:PORT, e.g. 127.0.0.1:9464", path) from None
    if not separator or not 0 <= port <= 65535:
        raise ConfigError("must be ADDRESS:PORT with a port 0..65535", path)
    return host, port


def parse_metrics(section: Section) -> MetricsConfig:
    listen = section.str("listen", "127.0.0.1:9464")
    host, port = parse_listen(listen, section.at("listen"))
    interval = section.float("stats_interval", 2.0, low=0.05, high=300.0)
    sample = section.int("latency_sample", 64, low=1, high=65536)
    if sample & (sample - 1):
        raise ConfigError("must be a power of two", section.at("latency_sample"))
    section.reject_unknown()
    return MetricsConfig(host=host, port=port, stats_interval=interval, latency_sample=sample)
