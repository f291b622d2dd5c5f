"""Assemble the interceptor's services from a configuration and run them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from twisted.application import service
from twisted.internet.error import CannotListenError

from interceptor.config.loader import InterceptorConfig
from interceptor.core.reactor import Reactor
from interceptor.core.runtime import freeze_startup_heap
from interceptor.detection.answer import OutOfCreditClassifier
from interceptor.diameter.service import DiameterAgentService
from interceptor.metrics.collector import InterceptorCollector
from interceptor.metrics.server import MetricsService
from interceptor.sidework.service import SideWorkService
from interceptor.sidework.tap import SideWorkTap

logger = logging.getLogger(__name__)


class Interceptor(service.MultiService):
    """The side-work process (when recording), then the Diameter agent. Stopping runs
    the other way: the agent drains and disconnects first, then side work finishes."""

    def __init__(self, config: InterceptorConfig, reactor: Reactor,
                 seed: int | None = None, log_level: str = "info") -> None:
        super().__init__()
        self.config = config
        self.side_work: SideWorkService | None = None
        self.tap: SideWorkTap | None = None
        if config.recording is not None:
            self.side_work = SideWorkService(reactor, config.raw,
                                             Path(config.database.spool_dir),
                                             base_dir=config.base_dir, log_level=log_level)
            self.side_work.setServiceParent(self)
            detection = config.recording.detection
            self.tap = SideWorkTap(OutOfCreditClassifier(detection),
                                      self.side_work.channel, now=reactor.seconds,
                                      voice_contexts=detection.voice_contexts)
            self.side_work.channel.watch_listeners.append(self.tap.set_watches)
        self.agent_service = DiameterAgentService(config.relay, reactor,
                                                  observer=self.tap, seed=seed)
        self.agent_service.setServiceParent(self)
        self.metrics: MetricsService | None = None
        if config.metrics is not None:
            agent = self.agent_service.agent
            agent.latency_mask = config.metrics.latency_sample - 1
            collector = InterceptorCollector(
                agent, self.tap, self.side_work.channel if self.side_work else None)
            self.metrics = MetricsService(config.metrics, collector, reactor)
            self.metrics.setServiceParent(self)


def run_forever(config: InterceptorConfig, log_level: str = "info") -> int:
    """Run until SIGINT/SIGTERM; returns the process exit status."""
    from twisted.internet import reactor as global_reactor

    reactor: Any = global_reactor
    root = Interceptor(config, reactor, log_level=log_level)
    status = {"code": 0}

    def start() -> None:
        try:
            root.startService()
            freeze_startup_heap()
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
