"""Assemble the interceptor's services from a configuration and run them."""

from __future__ import annotations

import gc
import logging
from typing import Any

from twisted.application import service
from twisted.internet.error import CannotListenError

from interceptor.config.loader import InterceptorConfig
from interceptor.detection.answer import OutOfCreditClassifier
from interceptor.diameter.service import DiameterAgentService
from interceptor.reactor_types import Reactor
from interceptor.sidework.service import SideWorkService
from interceptor.sidework.tap import OutOfCreditTap

logger = logging.getLogger(__name__)


class Interceptor(service.MultiService):
    """The side-work process (when recording), then the Diameter agent. Stopping runs
    the other way: the agent drains and disconnects first, then side work finishes."""

    def __init__(self, config: InterceptorConfig, reactor: Reactor,
                 seed: int | None = None, log_level: str = "info") -> None:
        super().__init__()
        self.config = config
        self.side_work: SideWorkService | None = None
        self.tap: OutOfCreditTap | None = None
        if config.recording is not None:
            self.side_work = SideWorkService(config, reactor, log_level)
            self.side_work.setServiceParent(self)
            self.tap = OutOfCreditTap(OutOfCreditClassifier(config.recording.detection),
                                      self.side_work.channel, now=reactor.seconds)
        self.agent_service = DiameterAgentService(config.relay, reactor,
                                                  observer=self.tap, seed=seed)
        self.agent_service.setServiceParent(self)


def _freeze_startup_heap() -> None:
    """Keep the garbage collector's full passes short: the modules, config and services
    built at startup (hundreds of thousands of objects with Twisted and SQLAlchemy) move
    to the permanent generation, so a full collection scans only what came after.
    Without this, full collections stall the reactor for milliseconds at a time."""
    gc.collect()
    gc.freeze()
    # The relay path makes no reference cycles, only short-lived objects freed by
    # reference counting; collecting every 700 allocations would only cost pauses.
    gc.set_threshold(50_000, 20, 20)
    logger.debug("froze %d startup objects out of the collector's way", gc.get_freeze_count())


def run_forever(config: InterceptorConfig, log_level: str = "info") -> int:
    """Run until SIGINT/SIGTERM; returns the process exit status."""
    from twisted.internet import reactor as global_reactor

    reactor: Any = global_reactor
    root = Interceptor(config, reactor, log_level=log_level)
    status = {"code": 0}

    def start() -> None:
        try:
            root.startService()
            _freeze_startup_heap()
        except CannotListenError as error:
            logger.error("cannot listen on %s:%s: %s", error.interface, error.port,
                         error.socketError)
            status["code"] = 2
            reactor.stop()
        except Exception as error:
            logger.error("cannot start: %s", error)
            status["code"] = 2
            reactor.stop()

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger("before", "shutdown", root.stopService)
    reactor.run()
    return status["code"]
