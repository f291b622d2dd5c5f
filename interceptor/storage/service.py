"""One service that owns the storage side of a running interceptor.

It owns the engine, the dedicated database thread pool (``database.threads``), a
one-thread pool for spool fsyncs, the :class:`AttemptRecorder`, the
:class:`BlacklistCache` and the :class:`PortabilityCache`, and starts/stops them in the
right order (thread pools first up, last down, so the recorder's final flush still has a
thread).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twisted.application import service
from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks

from interceptor.core.reactor import Reactor
from interceptor.core.runner import Runner, ThreadPoolRunner
from interceptor.storage.blacklist_cache import BlacklistCache
from interceptor.storage.config import DatabaseConfig, resolve_database_url
from interceptor.storage.engine import make_engine, redact_url
from interceptor.storage.portability_cache import PortabilityCache
from interceptor.storage.recorder import AttemptRecorder
from interceptor.storage.spool import Spool

logger = logging.getLogger(__name__)


class StorageService(service.Service):
    """Recorder + blacklist and portability caches + their threads.

    ``startService`` and ``stopService`` return Deferreds (see each).
    """

    name = "storage"

    def __init__(self, config: DatabaseConfig, reactor: Reactor, *,
                 environ: Mapping[str, str] | None = None, url: str | None = None) -> None:
        """Raises ConfigError (unreadable ``url_file``) or DatabaseURLError (bad URL)."""
        self.config = config
        self.url = url or resolve_database_url(config, environ)
        self.label = redact_url(self.url)
        self.engine = make_engine(self.url, config)
        self._db_threads = ThreadPoolRunner(reactor, config.threads, "beepcall-db")
        self.runner: Runner = self._db_threads  # for other side work's SQL (beeps)
        self._spool_thread = ThreadPoolRunner(reactor, 1, "beepcall-spool")
        spool = Spool(Path(config.spool_dir), fsync=config.spool_fsync,
                      syncer=self._spool_thread)
        self.recorder = AttemptRecorder(config, self.engine, self._db_threads, spool, reactor,
                                        database_label=self.label)
        self.blacklist = BlacklistCache(self.engine, self._db_threads, reactor,
                                        refresh=config.blacklist_refresh,
                                        database_label=self.label)
        self.portability = PortabilityCache(self.engine, self._db_threads, reactor,
                                            refresh=config.portability_refresh,
                                            database_label=self.label)

    def startService(self) -> Deferred[None]:
        """Start threads, recorder and caches.

        Raises at once (SpoolLockedError, OSError) if the spool directory cannot be used.
        The Deferred fires once the recorder's startup replay and the first cache loads
        have been attempted; it never fails (a database that is down is not fatal).
        """
        self._db_threads.start()
        self._spool_thread.start()
        try:
            recorder_ready = self.recorder.startService()
        except Exception:
            self._db_threads.stop()
            self._spool_thread.stop()
            raise
        service.Service.startService(self)
        logger.info("recording attempts in %s (spool %s)", self.label, self.config.spool_dir)
        ready = gatherResults([recorder_ready, self.blacklist.startService(),
                               self.portability.startService()])
        return ready.addCallback(lambda _: None)

    @inlineCallbacks
    def stopService(self) -> Any:
        """Flush (bounded by ``stop_timeout``) and spool the rest, then stop the threads."""
        if not self.running:
            return
        service.Service.stopService(self)
        yield self.recorder.stopService()
        yield self.blacklist.stopService()
        yield self.portability.stopService()
        self._db_threads.stop()
        self._spool_thread.stop()
        self.engine.dispose()
        logger.info("attempt recorder stopped: %s", self.recorder.stats())
