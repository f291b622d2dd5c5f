"""Shared set-up of the SMS tests: an `sms` config for a test SMSC, a migrated database,
queued attempts, campaigns."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from twisted.internet import reactor

from interceptor.core.runner import ThreadPoolRunner
from interceptor.core.section import Section
from interceptor.sms.config import SmsConfig, parse_sms
from interceptor.sms.scheduler import SmsScheduler
from interceptor.storage.engine import make_engine
from interceptor.storage.migrate import upgrade
from interceptor.storage.models import AdCampaign, Attempt
from tests.sms.smsc import PASSWORD, SYSTEM_ID

A, B = "84912000001", "84987000002"
PASSWORD_ENV = "BEEPCALL_TEST_SMPP_PASSWORD"
VI_TEMPLATE = "{caller} đã gọi cho bạn lúc {time}.{ad}"


def sms_section(*ports: int, **changes: Any) -> dict[str, Any]:
    binds = [{"name": f"smsc{index}", "host": "127.0.0.1", "port": port,
              "system_id": SYSTEM_ID, "password_env": PASSWORD_ENV,
              "reconnect_initial_s": 0.05, "reconnect_max_s": 0.2,
              "reconnect_after_loss_s": 0.05, "response_timeout_s": 2, "priority": index}
             for index, port in enumerate(ports)]
    raw: dict[str, Any] = {
        "smsc": {"binds": binds, "max_per_second": 5000, "burst": 200,
                 "throttle_delay_s": 0.02, "throttle_delay_max_s": 0.2},
        "templates": {"vi": {"to_callee": VI_TEMPLATE},
                      "en": {"to_callee": "{caller} called you at {time}.{ad}"}},
        "language": "vi",
        "pickup_interval_s": 0.1,
        "ads": {"refresh_s": 0.2},
    }
    raw.update(changes)
    return raw


def parse(raw: dict[str, Any]) -> SmsConfig:
    return parse_sms(Section(raw, ("sms",)))


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return PASSWORD


class Database:
    def __init__(self, url: str) -> None:
        upgrade(url)
        self.engine = make_engine(url)
        self.runner = ThreadPoolRunner(reactor, 2, "sms-test-db")
        self.runner.start()

    def close(self) -> None:
        self.runner.stop()
        self.engine.dispose()

    def queue(self, count: int = 1, *, callee_class: str = "on_net", caller: str = A,
              callee: str = B, queued_ago: float = 1.0, status: str = "queued") -> list[str]:
        now = datetime.now(UTC)
        ids = [str(uuid.uuid4()) for _ in range(count)]
        with self.engine.begin() as connection:
            connection.execute(insert(Attempt), [{
                "attempt_id": attempt_id, "occurred_at": datetime(2026, 11, 25, 3, 32, tzinfo=UTC),
                "session_id": attempt_id, "result_code": 4012,
                "result_code_source": "top_level", "client_peer": "cscf.test",
                "caller_e164": caller, "callee_e164": callee, "callee_class": callee_class,
                "status": "beeped", "beep_outcome": "rang", "sms_status": status,
                "sms_queued_at": now - timedelta(seconds=queued_ago)} for attempt_id in ids])
        return ids

    def campaign(self, name: str, text: str, weight: int = 1, **values: Any) -> int:
        with self.engine.begin() as connection:
            result = connection.execute(insert(AdCampaign).values(
                name=name, text=text, weight=weight, classes=values.pop("classes", ""),
                status=values.pop("status", "active"), impressions=0, delivered=0, **values))
            return int(result.inserted_primary_key[0])

    def rows(self) -> dict[str, Any]:
        with self.engine.connect() as connection:
            return {row.attempt_id: row for row in connection.execute(select(Attempt))}

    def status(self, attempt_id: str) -> str | None:
        with self.engine.connect() as connection:
            return connection.execute(select(Attempt.sms_status).where(
                Attempt.attempt_id == attempt_id)).scalar_one()

    def count(self, sms_status: str) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(Attempt).where(
                Attempt.sms_status == sms_status)).scalar_one())

    def campaigns(self) -> dict[str, Any]:
        with self.engine.connect() as connection:
            return {row.name: row for row in connection.execute(select(AdCampaign))}


@pytest.fixture
def database(sqlite_url: str) -> Iterator[Database]:
    db = Database(sqlite_url)
    yield db
    db.close()


def scheduler(config: SmsConfig, db: Database, seed: int = 7) -> SmsScheduler:
    return SmsScheduler(config, db.engine, db.runner, reactor, seed=seed)
