"""The policy over real sockets.

1. A burst of out-of-credit answers from one caller to one callee, through the relay,
   makes exactly one beep at SIPp; the rest are recorded as suppressed by the pair
   interval.
2. Two interceptor processes (``beepcall run``) share one PostgreSQL and see the same
   caller's attempts at the same time: the caller's limit holds exactly across both.
3. A threshold changed with ``beepcall thresholds set`` reaches a running interceptor
   within seconds, without a restart.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import yaml
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from twisted.internet import defer, reactor

from cli.main import main as beepcall
from interceptor.app.relay import Interceptor
from interceptor.config.loader import parse_config
from interceptor.core.avps import CREDIT_LIMIT_REACHED
from interceptor.demo.sip_network import DemoSipNetwork
from interceptor.diameter.traffic import CallAttempt, cca, ccr, e164
from interceptor.storage.engine import make_engine
from interceptor.storage.migrate import upgrade
from interceptor.storage.models import Attempt
from tests.diameter.harness import (
    CLIENT_HOST,
    RecordingOcs,
    agent_config,
    client_through,
    connect_client,
    wait_until,
)
from tests.sip.sipp import SippUas
from tests.storage.databases import REPO

pytestmark = pytest.mark.integration

A, B = "84912000001", "84987000002"


def _config(database_url: str, spool: Path, sip_port: int,
            thresholds: dict[str, Any]) -> dict[str, Any]:
    route = {"host": "127.0.0.1", "port": sip_port, "domain": "ims.test"}
    return {**agent_config([("ocs1.test", 0)]), "detection": {"enabled": True},
            "numbering": {"country_code": 84, "on_net_prefixes": ["8491"]},
            "database": {"url": database_url, "spool_dir": str(spool),
                         "flush_interval": 0.05},
            "sip": {"routes": {"on_net": route, "off_net": route, "international": route}},
            "policy": {"refresh": 0.2,
                       "thresholds": {"quiet_hours.window": "off", **thresholds}}}


def _out_of_credit_ocs() -> RecordingOcs:
    return RecordingOcs("ocs1.test", lambda r: cca(r, "ocs1.test", "ocs.test",
                                                   CREDIT_LIMIT_REACHED))


def _statuses(engine: Engine) -> dict[tuple[str, str | None], int]:
    with engine.connect() as connection:
        return {(status, reason): count for status, reason, count in connection.execute(
            select(Attempt.status, Attempt.status_reason, func.count())
            .group_by(Attempt.status, Attempt.status_reason))}


@pytest_twisted.inlineCallbacks
def test_a_redial_burst_makes_one_beep_at_sipp(sqlite_url: str, tmp_path: Path) -> Any:
    upgrade(sqlite_url)
    sipp = SippUas("ring_cancel.xml", tmp_path, calls=1).start()
    ocs = _out_of_credit_ocs()
    raw = _config(sqlite_url, tmp_path / "spool", sipp.port, {})  # default: 600 s
    raw["peers"]["ocs"][0]["port"] = ocs.listen()
    interceptor = Interceptor(parse_config(raw), reactor, seed=5)
    interceptor.startService()
    engine = make_engine(sqlite_url)
    try:
        client = yield client_through(interceptor)
        yield defer.gatherResults([
            client.request(ccr(CallAttempt(f"burst;{i}", CLIENT_HOST, "client.test",
                                           "ocs.test", subscription_ids=e164(A),
                                           called_party_address=f"tel:+{B}"),
                               hop_by_hop=i + 1))
            for i in range(6)])
        exit_code = yield sipp.wait(timeout=30)
        assert exit_code == 0, sipp.screen()
        yield wait_until(lambda: _statuses(engine) == {
            ("beeped", None): 1, ("suppressed", "policy:pair_interval"): 5}, timeout=15)
    finally:
        yield interceptor.stopService()
        yield ocs.port.stopListening()
        sipp.stop()
    with engine.connect() as connection:
        details = connection.execute(select(Attempt.policy_detail).where(
            Attempt.status == "suppressed")).scalars().all()
    engine.dispose()
    assert all(f"pair {A}->{B}: last beep" in d and "minimum interval 600 s" in d
               for d in details)
    assert len([m for m in sipp.messages() if m.method == "INVITE"]) == 1


def _free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class InterceptorProcess:
    """``python -m cli run --config FILE`` as its own process."""

    def __init__(self, raw: dict[str, Any], workdir: Path, name: str) -> None:
        self.port = _free_tcp_port()
        raw = {**raw, "listen": {"address": "127.0.0.1", "port": self.port},
               "agent": {**raw["agent"], "origin_host": f"{name}.test"}}
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "interceptor.yaml"
        self.config.write_text(yaml.safe_dump(raw))
        self.log = (workdir / "interceptor.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli", "run", "--config", str(self.config)],
            cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> int:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()
        finally:
            self.log.close()


@defer.inlineCallbacks
def _client_of(process: InterceptorProcess) -> Any:
    def listening() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", process.port)) == 0
    yield wait_until(listening, timeout=30)
    client = yield connect_client(process.port)
    return client


@pytest_twisted.inlineCallbacks
def test_two_interceptor_processes_hold_the_callers_limit_exactly(
        postgres_url: str, tmp_path: Path, sip_network: tuple[DemoSipNetwork, int]) -> Any:
    upgrade(postgres_url)
    network, sip_port = sip_network
    ocs = _out_of_credit_ocs()
    raw = _config(postgres_url, tmp_path / "spool", sip_port, {
        "caller": {"max_per_day": 7, "max_per_hour": "off"},
        "callee.max_per_day": "off"})
    raw["peers"]["ocs"][0]["port"] = ocs.listen()
    processes = []
    for index in (1, 2):
        config = {**raw, "database": {**raw["database"],
                                      "spool_dir": str(tmp_path / f"spool{index}")}}
        processes.append(InterceptorProcess(config, tmp_path / f"i{index}",
                                            f"interceptor{index}"))
    engine = make_engine(postgres_url)
    try:
        clients = yield defer.gatherResults([_client_of(p) for p in processes])
        requests = []
        for round_ in range(20):  # both interceptors get A's calls, interleaved
            for index, client in enumerate(clients):
                callee = f"849870{index}{round_:04d}"
                call = CallAttempt(f"two;{index};{round_}", CLIENT_HOST, "client.test",
                                   "ocs.test", subscription_ids=e164(A),
                                   called_party_address=f"tel:+{callee}")
                requests.append(client.request(ccr(call, hop_by_hop=round_ + 1)))
        yield defer.gatherResults(requests)
        yield wait_until(lambda: sum(_statuses(engine).values()) == 40 and
                         ("recorded", None) not in _statuses(engine) and
                         ("beeping", None) not in _statuses(engine), timeout=60)
    finally:
        codes = [process.stop() for process in processes]
        yield ocs.port.stopListening()
    statuses = _statuses(engine)
    with engine.connect() as connection:
        hosts = connection.execute(select(Attempt.interceptor_host).distinct()).scalars().all()
    engine.dispose()
    logs = "\n".join(p.log.name + ":\n" + Path(p.log.name).read_text() for p in processes)
    assert codes == [0, 0], logs
    assert sorted(hosts) == ["interceptor1.test", "interceptor2.test"]
    assert statuses == {("beeped", None): 7, ("suppressed", "policy:caller_daily"): 33}, logs
    assert len(network.calls) == 7  # INVITEs that reached B's network


@pytest_twisted.inlineCallbacks
def test_a_threshold_set_with_the_cli_reaches_the_running_interceptor(
        sqlite_url: str, tmp_path: Path, sip_network: tuple[DemoSipNetwork, int]) -> Any:
    upgrade(sqlite_url)
    network, sip_port = sip_network
    ocs = _out_of_credit_ocs()
    raw = _config(sqlite_url, tmp_path / "spool", sip_port,
                  {"caller": {"max_per_day": 1, "max_per_hour": "off"},
                   "pair.min_interval": "off"})
    raw["peers"]["ocs"][0]["port"] = ocs.listen()
    interceptor = Interceptor(parse_config(raw), reactor, seed=6)
    interceptor.startService()
    engine = make_engine(sqlite_url)

    def call(client: Any, index: int) -> Any:
        attempt = CallAttempt(f"live;{index}", CLIENT_HOST, "client.test", "ocs.test",
                              subscription_ids=e164(A),
                              called_party_address=f"tel:+8498700000{index}")
        return client.request(ccr(attempt, hop_by_hop=index + 1))

    try:
        client = yield client_through(interceptor)
        yield call(client, 1)
        yield call(client, 2)
        yield wait_until(lambda: _statuses(engine) == {
            ("beeped", None): 1, ("suppressed", "policy:caller_daily"): 1}, timeout=15)
        result = CliRunner().invoke(beepcall, ["thresholds", "set", "caller.max_per_day",
                                               "3", "--database-url", sqlite_url])
        assert result.exit_code == 0, result.output
        changed_at = reactor.seconds()
        # Call again until a call is beeped (the worker reloads every 0.2 s); then the new
        # limit of 3 holds.
        index = 3
        while _statuses(engine).get(("beeped", None), 0) < 3:
            assert reactor.seconds() - changed_at < 5, _statuses(engine)
            decided = sum(_statuses(engine).values()) + 1
            yield call(client, index)
            index += 1
            yield wait_until(lambda n=decided: sum(_statuses(engine).values()) == n and
                             ("recorded", None) not in _statuses(engine), timeout=10)
        yield call(client, index)
        yield wait_until(lambda n=index: sum(_statuses(engine).values()) == n and
                         ("recorded", None) not in _statuses(engine), timeout=10)
        yield wait_until(lambda: len(network.calls) == 3, timeout=10)
    finally:
        yield interceptor.stopService()
        yield ocs.port.stopListening()
    statuses = _statuses(engine)
    engine.dispose()
    assert statuses[("beeped", None)] == 3
    assert statuses[("suppressed", "policy:caller_daily")] == index - 3
    assert len(network.calls) == 3
