"""The running interceptor's view of the blacklist: refreshed from SQL, read in O(1).

Every ``refresh`` seconds (``database.blacklist_refresh``, default 2 s) the active entries
are loaded on the database thread pool and swapped in whole on the reactor; lookups are
dictionary reads. Expiry is also checked at lookup time, so an entry stops applying the
moment it expires, not at the next refresh. If a refresh fails the previous set stays in
force (and the failure is logged once per outage).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Engine

from interceptor.core.reactor import Clock
from interceptor.core.runner import Runner
from interceptor.core.vocabulary import BlacklistScope
from interceptor.storage.blacklist import BlacklistKey, load_active
from interceptor.storage.reloader import ReloadingCache

logger = logging.getLogger(__name__)


class BlacklistCache(ReloadingCache[dict[BlacklistKey, datetime | None]]):
    """``is_blocked(scope, e164)`` for the policy, kept fresh from the database."""

    name = "blacklist-cache"

    def __init__(self, engine: Engine, runner: Runner, clock: Clock, refresh: float = 2.0,
                 database_label: str = "database") -> None:
        super().__init__(runner, clock, refresh, f"the blacklist from {database_label}")
        self._engine = engine
        self._clock = clock
        self._entries: dict[BlacklistKey, float | None] = {}
        self.loaded_at: float | None = None  # clock time of the last successful load

    # -- lookups (reactor, O(1)) --------------------------------------------------------

    def is_blocked(self, scope: str, e164: str) -> bool:
        key = (scope, e164)
        if key not in self._entries:
            return False
        expires = self._entries[key]
        return expires is None or expires > self._clock.seconds()

    def caller_blocked(self, e164: str) -> bool:
        """Never beep on this caller's (A's) behalf."""
        return self.is_blocked(BlacklistScope.CALLER.value, e164)

    def callee_blocked(self, e164: str) -> bool:
        """This callee (B) opted out of beeps."""
        return self.is_blocked(BlacklistScope.CALLEE.value, e164)

    def __len__(self) -> int:
        return len(self._entries)

    def _load(self) -> dict[BlacklistKey, datetime | None]:
        # Runs on the thread pool; "now" comes from the reactor clock, like lookups.
        return load_active(self._engine, datetime.fromtimestamp(self._clock.seconds(), UTC))

    def _apply(self, active: dict[BlacklistKey, datetime | None]) -> None:
        self._entries = {key: (None if expires is None else expires.timestamp())
                         for key, expires in active.items()}
        self.loaded_at = self._clock.seconds()
