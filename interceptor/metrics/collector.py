"""One Prometheus collector for both processes: at scrape time it reads the relay's plain
counters (agent, peers, tap, side-work channel) and the side-work process's latest stats
snapshot (attempts, suppressions, beeps, ring times, SMS, callbacks, queues, breakers).
Nothing is updated per message for Prometheus' sake."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from interceptor.beeps.scheduler import BeepFigures
from interceptor.callbacks.service import CallbackFigures
from interceptor.core.histogram import RING_BUCKETS, Buckets
from interceptor.core.vocabulary import AttemptStatus, CallbackKind, SmsStatus
from interceptor.diameter.agent import DiameterAgent
from interceptor.policy.breaker import BreakerState
from interceptor.sidework.channel import WorkerChannel
from interceptor.sidework.stats import SideWorkStats
from interceptor.sidework.tap import SideWorkTap

COMMANDS = {257: "CER/CEA", 272: "CCR/CCA", 280: "DWR/DWA", 282: "DPR/DPA", 258: "RAR/RAA",
            275: "STR/STA", 274: "ASR/ASA"}

# Every metric family this collector exposes (the Grafana dashboard test checks them).
METRIC_NAMES = (
    "beepcall_relayed_messages_total", "beepcall_relay_latency_seconds",
    "beepcall_relay_errors_total", "beepcall_pending_requests", "beepcall_peer_up",
    "beepcall_sidework_events_total", "beepcall_attempts_total",
    "beepcall_suppressions_total", "beepcall_beeps_total", "beepcall_ring_time_seconds",
    "beepcall_sms_total", "beepcall_callbacks_total",
    "beepcall_callback_charged_seconds_total", "beepcall_callback_watches",
    "beepcall_queue_depth", "beepcall_circuit_breaker_state", "beepcall_sidework_up",
    "beepcall_sidework_restarts_total",
)


def command_name(code: int) -> str:
    return COMMANDS.get(code, str(code))


def _histogram(name: str, doc: str, buckets: Buckets) -> HistogramMetricFamily:
    cumulative = buckets.cumulative()
    return HistogramMetricFamily(name, doc, buckets=[(bound, float(count))
                                                     for bound, count in cumulative],
                                 sum_value=buckets.total)


class InterceptorCollector(Collector):
    def __init__(self, agent: DiameterAgent, tap: SideWorkTap | None = None,
                 channel: WorkerChannel | None = None) -> None:
        self.agent = agent
        self.tap = tap
        self.channel = channel

    def describe(self) -> list[Metric]:
        return []

    @property
    def snapshot(self) -> SideWorkStats:
        return self.channel.worker_stats if self.channel is not None else SideWorkStats()

    def collect(self) -> Iterator[Metric]:
        yield from self._relay()
        yield from self._side_work(self.snapshot)

    def _relay(self) -> Iterator[Metric]:
        agent = self.agent
        relayed = CounterMetricFamily(
            "beepcall_relayed_messages", "Messages relayed, by sending peer and command",
            labels=["peer", "command", "kind"])
        up = GaugeMetricFamily("beepcall_peer_up", "1 if the peer's connection is open and "
                               "its watchdog okay", labels=["peer", "role", "state"])
        for peer in agent.peers.values():
            for key, count in sorted(peer.received.items()):
                relayed.add_metric([peer.name, command_name(key >> 1),
                                    "request" if key & 1 else "answer"], count)
            connection = peer.connection
            state = connection.state.value if connection is not None else "closed"
            up.add_metric([peer.name, peer.config.role, state], 1.0 if peer.usable else 0.0)
        yield relayed
        yield up
        yield _histogram("beepcall_relay_latency_seconds",
                         f"Request in to answer out through the relay (OCS time included), "
                         f"1 answer in {agent.latency_mask + 1} timed", agent.latency)
        errors = CounterMetricFamily("beepcall_relay_errors",
                                     "Error answers the relay made itself, by Result-Code",
                                     labels=["result"])
        for result, count in sorted(agent.counters.errors_sent.items()):
            errors.add_metric([str(result)], count)
        yield errors
        yield GaugeMetricFamily("beepcall_pending_requests", "Requests awaiting an answer",
                                value=len(agent.pending))
        events = CounterMetricFamily("beepcall_sidework_events",
                                     "Answers handed to the side-work process, by kind",
                                     labels=["kind"])
        if self.tap is not None:
            counters = self.tap.counters
            events.add_metric(["out_of_credit"], counters.candidates)
            events.add_metric(["callback_start"], counters.callback_starts)
            events.add_metric(["callback_usage"], counters.callback_usage)
        yield events

    def _side_work(self, stats: SideWorkStats) -> Iterator[Metric]:
        by_reason = stats.suppressed_by_reason
        attempts = CounterMetricFamily("beepcall_attempts", "Out-of-credit voice attempts "
                                       "recorded by the side work, by status",
                                       labels=["status"])
        attempts.add_metric([AttemptStatus.RECORDED.value], stats.detection.recorded)
        attempts.add_metric([AttemptStatus.SUPPRESSED.value], sum(by_reason.values()))
        yield attempts
        suppressions = CounterMetricFamily("beepcall_suppressions", "Suppressed attempts "
                                           "by reason", labels=["reason"])
        for reason, count in sorted(by_reason.items()):
            suppressions.add_metric([reason], count)
        yield suppressions
        beeps_figures = stats.beeps or BeepFigures()
        beeps = CounterMetricFamily("beepcall_beeps", "Beeps by outcome", labels=["outcome"])
        for outcome, count in sorted(beeps_figures.counters.by_outcome.items()):
            beeps.add_metric([outcome], count)
        yield beeps
        yield _histogram("beepcall_ring_time_seconds", "Beep ring time (first 180/183 to "
                         "CANCEL)", Buckets.from_counts(beeps_figures.ring_time, RING_BUCKETS))
        sms_by_status = stats.sms.by_status if stats.sms is not None else {}
        sms = CounterMetricFamily("beepcall_sms", "SMS by status", labels=["status"])
        # Every status has a series from the start (0 until it happens).
        for status in sorted({*(s.value for s in SmsStatus), *sms_by_status}):
            sms.add_metric([status], sms_by_status.get(status, 0))
        yield sms
        callback_figures = stats.callbacks or CallbackFigures()
        linked = callback_figures.counters.linked
        callbacks = CounterMetricFamily("beepcall_callbacks", "Calls linked to a notified "
                                        "attempt, by kind", labels=["kind"])
        for kind in sorted({*(k.value for k in CallbackKind), *linked}):
            callbacks.add_metric([kind], linked.get(kind, 0))
        yield callbacks
        yield CounterMetricFamily("beepcall_callback_charged_seconds",
                                  "CC-Time used by linked calls",
                                  value=callback_figures.counters.charged_seconds)
        yield GaugeMetricFamily("beepcall_callback_watches", "Attempts and sessions "
                                "watched for callbacks", value=callback_figures.watches)
        queues = GaugeMetricFamily("beepcall_queue_depth", "Items waiting, by queue",
                                   labels=["queue"])
        queues.add_metric(["sidework_unacknowledged"],
                          self.channel.backlog if self.channel is not None else 0)
        recorder = stats.recorder
        queues.add_metric(["recorder"], recorder.queued + recorder.in_flight)
        queues.add_metric(["beeps"], beeps_figures.queued)
        queues.add_metric(["sms"], stats.sms.queue_depth if stats.sms is not None else 0)
        yield queues
        breakers = GaugeMetricFamily("beepcall_circuit_breaker_state", "1 for the breaker's "
                                     "current state", labels=["breaker", "state"])
        for name, current in sorted(stats.breakers.items()):
            for state in BreakerState:
                breakers.add_metric([name, state.value], 1.0 if current == state else 0.0)
        yield breakers
        yield GaugeMetricFamily("beepcall_sidework_up", "1 if the side-work process runs",
                                value=1.0 if self.channel is not None
                                and self.channel.running else 0.0)
        yield CounterMetricFamily("beepcall_sidework_restarts",
                                  "Side-work process restarts",
                                  value=self.channel.counters.restarts
                                  if self.channel is not None else 0)
