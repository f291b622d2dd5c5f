"""The metrics endpoint scraped over HTTP from a running interceptor that relayed,
recorded, beeped (SIPp) and linked a callback: every metric family the issue names is
there, with the figures of what happened; /status gives the same story as JSON; every
Grafana panel's metric exists in the scrape."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from click.testing import CliRunner
from twisted.internet import threads

from cli.main import main
from interceptor.core.avps import CC_TERMINATE
from interceptor.metrics.collector import METRIC_NAMES
from tests.callbacks.test_callback_end_to_end import b_calls_a, beeped
from tests.diameter.harness import wait_until

pytestmark = pytest.mark.integration

DASHBOARD = Path(__file__).resolve().parents[2] / "grafana" / "beepcall.json"
_SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")


def family(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _fetch(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


def _get(url: str) -> Any:
    """An HTTP GET in a thread (the reactor keeps serving the endpoint meanwhile)."""
    return threads.deferToThread(_fetch, url)


def _families(text: str) -> set[str]:
    return {family(line.split()[2]) for line in text.splitlines()
            if line.startswith("# TYPE ")}


def _value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} not in the scrape")


@pytest_twisted.inlineCallbacks
def test_every_metric_is_scraped_over_http(sqlite_url: str, tmp_path: Path) -> Any:
    metrics = {"metrics": {"listen": "127.0.0.1:0", "stats_interval": 0.1,
                           "latency_sample": 1}}
    interceptor, client, ocs, sipp = yield beeped(sqlite_url, tmp_path, {}, metrics)
    tap = interceptor.tap
    base = f"http://127.0.0.1:{interceptor.metrics.listening_port}"
    try:
        yield client.request(b_calls_a("cb;1"))
        yield wait_until(lambda: b"cb;1" in tap.sessions, timeout=10)
        yield client.request(b_calls_a("cb;1", CC_TERMINATE, 1, used=70, hop=11))
        channel = interceptor.side_work.channel
        yield wait_until(lambda: channel.worker_stats.callbacks is not None and
                         channel.worker_stats.callbacks.counters.charged_seconds == 70,
                         timeout=10)
        yield wait_until(lambda: channel.worker_stats.today is not None and
                         channel.worker_stats.today.callbacks == 1, timeout=10)
        code, text = yield _get(f"{base}/metrics")
        status_code, status_text = yield _get(f"{base}/status")
        cli = yield threads.deferToThread(CliRunner().invoke, main, ["status", "--url", base])
    finally:
        yield interceptor.stopService()
        yield ocs.port.stopListening()
        sipp.stop()
    assert code == 200 and status_code == 200
    families = _families(text)
    missing = [name for name in METRIC_NAMES if family(name) not in families]
    assert missing == []
    assert _value(text, 'beepcall_relayed_messages_total{command="CCR/CCA",kind="request",'
                        'peer="cscf.test"}') == 3
    assert _value(text, 'beepcall_relayed_messages_total{command="CCR/CCA",kind="answer",'
                        'peer="ocs1.test"}') == 3
    assert _value(text, "beepcall_relay_latency_seconds_count") == 3  # 1 in 1 sampled
    assert _value(text, 'beepcall_peer_up{peer="ocs1.test",role="ocs",state="open"}') == 1
    assert _value(text, 'beepcall_attempts_total{status="recorded"}') == 1
    assert _value(text, 'beepcall_beeps_total{outcome="rang"}') == 1
    assert _value(text, "beepcall_ring_time_seconds_count") == 1
    assert _value(text, 'beepcall_ring_time_seconds_bucket{le="0.5"}') == 1
    assert _value(text, 'beepcall_ring_time_seconds_bucket{le="0.3"}') == 0
    assert _value(text, 'beepcall_callbacks_total{kind="callback"}') == 1
    assert _value(text, 'beepcall_callbacks_total{kind="topped_up"}') == 0
    assert _value(text, "beepcall_callback_charged_seconds_total") == 70
    assert _value(text, 'beepcall_sms_total{status="delivered"}') == 0
    assert _value(text, 'beepcall_sidework_events_total{kind="callback_start"}') == 1
    assert _value(text, 'beepcall_queue_depth{queue="beeps"}') == 0
    assert _value(text, "beepcall_sidework_up") == 1
    status = json.loads(status_text)
    assert {(p["name"], p["up"]) for p in status["peers"]} == {("ocs1.test", True),
                                                               ("cscf.test", True)}
    assert status["side_work"]["up"] is True
    assert set(status["queues"]) >= {"pending_requests", "sidework_unacknowledged",
                                     "recorder", "beeps", "sms"}
    assert status["today"]["attempts"] == 1 and status["today"]["rang"] == 1
    assert cli.exit_code == 0, cli.output
    assert "ocs1.test" in cli.output and "side work: up" in cli.output
    assert "today (UTC): 1 attempts, 0 suppressed, 1 beeps (1 rang)" in cli.output
    assert "1 callbacks (rate 100.0%" in cli.output

    # The Grafana dashboard only uses metrics this scrape has.
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p.get("type") != "row"]
    assert len(panels) >= 10
    for panel in panels:
        names = {family(name) for target in panel["targets"]
                 for name in re.findall(r"beepcall_[a-z_]+", target["expr"])}
        assert names, panel["title"]
        assert names <= families, (panel["title"], names - families)
