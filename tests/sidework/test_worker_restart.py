"""The side-work process dies under load: the relay restarts it and resends what it had
not acknowledged, so every out-of-credit answer still becomes exactly one row."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from sqlalchemy import func, select
from twisted.internet import defer, reactor, task

from interceptor.app.relay import Interceptor
from interceptor.config.loader import parse_config
from interceptor.core.avps import CREDIT_LIMIT_REACHED
from interceptor.diameter import codec
from interceptor.diameter.traffic import CallAttempt, cca, ccr, e164
from interceptor.storage.engine import make_engine
from interceptor.storage.migrate import upgrade
from interceptor.storage.models import Attempt
from tests.diameter.harness import (
    CLIENT_HOST,
    RecordingOcs,
    agent_config,
    client_through,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest_twisted.inlineCallbacks
def test_killed_worker_is_restarted_and_nothing_is_lost(sqlite_url: str,
                                                        tmp_path: Path) -> Any:
    upgrade(sqlite_url)
    ocs = RecordingOcs("ocs1.test", lambda r: cca(r, "ocs1.test", "ocs.test",
                                                  CREDIT_LIMIT_REACHED))
    raw = {**agent_config([("ocs1.test", ocs.listen())]), "detection": {"enabled": True},
           "numbering": {"country_code": 84, "on_net_prefixes": ["8491"]},
           "database": {"url": sqlite_url, "spool_dir": str(tmp_path / "spool"),
                        "flush_interval": 0.05}}
    interceptor = Interceptor(parse_config(raw), reactor, seed=3)
    interceptor.startService()
    side_work = interceptor.side_work
    assert side_work is not None
    channel = side_work.channel
    answers: list[defer.Deferred[bytes]] = []
    try:
        client = yield client_through(interceptor)
        yield wait_until(lambda: channel._worker is not None, timeout=10)

        def burst(first: int) -> None:
            for number in range(first, first + 100):
                call = CallAttempt(f"k;{number}", CLIENT_HOST, "client.test", "ocs.test",
                                   subscription_ids=e164(f"849120{number:05d}"))
                answers.append(client.request(ccr(call, hop_by_hop=number)))

        burst(1)
        yield defer.gatherResults(answers)
        first_worker = channel._worker
        assert first_worker is not None and first_worker.transport is not None
        os.kill(first_worker.transport.pid, signal.SIGKILL)
        burst(101)  # relayed while the worker is dead: kept in the window
        yield defer.gatherResults(answers)
        yield wait_until(lambda: channel._worker is not None
                         and channel._worker is not first_worker, timeout=15)
        burst(201)
        yield defer.gatherResults(answers)
        yield wait_until(lambda: channel.backlog == 0, timeout=15)
        yield task.deferLater(reactor, 0, lambda: None)
    finally:
        yield interceptor.stopService()
        yield ocs.port.stopListening()
    assert all(codec.result_code(a.result) == CREDIT_LIMIT_REACHED for a in answers)
    assert channel.counters.restarts == 1
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(Attempt)).scalar_one()
        sessions = set(connection.execute(select(Attempt.session_id)).scalars())
    engine.dispose()
    assert sessions == {f"k;{n}" for n in range(1, 301)}
    assert total == 300
