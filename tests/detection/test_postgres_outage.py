"""PostgreSQL goes away in the middle of relayed load, then comes back: afterwards there
is exactly one attempt row per out-of-credit answer the interceptor relayed.

The outage is a TCP forwarder in front of the shared server, closed (every connection
cut, new ones refused) and reopened by the test: no other test's database is touched.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from twisted.internet import defer, reactor, task

from interceptor.app.relay import Interceptor
from interceptor.config.loader import parse_config
from interceptor.core.avps import CREDIT_LIMIT_REACHED
from interceptor.demo.peers import SimplePeer
from interceptor.diameter import codec
from interceptor.diameter.traffic import CallAttempt, cca, ccr, e164
from interceptor.storage.config import DatabaseConfig
from interceptor.storage.engine import make_engine
from interceptor.storage.migrate import upgrade
from interceptor.storage.models import Attempt
from tests.diameter.harness import CLIENT_HOST, RecordingOcs, agent_config, connect_client
from tests.storage.forwarder import forwarder_for, through

pytestmark = pytest.mark.integration


def _until(condition: Any, timeout: float, what: str) -> Generator[Any, Any, None]:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        yield task.deferLater(reactor, 0.05, lambda: None)


class CallLoad:
    """Sends ``per_tick`` calls every tick through the interceptor; every third caller
    is out of credit. Counts the 4012 answers the client got back."""

    def __init__(self, client: SimplePeer, per_tick: int = 10) -> None:
        self.client = client
        self.per_tick = per_tick
        self.ids = itertools.count(1)
        self.out_of_credit = 0
        self.answered = 0
        self.in_flight: list[defer.Deferred[bytes]] = []
        self.loop = task.LoopingCall(self.tick)

    def tick(self) -> None:
        for _ in range(self.per_tick):
            number = next(self.ids)
            attempt = CallAttempt(f"load;{number}", CLIENT_HOST, "client.test", "ocs.test",
                                  subscription_ids=e164(f"8491200{number % 1000:04d}"),
                                  called_party_address="tel:+84987000002")
            answer = self.client.request(ccr(attempt, hop_by_hop=number, end_to_end=number))
            answer.addCallback(self._answered)
            self.in_flight.append(answer)

    def _answered(self, answer: bytes) -> None:
        self.answered += 1
        if codec.result_code(answer) == CREDIT_LIMIT_REACHED:
            self.out_of_credit += 1


def _every_third_out_of_credit(request: bytes) -> bytes:
    hop_by_hop = codec.parse_header(request).end_to_end
    result = CREDIT_LIMIT_REACHED if hop_by_hop % 3 == 0 else 2001
    return cca(request, "ocs1.test", "ocs.test", result)


@pytest_twisted.inlineCallbacks
def test_postgres_restart_under_relayed_load_loses_and_duplicates_nothing(
        postgres_url: str, tmp_path: Path) -> Generator[Any, Any, None]:
    upgrade(postgres_url)
    forwarder = forwarder_for(postgres_url)
    ocs = RecordingOcs("ocs1.test", _every_third_out_of_credit)
    raw = {**agent_config([("ocs1.test", ocs.listen())]),
           "detection": {"enabled": True},
           "numbering": {"country_code": 84, "on_net_prefixes": ["8491"]},
           "database": {"url": through(forwarder, postgres_url), "batch_size": 50,
                        "flush_interval": 0.05,
                        "queue_bound": 200, "retry_max": 0.5, "connect_timeout": 2.0,
                        "statement_timeout": 5.0, "stop_timeout": 10.0,
                        "spool_dir": str(tmp_path / "spool"), "blacklist_refresh": 0.5}}
    interceptor = Interceptor(parse_config(raw), reactor, seed=5)
    interceptor.startService()
    agent = interceptor.agent_service.agent
    spool = tmp_path / "spool"
    engine = make_engine(postgres_url, DatabaseConfig(connect_timeout=2.0))
    load: CallLoad | None = None
    try:
        yield from _until(lambda: agent.peers["ocs1.test"].usable, 10, "the OCS connection")
        client = yield connect_client(interceptor.agent_service.listening_port)
        load = CallLoad(client)
        load.loop.start(0.01)
        yield from _until(lambda: _rows(engine) >= 300, 30,
                          "300 attempts written while PostgreSQL is up")
        yield forwarder.down()
        yield from _until(lambda: _spooled_lines(spool) >= 300, 30,
                          "attempts spooled while PostgreSQL is down")
        relayed_while_down = load.answered
        forwarder.up()
        written = _rows(engine)
        yield from _until(lambda: _rows(engine) >= written + 300, 60,
                          "writing to resume after PostgreSQL came back")
        assert load.answered > relayed_while_down  # relaying never stopped
    finally:
        if load is not None and load.loop.running:
            load.loop.stop()
        if not forwarder.listening.connected:
            forwarder.up()
    assert load is not None
    yield defer.gatherResults(load.in_flight)
    # The spool is replayed while the interceptor runs (what a stop leaves there waits for
    # the next start, which is another test's business).
    yield from _until(lambda: not list(spool.glob("attempts-*.jsonl")), 60,
                      "the spool to be replayed")
    yield interceptor.stopService()  # drains, then the side-work process flushes and exits
    yield ocs.port.stopListening()

    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(Attempt)).scalar_one()
        sessions = set(connection.execute(select(Attempt.session_id)).scalars())
    engine.dispose()
    assert load.answered == len(load.in_flight)
    assert total == load.out_of_credit == len(sessions)  # one row per 4012, none twice
    assert list(spool.glob("attempts-*.jsonl")) == []  # the spool was replayed


def _rows(engine: Engine) -> int:
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(Attempt))
                       .scalar_one())
    except OperationalError:
        return -1


def _spooled_lines(spool: Path) -> int:
    lines = 0
    for segment in spool.glob("attempts-*.jsonl"):
        with segment.open("rb") as handle:
            lines += sum(1 for _ in handle)
    return lines
