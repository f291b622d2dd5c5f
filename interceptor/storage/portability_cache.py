"""Number portability for the running interceptor: ``status(e164)`` in O(1).

Implements :class:`interceptor.numbers.PortabilityLookup`. Every ``refresh`` seconds
(``database.portability_refresh``, default 30 s) a cheap fingerprint of the table (row
count, newest ``updated_at``) is read on the database thread pool; the table is loaded
again only when that changed (an ``mnp import``). A failed refresh keeps the last table.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from interceptor.core.reactor import Clock
from interceptor.core.runner import Runner
from interceptor.core.vocabulary import PortabilityStatus
from interceptor.storage.portability import Fingerprint, load_statuses_if_changed
from interceptor.storage.reloader import ReloadingCache

logger = logging.getLogger(__name__)

_STATUS_OF = {status.value: status for status in PortabilityStatus}


class PortabilityCache(ReloadingCache[tuple[Fingerprint, dict[str, str] | None]]):
    name = "portability-cache"

    def __init__(self, engine: Engine, runner: Runner, clock: Clock, refresh: float = 30.0,
                 database_label: str = "database") -> None:
        super().__init__(runner, clock, refresh, f"number portability from {database_label}")
        self._engine = engine
        self._statuses: dict[str, PortabilityStatus] = {}
        self._fingerprint: Fingerprint | None = None

    def status(self, e164: str) -> PortabilityStatus | None:
        """"ported_in" (now ours), "ported_out" (now another operator's) or None."""
        return self._statuses.get(e164)

    def __len__(self) -> int:
        return len(self._statuses)

    def _load(self) -> tuple[Fingerprint, dict[str, str] | None]:
        return load_statuses_if_changed(self._engine, self._fingerprint)

    def _apply(self, loaded: tuple[Fingerprint, dict[str, str] | None]) -> None:
        fingerprint, statuses = loaded
        if statuses is not None:
            known: dict[str, PortabilityStatus] = {}
            for e164, text in statuses.items():
                status = _STATUS_OF.get(text)
                if status is not None:
                    known[e164] = status
            self._statuses = known
            logger.info("number portability loaded: %s numbers", len(self._statuses))
        self._fingerprint = fingerprint
