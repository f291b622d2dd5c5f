"""Reconnection to OCS peers: back-off after failed dials, a short delay after a loss."""

from __future__ import annotations

import random

from twisted.internet.error import ConnectionRefusedError
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

from interceptor.diameter.transport import OutboundConnector
from tests.diameter.fakes import make_agent


def _connector() -> tuple[OutboundConnector, MemoryReactorClock]:
    reactor = MemoryReactorClock()
    agent, _ = make_agent(clock=reactor, ocs=("ocs1.test",),
                          timers={"reconnect_initial": 1, "reconnect_max": 8,
                                  "reconnect_after_loss": 0.5})
    connector = OutboundConnector(agent, agent.peers["ocs1.test"], reactor,
                                  agent.config.timers, random.Random(1))
    return connector, reactor


def _dial_count(reactor: MemoryReactorClock) -> int:
    return len(reactor.tcpClients)


def test_failed_dials_back_off_exponentially_up_to_the_maximum() -> None:
    connector, reactor = _connector()
    connector.start()
    assert _dial_count(reactor) == 1
    delays = []
    for _ in range(6):
        connector.dial_failed(Failure(ConnectionRefusedError()))
        [call] = [c for c in reactor.getDelayedCalls() if c.func == connector._dial]
        delays.append(call.getTime() - reactor.seconds())
        reactor.advance(delays[-1])
    assert _dial_count(reactor) == 7
    # 1, 2, 4, 8, 8, 8 seconds, each with +-20% jitter
    for delay, base in zip(delays, (1, 2, 4, 8, 8, 8), strict=True):
        assert 0.8 * base <= delay <= 1.2 * base


def test_loss_of_an_open_connection_redials_quickly_and_resets_back_off() -> None:
    connector, reactor = _connector()
    connector.start()
    for _ in range(3):
        connector.dial_failed(Failure(ConnectionRefusedError()))
        reactor.advance(10)
    connector.opened()
    connector.connection_lost(was_open=True, disconnect_cause=None)
    [call] = [c for c in reactor.getDelayedCalls() if c.func == connector._dial]
    assert call.getTime() - reactor.seconds() == 0.5
    reactor.advance(0.5)
    connector.dial_failed(Failure(ConnectionRefusedError()))
    [call] = [c for c in reactor.getDelayedCalls() if c.func == connector._dial]
    assert call.getTime() - reactor.seconds() <= 1.2  # back-off started over


def test_peer_that_does_not_want_to_talk_is_redialled_after_the_maximum() -> None:
    connector, reactor = _connector()
    connector.start()
    connector.connection_lost(was_open=True, disconnect_cause=2)  # DO_NOT_WANT_TO_TALK_TO_YOU
    [call] = [c for c in reactor.getDelayedCalls() if c.func == connector._dial]
    assert call.getTime() - reactor.seconds() == 8


def test_stopped_connector_dials_no_more() -> None:
    connector, reactor = _connector()
    connector.start()
    connector.stop()
    connector.dial_failed(Failure(ConnectionRefusedError()))
    reactor.advance(100)
    assert _dial_count(reactor) == 1
