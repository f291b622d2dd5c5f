"""``/status``: what ``beepcall status`` shows, as JSON (peers, queues, breakers, today's
figures), read from the running process."""

from __future__ import annotations

from typing import Any

from interceptor.metrics.collector import InterceptorCollector


def status_document(collector: InterceptorCollector, started_at: float,
                    now: float) -> dict[str, Any]:
    agent = collector.agent
    snapshot = collector.snapshot
    channel = collector.channel
    peers = []
    for peer in agent.peers.values():
        connection = peer.connection
        peers.append({"name": peer.name, "role": peer.config.role,
                      "state": connection.state.value if connection is not None else "closed",
                      "watchdog": connection.watchdog.value if connection is not None else None,
                      "up": peer.usable})
    recorder = snapshot.get("recorder", {})
    queues = {
        "pending_requests": len(agent.pending),
        "sidework_unacknowledged": channel.backlog if channel is not None else 0,
        "recorder": recorder.get("queued", 0) + recorder.get("in_flight", 0),
        "spool_backlog_bytes": recorder.get("spool_backlog_bytes", 0),
        "beeps": snapshot.get("beeps", {}).get("queued", 0),
        "sms": snapshot.get("sms", {}).get("queued", 0),
        "callback_watches": snapshot.get("callbacks", {}).get("watches", 0),
    }
    counters = agent.counters
    return {
        "uptime_s": round(now - started_at, 1),
        "relay": {"requests_relayed": counters.requests_relayed,
                  "answers_relayed": counters.answers_relayed,
                  "errors_sent": {str(k): v for k, v in counters.errors_sent.items()}},
        "peers": peers,
        "queues": queues,
        "breakers": snapshot.get("breakers", {}),
        "side_work": {"up": channel.running if channel is not None else False,
                      "restarts": channel.counters.restarts if channel is not None else 0,
                      "database_up": recorder.get("database_up")},
        "today": snapshot.get("today"),
    }
