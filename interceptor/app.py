"""Assemble the interceptor's services from a configuration and run them."""

from __future__ import annotations

import logging
from typing import Any

from twisted.application import service
from twisted.internet.error import CannotListenError

from interceptor.config import InterceptorConfig
from interceptor.diameter.service import DiameterAgentService

logger = logging.getLogger(__name__)


def build_application(config: InterceptorConfig, reactor: Any) -> service.MultiService:
    root = service.MultiService()
    DiameterAgentService(config.relay, reactor).setServiceParent(root)
    return root


def run_forever(config: InterceptorConfig) -> int:
    """Run until SIGINT/SIGTERM; returns the process exit status."""
    from twisted.internet import reactor as global_reactor

    reactor: Any = global_reactor
    root = build_application(config, reactor)
    status = {"code": 0}

    def start() -> None:
        try:
            root.startService()
        except CannotListenError as error:
            logger.error("cannot listen on %s:%s: %s", error.interface, error.port,
                         error.socketError)
            status["code"] = 2
            reactor.stop()

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger("before", "shutdown", root.stopService)
    reactor.run()
    return status["code"]
