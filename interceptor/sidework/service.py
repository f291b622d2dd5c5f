"""The relay process's view of side work: a service owning the worker channel."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from twisted.application import service

from interceptor.core.reactor import Reactor
from interceptor.sidework.channel import WorkerChannel

logger = logging.getLogger(__name__)


class SideWorkService(service.Service):
    name = "side-work"

    def __init__(self, reactor: Reactor, config_raw: Any, state_dir: Path,
                 base_dir: Path | None = None, log_level: str = "info") -> None:
        """``config_raw``: the whole configuration mapping, for the worker process;
        ``state_dir``: the spool directory (the spill file and the worker's config)."""
        self.channel = WorkerChannel(reactor, config_raw, state_dir, base_dir=base_dir,
                                     log_level=log_level)

    def startService(self) -> None:
        super().startService()
        self.channel.start()

    def stopService(self) -> Any:
        super().stopService()
        return self.channel.stop()
