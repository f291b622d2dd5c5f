"""Two processes deciding against one PostgreSQL at the same instant, over the same
caller's attempts: the limits hold exactly, every attempt is decided once."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

from sqlalchemy import func, insert, select

from interceptor.policy.threshold_store import change
from interceptor.storage.engine import make_engine
from interceptor.storage.migrate import upgrade
from interceptor.storage.models import Attempt, PolicyCounter
from tests.storage.databases import REPO

A = "84912000001"


def test_two_processes_never_pass_the_callers_limit_together(postgres_url: str) -> None:
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    for key, value in (("caller.max_per_day", "37"), ("caller.max_per_hour", "off"),
                       ("pair.min_interval", "600"), ("callee.max_per_day", "1"),
                       ("quiet_hours.window", "off")):
        change(engine, key, value, "test")
    now = datetime.now(UTC)
    rows = [{"attempt_id": f"a{i}", "occurred_at": now, "session_id": f"s{i}",
             "result_code": 4012, "result_code_source": "top_level", "client_peer": "ctf",
             "caller_e164": A, "callee_e164": f"8498700{i % 150:04d}",
             "callee_class": "off_net", "status": "recorded"} for i in range(300)]
    with engine.begin() as connection:
        connection.execute(insert(Attempt), rows)
    deciders = [subprocess.Popen(
        [sys.executable, "-m", "tests.policy.decider", postgres_url, "7"],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(2)]
    for process in deciders:  # both loaded and connected before either starts
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    for process in deciders:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    results = [json.loads(process.communicate(timeout=120)[0]) for process in deciders]
    assert [process.returncode for process in deciders] == [0, 0]

    claimed = [attempt for result in results for attempt in result["claimed"]]
    assert len(claimed) == 37 and len(set(claimed)) == 37
    assert all(result["claimed"] for result in results), "both processes must take part"
    print("claimed per process:", [len(r["claimed"]) for r in results],
          "lost races:", [r["lost"] for r in results])
    with engine.connect() as connection:
        statuses = dict(connection.execute(
            select(Attempt.status_reason, func.count()).group_by(Attempt.status_reason)
        ).all())
        day_count = connection.execute(select(PolicyCounter.count).where(
            PolicyCounter.rule == "caller_day")).scalar_one()
        # Each B appears twice (i and i+150): the pair or callee limit refuses one of them
        # unless the caller's limit already did.
        beeped_callees = connection.execute(
            select(Attempt.callee_e164).where(Attempt.status == "beeping")).scalars().all()
    engine.dispose()
    assert day_count == 37
    assert len(set(beeped_callees)) == 37  # never the same B twice
    assert statuses[None] == 37  # the claimed ones
    assert sum(statuses.values()) == 300  # every attempt decided
    assert statuses["policy:caller_daily"] + statuses.get("policy:pair_interval", 0) + \
        statuses.get("policy:callee_daily", 0) == 263
