"""Attempts, blacklist and number portability in SQL (SQLite by default, PostgreSQL).

For the running interceptor::

    storage = StorageService(parse_database(root.section("database")), reactor)
    storage.setServiceParent(application)     # or startService()/stopService() yourself
    storage.recorder.record(AttemptRecord(...))  # on the reactor: never blocks or raises
    storage.blacklist.callee_blocked("84912345678")  # O(1)
    storage.portability.status("84912345678")       # "ported_in" | "ported_out" | None

Synchronous data access for the CLI lives in :mod:`.blacklist`, :mod:`.portability` and
:mod:`.attempt_queries`; the schema in :mod:`.models` (migrations in ``migrations/``).
"""

from interceptor.storage.blacklist_cache import BlacklistCache
from interceptor.storage.config import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE_URL,
    DatabaseConfig,
    parse_database,
    resolve_database_url,
)
from interceptor.storage.engine import DatabaseURLError, make_engine, redact_url
from interceptor.storage.portability_cache import PortabilityCache
from interceptor.storage.recorder import AttemptRecorder, RecorderStats
from interceptor.storage.records import AttemptRecord, new_attempt_id
from interceptor.storage.service import StorageService
from interceptor.storage.spool import Spool, SpoolLockedError

__all__ = [
    "DATABASE_URL_ENV",
    "DEFAULT_DATABASE_URL",
    "AttemptRecord",
    "AttemptRecorder",
    "BlacklistCache",
    "DatabaseConfig",
    "DatabaseURLError",
    "PortabilityCache",
    "RecorderStats",
    "Spool",
    "SpoolLockedError",
    "StorageService",
    "make_engine",
    "new_attempt_id",
    "parse_database",
    "redact_url",
    "resolve_database_url",
]
