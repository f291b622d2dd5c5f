"""The relay process's view of side work: a service owning the worker channel."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from twisted.application import service

from interceptor.config.loader import InterceptorConfig
from interceptor.core.reactor import Reactor
from interceptor.sidework.channel import WorkerChannel

logger = logging.getLogger(__name__)


class SideWorkService(service.Service):
    name = "side-work"

    def __init__(self, config: InterceptorConfig, reactor: Reactor,
                 log_level: str = "info") -> None:
        self.channel = WorkerChannel(reactor, config.raw, Path(config.database.spool_dir),
                                     base_dir=config.base_dir, log_level=log_level)

    def startService(self) -> None:
        super().startService()
        self.channel.start()

    def stopService(self) -> Any:
        super().stopService()
        return self.channel.stop()
