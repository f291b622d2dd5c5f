"""The test SMSC: ``smsc/smsc.js`` (npm ``smpp`` server) as a subprocess on loopback.

Its events (one JSON line each: bind, submit, message, throttled, dlr...) are collected
as they come; tests wait on them with timeouts (real time, no sleeps). Missing node or
``node_modules`` fails loudly: ``.ci/run`` installs them (``npm ci --prefix tests/sms/smsc``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import defer, protocol, reactor
from twisted.internet.task import deferLater

SMSC_DIR = Path(__file__).parent / "smsc"
PASSWORD = "s3cr3t"
SYSTEM_ID = "beepcall"


def require_smsc() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found: install nodejs (the test SMSC is npm 'smpp')")
    if not (SMSC_DIR / "node_modules" / "smpp").is_dir():
        pytest.fail("npm 'smpp' not installed: run npm ci --prefix tests/sms/smsc")
    return node


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Output(protocol.ProcessProtocol):
    def __init__(self, owner: Smsc) -> None:
        self.owner = owner
        self._partial = b""

    def outReceived(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if line.strip():
                self.owner.events.append(json.loads(line))

    def errReceived(self, data: bytes) -> None:
        self.owner.stderr.append(data.decode(errors="replace"))

    def processEnded(self, reason: Any) -> None:
        self.owner.ended.callback(None)


class Smsc:
    """One run of the SMSC process; ``restart()`` brings it back on the same port."""

    def __init__(self, port: int | None = None, **options: Any) -> None:
        self.node = require_smsc()
        self.port = port or free_tcp_port()
        self.options = {"port": self.port, "system_id": SYSTEM_ID, "password": PASSWORD,
                        **options}
        self.events: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self.process: Any = None
        self.ended: defer.Deferred[None] = defer.Deferred()

    @defer.inlineCallbacks
    def start(self) -> Any:
        self.ended = defer.Deferred()
        listening = len(self.of("listening"))
        self.process = reactor.spawnProcess(
            _Output(self), self.node, [self.node, str(SMSC_DIR / "smsc.js"),
                                       json.dumps(self.options)],
            env={**os.environ}, path=str(SMSC_DIR))
        yield self.wait(lambda: len(self.of("listening")) > listening, timeout=15,
                        what="SMSC listening")
        return self

    @defer.inlineCallbacks
    def stop(self) -> Any:
        if self.process is not None and not self.ended.called:
            self.process.signalProcess(signal.SIGKILL)
            yield self.ended
        self.process = None

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["event"] == kind]

    @defer.inlineCallbacks
    def wait(self, predicate: Callable[[], bool], timeout: float = 10.0,
             what: str = "condition") -> Any:
        waited = 0.0
        while not predicate():
            if waited >= timeout:
                raise AssertionError(f"SMSC: {what} not reached within {timeout}s; "
                                     f"events {self.events[-10:]}, "
                                     f"stderr {''.join(self.stderr)[-2000:]}")
            yield deferLater(reactor, 0.05, lambda: None)
            waited += 0.05
