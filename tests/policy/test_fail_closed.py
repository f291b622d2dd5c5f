"""The database goes away under a running interceptor: relaying goes on, no beep goes
out (the policy cannot count, so it does not decide: fail closed), and the attempts wait
in the spool; when the database is back they are recorded and beeped, once each.

The outage is made with a TCP forwarder in front of the shared PostgreSQL, closed and
reopened by the test, so no other test's database is touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from twisted.internet import defer, reactor
from twisted.internet.task import deferLater

from interceptor.app.relay import Interceptor
from interceptor.config.loader import parse_config
from interceptor.core.avps import CREDIT_LIMIT_REACHED
from interceptor.demo.sip_network import DemoSipNetwork
from interceptor.diameter import codec
from interceptor.diameter.traffic import CallAttempt, ccr, e164
from interceptor.storage.engine import make_engine
from interceptor.storage.migrate import upgrade
from interceptor.storage.models import Attempt
from tests.diameter.harness import CLIENT_HOST, client_through, wait_until
from tests.policy.test_policy_end_to_end import _config, _out_of_credit_ocs
from tests.storage.forwarder import Forwarder

pytestmark = pytest.mark.integration


@pytest_twisted.inlineCallbacks
def test_no_beep_while_the_database_is_down_and_none_lost_after(
        postgres_url: str, tmp_path: Path, sip_network: tuple[DemoSipNetwork, int]) -> Any:
    upgrade(postgres_url)
    real = make_url(postgres_url)
    forwarder = Forwarder(real.host or "127.0.0.1", real.port or 5432)
    via_forwarder = real.set(port=forwarder.port).render_as_string(hide_password=False)
    network, sip_port = sip_network
    ocs = _out_of_credit_ocs()
    raw = _config(via_forwarder, tmp_path / "spool", sip_port,
                  {"pair.min_interval": "off"})
    raw["peers"]["ocs"][0]["port"] = ocs.listen()
    interceptor = Interceptor(parse_config(raw), reactor, seed=8)
    interceptor.startService()
    engine = make_engine(postgres_url)  # the test's own view, not through the forwarder

    def rows() -> dict[str, int]:
        with engine.connect() as connection:
            return dict(connection.execute(select(Attempt.status, func.count())
                                           .group_by(Attempt.status)).all())

    try:
        client = yield client_through(interceptor)

        def call(i: int) -> Any:
            attempt = CallAttempt(f"down;{i}", CLIENT_HOST, "client.test", "ocs.test",
                                  subscription_ids=e164("84912000001"),
                                  called_party_address=f"tel:+8498700000{i}")
            return client.request(ccr(attempt, hop_by_hop=i + 1))

        yield call(0)  # with the database up: the side work is ready and beeps
        yield wait_until(lambda: rows() == {"beeped": 1}, timeout=30)
        yield forwarder.down()
        answers = yield defer.gatherResults([call(i) for i in range(1, 5)])
        # Relaying is untouched: every CCR got its 4012 back.
        assert [codec.result_code(answer) for answer in answers] == \
            [CREDIT_LIMIT_REACHED] * 4
        # Two pick-up rounds (every 2 s) pass with the database down: nothing rings.
        yield deferLater(reactor, 4.5, lambda: None)
        assert len(network.calls) == 1
        assert rows() == {"beeped": 1}
        forwarder.up()
        yield wait_until(lambda: rows() == {"beeped": 5}, timeout=30)
        yield wait_until(lambda: len(network.calls) == 5, timeout=10)
    finally:
        yield interceptor.stopService()
        yield ocs.port.stopListening()
        if forwarder.listening.connected:
            yield forwarder.down()
    engine.dispose()
    assert sorted(call.callee for call in network.calls.values()) == \
        [f"8498700000{i}" for i in range(5)]
