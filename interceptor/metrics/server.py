"""The relay process's HTTP endpoint: ``/metrics`` (Prometheus text format) and
``/status`` (JSON for ``beepcall status``). Both are rendered on the reactor thread from
plain counters: a scrape costs the relay about a millisecond, every scrape interval."""

from __future__ import annotations

import json
import logging
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry
from twisted.application import service
from twisted.internet import defer
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from interceptor.core.reactor import Reactor
from interceptor.metrics.collector import InterceptorCollector
from interceptor.metrics.config import MetricsConfig
from interceptor.metrics.status import status_document

logger = logging.getLogger(__name__)


class _Metrics(Resource):
    isLeaf = True  # noqa: N815  (Twisted's name)

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self.registry = registry

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"Content-Type", CONTENT_TYPE_LATEST.encode())
        return generate_latest(self.registry)


class _Status(Resource):
    isLeaf = True  # noqa: N815  (Twisted's name)

    def __init__(self, endpoint: MetricsService) -> None:
        super().__init__()
        self.endpoint = endpoint

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"Content-Type", b"application/json")
        return json.dumps(self.endpoint.status(), indent=2).encode() + b"\n"


class MetricsService(service.Service):
    name = "metrics"

    def __init__(self, config: MetricsConfig, collector: InterceptorCollector,
                 reactor: Reactor) -> None:
        self.config = config
        self.collector = collector
        self.reactor = reactor
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self.started_at = reactor.seconds()
        self.port: Any = None

    def status(self) -> dict[str, Any]:
        return status_document(self.collector, self.started_at,
                               self.reactor.seconds()).to_json()

    def startService(self) -> None:
        super().startService()
        root = Resource()
        metrics: Any = _Metrics(self.registry)
        status: Any = _Status(self)
        root.putChild(b"metrics", metrics)
        root.putChild(b"status", status)
        site = Site(root)
        site.noisy = False
        reactor: Any = self.reactor
        self.port = reactor.listenTCP(self.config.port, site, interface=self.config.host)
        logger.info("metrics on http://%s:%s/metrics, status on /status", self.config.host,
                    self.listening_port)

    @property
    def listening_port(self) -> int:
        return int(self.port.getHost().port) if self.port is not None else self.config.port

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()
        if self.port is None:
            return defer.succeed(None)
        port, self.port = self.port, None
        return defer.maybeDeferred(port.stopListening)
