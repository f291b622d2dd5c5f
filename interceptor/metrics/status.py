"""``/status``: what ``beepcall status`` shows (peers, queues, breakers, today's figures),
as a typed document that the endpoint writes and the CLI reads back with the same class."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from interceptor.core import jsondata
from interceptor.metrics.collector import InterceptorCollector
from interceptor.reports.today import DaySummary


@dataclass
class PeerStatus:
    name: str = ""
    role: str = ""
    state: str = "closed"
    watchdog: str | None = None
    up: bool = False


@dataclass
class RelayStatus:
    requests_relayed: int = 0
    answers_relayed: int = 0
    errors_sent: dict[str, int] = field(default_factory=dict)  # by Result-Code


@dataclass
class SideWorkStatus:
    up: bool = False
    restarts: int = 0
    database_up: bool | None = None  # None: no side work (plain relay)


@dataclass
class StatusDocument:
    uptime_s: float = 0.0
    relay: RelayStatus = field(default_factory=RelayStatus)
    peers: list[PeerStatus] = field(default_factory=list)
    queues: dict[str, int] = field(default_factory=dict)
    breakers: dict[str, str] = field(default_factory=dict)
    side_work: SideWorkStatus = field(default_factory=SideWorkStatus)
    today: DaySummary | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(jsondata.to_json(self))

    @classmethod
    def from_json(cls, value: Any) -> StatusDocument:
        return jsondata.from_json(cls, value)


def status_document(collector: InterceptorCollector, started_at: float,
                    now: float) -> StatusDocument:
    agent = collector.agent
    stats = collector.snapshot
    channel = collector.channel
    peers = []
    for peer in agent.peers.values():
        connection = peer.connection
        peers.append(PeerStatus(
            name=peer.name, role=peer.config.role,
            state=connection.state.value if connection is not None else "closed",
            watchdog=connection.watchdog.value if connection is not None else None,
            up=peer.usable))
    recorder = stats.recorder
    queues = {
        "pending_requests": len(agent.pending),
        "sidework_unacknowledged": channel.backlog if channel is not None else 0,
        "recorder": recorder.queued + recorder.in_flight,
        "spool_backlog_bytes": recorder.spool_backlog_bytes,
        "beeps": stats.beeps.queued if stats.beeps is not None else 0,
        "sms": stats.sms.queue_depth if stats.sms is not None else 0,
        "callback_watches": stats.callbacks.watches if stats.callbacks is not None else 0,
    }
    counters = agent.counters
    return StatusDocument(
        uptime_s=round(now - started_at, 1),
        relay=RelayStatus(requests_relayed=counters.requests_relayed,
                          answers_relayed=counters.answers_relayed,
                          errors_sent={str(k): v for k, v in counters.errors_sent.items()}),
        peers=peers,
        queues=queues,
        breakers=dict(stats.breakers),
        side_work=SideWorkStatus(
            up=channel.running if channel is not None else False,
            restarts=channel.counters.restarts if channel is not None else 0,
            database_up=recorder.database_up if channel is not None else None),
        today=stats.today)
