"""The assembled storage service on the real reactor and real threads."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest_twisted
from sqlalchemy import func, select
from twisted.internet import reactor as global_reactor
from twisted.internet import task

from interceptor.storage import blacklist
from interceptor.storage.blacklist import BlacklistItem
from interceptor.storage.config import DatabaseConfig
from interceptor.storage.engine import make_engine
from interceptor.storage.models import Attempt
from interceptor.storage.service import StorageService
from tests.storage.databases import migrate
from tests.storage.fakes import attempt

reactor: Any = global_reactor


@pytest_twisted.inlineCallbacks
def test_records_and_reloads_on_real_threads(database_url: str,
                                             tmp_path: Path) -> Generator[Any, Any, None]:
    migrate(database_url)
    config = DatabaseConfig(batch_size=50, flush_interval=0.05, spool_dir=str(tmp_path),
                            blacklist_refresh=0.1)
    storage = StorageService(config, reactor, url=database_url)
    yield storage.startService()
    records = [attempt(index) for index in range(230)]
    for record in records:
        storage.recorder.record(record)
    engine = make_engine(database_url)
    try:
        blacklist.upsert(engine, [BlacklistItem("84980000001", "callee", added_by="test")])
        for _ in range(100):
            if storage.blacklist.callee_blocked("84980000001"):
                break
            yield task.deferLater(reactor, 0.05, lambda: None)
        assert storage.blacklist.callee_blocked("84980000001")
        yield storage.stopService()
        with engine.connect() as connection:
            assert connection.execute(
                select(func.count()).select_from(Attempt)).scalar_one() == 230
    finally:
        engine.dispose()
    assert storage.recorder.stats().written == 230
    assert not storage.running
