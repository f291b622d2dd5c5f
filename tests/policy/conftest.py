"""Fixtures of the policy's end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from twisted.internet import reactor

from interceptor.demo.sip_network import DemoSipNetwork


@pytest.fixture
def sip_network() -> Iterator[tuple[DemoSipNetwork, int]]:
    """B's network: a UDP SIP UAS that rings every callee (and records the INVITEs)."""
    network = DemoSipNetwork()
    port = reactor.listenUDP(0, network, interface="127.0.0.1")
    yield network, port.getHost().port
    port.stopListening()
