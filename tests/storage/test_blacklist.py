"""Blacklist and portability data access, and the interceptor's blacklist cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from twisted.internet.task import Clock

from interceptor.storage import blacklist, portability
from interceptor.storage.blacklist import BlacklistItem
from interceptor.storage.blacklist_cache import BlacklistCache
from interceptor.storage.portability import PortedItem
from tests.storage.fakes import ManualRunner

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def item(number: str, scope: str = "callee", **overrides: Any) -> BlacklistItem:
    values: dict[str, Any] = {"reason": "opted out", "added_by": "ops"}
    values.update(overrides)
    return BlacklistItem(number, scope, **values)


def test_upsert_adds_then_updates(engine: Engine) -> None:
    counts = blacklist.upsert(engine, [item("84980000001"), item("84980000001", "caller"),
                                       item("84980000002")])
    assert (counts.added, counts.updated) == (3, 0)
    counts = blacklist.upsert(engine, [item("84980000001", reason="changed"),
                                       item("84980000003")])
    assert (counts.added, counts.updated) == (1, 1)
    [entry] = blacklist.entries(engine, scope="callee", number="84980000001")
    assert entry.reason == "changed"
    assert entry.added_at is not None and entry.added_at.tzinfo == UTC


def test_scope_is_a_closed_vocabulary(engine: Engine) -> None:
    with pytest.raises(IntegrityError):
        blacklist.upsert(engine, [item("84980000001", "both")])
    assert blacklist.entries(engine) == []


def test_remove_one_scope_or_both(engine: Engine) -> None:
    blacklist.upsert(engine, [item("84980000001"), item("84980000001", "caller")])
    assert blacklist.remove(engine, "84980000001", "caller") == 1
    assert blacklist.remove(engine, "84980000001") == 1
    assert blacklist.remove(engine, "84980000001") == 0


def test_expired_entries_are_not_active(engine: Engine) -> None:
    blacklist.upsert(engine, [item("84980000001", expires_at=NOW - timedelta(days=1)),
                              item("84980000002", expires_at=NOW + timedelta(days=1)),
                              item("84980000003")])
    active = blacklist.load_active(engine, NOW)
    assert set(active) == {("callee", "84980000002"), ("callee", "84980000003")}
    assert active[("callee", "84980000002")] == NOW + timedelta(days=1)
    assert len(blacklist.entries(engine, now=NOW)) == 2
    assert len(blacklist.entries(engine, include_expired=True, now=NOW)) == 3


def test_portability_upsert_lookup_and_replace(engine: Engine) -> None:
    counts = portability.upsert_ported(engine, [PortedItem("84980000001", "ported_in"),
                                                PortedItem("84910000001", "ported_out",
                                                           "1234")])
    assert (counts.added, counts.updated) == (2, 0)
    counts = portability.upsert_ported(engine, [PortedItem("84910000001", "ported_in")])
    assert (counts.added, counts.updated) == (0, 1)
    assert portability.lookup(engine, "84910000001") == PortedItem("84910000001",
                                                                    "ported_in")
    portability.upsert_ported(engine, [PortedItem("84930000001", "ported_out")],
                              replace=True)
    assert set(portability.load_all(engine)) == {"84930000001"}
    assert portability.lookup(engine, "84980000001") is None


# -- the cache ---------------------------------------------------------------------------

def make_cache(engine: Engine, runner: ManualRunner) -> tuple[BlacklistCache, Clock]:
    clock = Clock()
    clock.advance(NOW.timestamp())  # the cache compares expiries with clock.seconds()
    return BlacklistCache(engine, runner, clock, refresh=2.0), clock


def test_cache_lookups_and_periodic_refresh(sqlite_engine: Engine) -> None:
    runner = ManualRunner(auto=True)
    blacklist.upsert(sqlite_engine, [item("84980000001"), item("84910000001", "caller")])
    cache, clock = make_cache(sqlite_engine, runner)
    ready: list[Any] = []
    cache.startService().addBoth(ready.append)
    assert ready == [None]
    assert cache.callee_blocked("84980000001")
    assert cache.caller_blocked("84910000001")
    assert not cache.caller_blocked("84980000001")  # scopes are separate
    assert not cache.callee_blocked("84980000009")

    blacklist.upsert(sqlite_engine, [item("84980000009")])
    blacklist.remove(sqlite_engine, "84980000001")
    clock.advance(1.9)
    assert not cache.callee_blocked("84980000009")  # not yet refreshed
    clock.advance(0.1)
    assert cache.callee_blocked("84980000009")
    assert not cache.callee_blocked("84980000001")
    assert cache.reloads == 2
    cache.stopService()


def test_cache_honours_expiry_between_refreshes(sqlite_engine: Engine) -> None:
    expires = datetime.fromtimestamp(NOW.timestamp() + 1.0, UTC)
    blacklist.upsert(sqlite_engine, [item("84980000001", expires_at=expires)])
    cache, clock = make_cache(sqlite_engine, ManualRunner(auto=True))
    cache.startService()
    assert cache.callee_blocked("84980000001")
    clock.advance(1.0)
    assert not cache.callee_blocked("84980000001")
    cache.stopService()


def test_cache_keeps_the_last_good_set_when_the_database_is_down(
        sqlite_engine: Engine) -> None:
    runner = ManualRunner(auto=True)
    blacklist.upsert(sqlite_engine, [item("84980000001")])
    cache, clock = make_cache(sqlite_engine, runner)
    cache.startService()
    runner.down = True
    clock.advance(2.0)
    clock.advance(2.0)
    assert cache.failures == 2
    assert cache.callee_blocked("84980000001")
    runner.down = False
    clock.advance(2.0)
    assert cache.reloads == 2
    cache.stopService()


def test_one_load_in_flight_at_a_time_and_stop_waits_for_it(sqlite_engine: Engine) -> None:
    runner = ManualRunner()
    cache, clock = make_cache(sqlite_engine, runner)
    ready: list[Any] = []
    cache.startService().addBoth(ready.append)
    clock.advance(2.0)
    clock.advance(2.0)
    assert len(runner.jobs) == 1 and ready == []
    stopped: list[Any] = []
    cache.stopService().addBoth(stopped.append)
    assert stopped == []
    runner.run_all()
    assert ready == [None] and stopped == [None]
    assert len(cache) == 0


def test_portability_cache_reloads_only_when_the_table_changed(sqlite_engine: Engine) -> None:
    from interceptor.storage.portability_cache import PortabilityCache

    loads: list[str] = []
    runner = ManualRunner(auto=True)
    original = runner.run

    def spy(fn: Any, *args: Any) -> Any:
        loads.append("load")
        return original(fn, *args)

    runner.run = spy  # type: ignore[method-assign]
    portability.upsert_ported(sqlite_engine, [PortedItem("84980000001", "ported_in")])
    clock = Clock()
    cache = PortabilityCache(sqlite_engine, runner, clock, refresh=30.0)
    cache.startService()
    assert cache.status("84980000001") == "ported_in"
    assert cache.status("84980000002") is None
    clock.advance(30.0)
    assert len(loads) == 2 and len(cache) == 1
    portability.upsert_ported(sqlite_engine, [PortedItem("84980000002", "ported_out")])
    clock.advance(30.0)
    assert cache.status("84980000002") == "ported_out"
    portability.upsert_ported(sqlite_engine, [PortedItem("84980000003", "ported_out")],
                              replace=True)
    clock.advance(30.0)
    assert cache.status("84980000001") is None  # deletions are seen too
    assert cache.status("84980000003") == "ported_out"
    cache.stopService()
