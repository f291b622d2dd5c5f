#!/usr/bin/env python3
"""Policy benchmark: decisions per second with a million callers' history in the tables.

    python bench/policy_bench.py                  # 1,000,000 callers, 5,000 attempts
    python bench/policy_bench.py --quick          # 100,000 callers, 1,000 attempts
    python bench/policy_bench.py --backends sqlite --callers 300000 --attempts 2000

For each backend (a SQLite file in a temporary directory; a throw-away PostgreSQL
database ``bench_policy_<random>`` at 127.0.0.1:5432, dropped afterwards), two runs on
freshly migrated databases:

* ``history``: ``policy_counters`` holds the current hour's and day's counters of
  ``--callers`` distinct callers (plus a per-day counter for every 4th callee) and
  ``policy_pairs`` one recent pair per caller, bulk-loaded (executemany in chunks on
  SQLite, COPY on PostgreSQL); the load time is reported.
* ``baseline``: only the rows the attempts themselves touch (the at-limit callers and
  the recent pairs), so the outcome mix is identical and only the table size differs.

Then ``--attempts`` recorded attempts (60 % new callers -> allowed; 20 % callers already
at their hourly limit -> caller_hourly; 20 % repeats of a pair beeped 2 minutes ago ->
pair_interval), shuffled, are decided with
:func:`interceptor.policy.service.decide_due` in batches of ``--batch`` (200, as the
side-work process does), default thresholds with quiet hours off. The figures are
decisions per second and microseconds per decision; the outcome mix is printed and
checked against the expected one so the figures are known to measure the right work.
Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from sqlalchemy import Engine  # noqa: E402

from interceptor.core.vocabulary import SuppressionReason  # noqa: E402
from interceptor.policy.calendar import day_of, hour_of  # noqa: E402
from interceptor.policy.rules import Plan, plan  # noqa: E402
from interceptor.policy.service import decide_due  # noqa: E402
from interceptor.policy.store import Candidate, DecisionBatch, Planner  # noqa: E402
from interceptor.policy.thresholds import SPECS, Thresholds  # noqa: E402
from interceptor.storage.dialect import table_of  # noqa: E402
from interceptor.storage.engine import make_engine  # noqa: E402
from interceptor.storage.migrate import upgrade  # noqa: E402
from interceptor.storage.models import PairLastBeep  # noqa: E402
from interceptor.storage.records import AttemptRecord  # noqa: E402
from interceptor.storage.writer import write_attempts  # noqa: E402

PG_HOST = os.environ.get("BEEPCALL_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BEEPCALL_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("BEEPCALL_TEST_PG_USER", "postgres")
ZONE = ZoneInfo("UTC")
CHUNK = 100_000
HOURLY_LIMIT = int(SPECS["caller.max_per_hour"].default)  # type: ignore[arg-type]
MIN_INTERVAL = float(SPECS["pair.min_interval"].default)  # type: ignore[arg-type]
RECENT = 120.0  # seconds since the repeated pairs' last beep (< the minimum interval)
MAX_AGE = 60.0  # global.max_attempt_age's default


def caller_number(index: int) -> str:
    return f"849{index:08d}"


def pair_callee(index: int) -> str:
    return f"843{index:08d}"


@dataclass(frozen=True)
class Workload:
    """Which history callers the attempts use, and the attempts themselves."""

    callers: int
    limited: tuple[int, ...]  # history callers at their hourly limit
    repeated: tuple[int, ...]  # history callers whose pair was beeped RECENT s ago
    attempts: tuple[tuple[str, str], ...]  # (caller, callee), shuffled
    expected: dict[str, int]

    @classmethod
    def make(cls, callers: int, attempts: int, seed: int = 5) -> Workload:
        rng = random.Random(seed)
        n_limited = n_repeated = attempts // 5
        n_new = attempts - n_limited - n_repeated
        if n_limited + n_repeated > callers:
            raise SystemExit("--callers must be at least 40% of --attempts")
        chosen = rng.sample(range(callers), n_limited + n_repeated)
        limited, repeated = tuple(chosen[:n_limited]), tuple(chosen[n_limited:])
        pairs = ([(f"847{j:08d}", f"846{j:08d}") for j in range(n_new)]
                 + [(caller_number(i), f"845{i:08d}") for i in limited]
                 + [(caller_number(i), pair_callee(i)) for i in repeated])
        rng.shuffle(pairs)
        return cls(callers, limited, repeated, tuple(pairs),
                   {"claimed": n_new, SuppressionReason.CALLER_HOURLY: n_limited,
                    SuppressionReason.PAIR_INTERVAL: n_repeated})


@dataclass
class History:
    """The rows of one caller index, for the current hour and day at ``now``."""

    now: datetime
    hour_label: str = ""
    hour_end: datetime = field(default_factory=lambda: datetime.now(UTC))
    day_label: str = ""
    day_end: datetime = field(default_factory=lambda: datetime.now(UTC))
    limited: frozenset[int] = frozenset()
    repeated: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        hour, day = hour_of(self.now, ZONE), day_of(self.now, ZONE)
        self.hour_label, self.hour_end = hour.label, hour.ends_at
        self.day_label, self.day_end = day.label, day.ends_at

    def hour_count(self, index: int) -> int:
        return HOURLY_LIMIT if index in self.limited else 1 + index % (HOURLY_LIMIT - 1)

    def day_count(self, index: int) -> int:
        return self.hour_count(index) + index % 3  # at most 7 of 20

    def pair_age(self, index: int) -> float:
        """Seconds since the pair's last beep: old enough, except the repeated ones."""
        return RECENT if index in self.repeated else MIN_INTERVAL + 100 + index % 3000

    def counters(self, indices: Sequence[int]) -> Iterator[tuple[str, str, str, int, str]]:
        """(rule, subject, period, count, 'hour'|'day') rows."""
        for index in indices:
            caller = caller_number(index)
            yield ("caller_hour", caller, self.hour_label, self.hour_count(index), "hour")
            yield ("caller_day", caller, self.day_label, self.day_count(index), "day")
            if index % 4 == 0:
                yield ("callee_day", pair_callee(index), self.day_label, 1 + index % 5,
                       "day")

    def pairs(self, indices: Sequence[int]) -> Iterator[tuple[str, str, float]]:
        for index in indices:
            yield caller_number(index), pair_callee(index), self.pair_age(index)


def chunks(indices: Sequence[int], size: int = CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(indices), size):
        yield indices[start:start + size]


# -- Loading ------------------------------------------------------------------------------


def load_sqlite(engine: Engine, history: History, indices: Sequence[int]) -> int:
    """executemany in chunks, one transaction, timestamps in SQLAlchemy's storage text."""
    column = table_of(PairLastBeep).c.last_at
    processor = column.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    if processor is None:
        raise RuntimeError("no SQLite bind processor for timestamps")
    to_text: Callable[[datetime], str] = processor
    ends = {"hour": to_text(history.hour_end), "day": to_text(history.day_end)}
    ages: dict[float, str] = {}
    rows = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        # A large page cache for the load only (it halves the time), then SQLite's default
        # again so the decisions run as they would in the interceptor.
        default_cache = cursor.execute("PRAGMA cache_size").fetchone()[0]
        cursor.execute("PRAGMA cache_size=-262144")
        for part in chunks(indices):
            counters = [(rule, subject, period, count, ends[end])
                        for rule, subject, period, count, end in history.counters(part)]
            cursor.executemany("INSERT INTO policy_counters (rule, subject, period, count, "
                               "expires_at) VALUES (?, ?, ?, ?, ?)", counters)
            pairs = []
            for caller, callee, age in history.pairs(part):
                if age not in ages:
                    ages[age] = to_text(history.now - timedelta(seconds=age))
                pairs.append((caller, callee, ages[age]))
            cursor.executemany("INSERT INTO policy_pairs (caller_e164, callee_e164, "
                               "last_at) VALUES (?, ?, ?)", pairs)
            rows += len(counters) + len(pairs)
        raw.commit()
        cursor.execute("ANALYZE")
        cursor.execute(f"PRAGMA cache_size={int(default_cache)}")
    finally:
        raw.close()
    return rows


def load_postgres(dbname: str, history: History, indices: Sequence[int]) -> int:
    """COPY, text format, in chunks of ``CHUNK`` callers."""
    ends = {"hour": history.hour_end.isoformat(), "day": history.day_end.isoformat()}
    ages: dict[float, str] = {}
    rows = 0
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname) as conn:
        with conn.cursor() as cursor:
            with cursor.copy("COPY policy_counters (rule, subject, period, count, "
                             "expires_at) FROM STDIN") as copy:
                for part in chunks(indices):
                    lines = [f"{rule}\t{subject}\t{period}\t{count}\t{ends[end]}\n"
                             for rule, subject, period, count, end
                             in history.counters(part)]
                    copy.write("".join(lines))
                    rows += len(lines)
            with cursor.copy("COPY policy_pairs (caller_e164, callee_e164, last_at) "
                             "FROM STDIN") as copy:
                for part in chunks(indices):
                    lines = []
                    for caller, callee, age in history.pairs(part):
                        if age not in ages:
                            ages[age] = (history.now - timedelta(seconds=age)).isoformat()
                        lines.append(f"{caller}\t{callee}\t{ages[age]}\n")
                    copy.write("".join(lines))
                    rows += len(lines)
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE policy_counters")
        conn.execute("ANALYZE policy_pairs")
    return rows


# -- Databases ----------------------------------------------------------------------------


def _pg_admin() -> psycopg.Connection:
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres",
                           autocommit=True, connect_timeout=5)


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[tuple[str, str]]:
    """(SQLAlchemy URL, PostgreSQL database name or '') of a fresh, migrated database."""
    if backend == "sqlite":
        path = workdir / f"policy-{uuid.uuid4().hex[:8]}.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        try:
            yield url, ""
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"bench_policy_{uuid.uuid4().hex[:12]}"
    try:
        with _pg_admin() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as error:
        raise SystemExit(f"PostgreSQL at {PG_HOST}:{PG_PORT} is not reachable: {error}") \
            from None
    try:
        url = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        upgrade(url)
        yield url, name
    finally:
        with _pg_admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


# -- One run ------------------------------------------------------------------------------


@dataclass
class RunResult:
    backend: str
    history: str  # "1,000,000 callers" or "baseline"
    rows: int = 0
    load_s: float = 0.0
    record_s: float = 0.0
    decide_s: float = 0.0
    decisions: int = 0
    batches: int = 0
    mix: dict[str, int] = field(default_factory=dict)
    ok: bool = True

    @property
    def per_second(self) -> float:
        return self.decisions / self.decide_s if self.decide_s else 0.0

    @property
    def us_each(self) -> float:
        return self.decide_s / self.decisions * 1e6 if self.decisions else 0.0


def planner_for(thresholds: Thresholds) -> Planner:
    def planned(candidate: Candidate, now: datetime) -> Plan:
        return plan(thresholds, ZONE, caller=candidate.caller_e164,
                    callee=candidate.callee_e164, callee_class=candidate.callee_class,
                    now=now)
    return planned


def run(backend: str, workload: Workload, full_history: bool, batch_size: int,
        workdir: Path) -> RunResult:
    label = f"{workload.callers:,} callers" if full_history else "baseline"
    result = RunResult(backend, label)
    now = datetime.now(UTC).replace(microsecond=0)
    history = History(now, limited=frozenset(workload.limited),
                      repeated=frozenset(workload.repeated))
    indices: Sequence[int] = (range(workload.callers) if full_history
                              else sorted(workload.limited + workload.repeated))
    with database(backend, workdir) as (url, dbname):
        engine = make_engine(url)
        try:
            started = time.perf_counter()
            if backend == "sqlite":
                result.rows = load_sqlite(engine, history, indices)
            else:
                result.rows = load_postgres(dbname, history, indices)
            result.load_s = time.perf_counter() - started

            first = now - timedelta(seconds=MAX_AGE / 2)
            records = [AttemptRecord(occurred_at=first + timedelta(microseconds=k),
                                     session_id=f"bench;{k}", result_code=4012,
                                     result_code_source="top_level", client_peer="ctf",
                                     caller_e164=caller, callee_e164=callee,
                                     callee_class="off_net")
                       for k, (caller, callee) in enumerate(workload.attempts)]
            started = time.perf_counter()
            for start in range(0, len(records), 1000):
                write_attempts(engine, records[start:start + 1000])
            result.record_s = time.perf_counter() - started

            # Default thresholds, quiet hours off (the bench must not depend on the hour).
            thresholds = Thresholds({"quiet_hours.window": None})
            planner = planner_for(thresholds)
            cutoff = now - timedelta(seconds=MAX_AGE)
            total = DecisionBatch()
            started = time.perf_counter()
            while True:
                batch = decide_due(engine, planner, cutoff, now, batch_size)
                decided = len(batch.claimed) + batch.deferred + batch.lost + sum(
                    batch.suppressed.values())
                if decided == 0:
                    break
                result.batches += 1
                total.claimed += batch.claimed
                total.deferred += batch.deferred
                total.lost += batch.lost
                for reason, count in batch.suppressed.items():
                    total.suppressed[reason] = total.suppressed.get(reason, 0) + count
            result.decide_s = time.perf_counter() - started
        finally:
            engine.dispose()
    result.decisions = (len(total.claimed) + total.deferred + total.lost
                        + sum(total.suppressed.values()))
    result.mix = {"claimed": len(total.claimed), **dict(sorted(total.suppressed.items()))}
    if total.deferred:
        result.mix["deferred"] = total.deferred
    if total.lost:
        result.mix["lost"] = total.lost
    result.ok = result.mix == workload.expected
    return result


# -- Report -------------------------------------------------------------------------------


def report(results: list[RunResult], workload: Workload, batch_size: int) -> None:
    print(f"\nattempts: {len(workload.attempts):,} (expected "
          + ", ".join(f"{key.removeprefix('policy:')} {value:,}"
                      for key, value in workload.expected.items())
          + f"), decided with decide_due in batches of {batch_size}, thresholds default, "
          "quiet hours off\n")
    header = (f"{'backend':<11}{'history':<18}{'rows loaded':>12}{'load s':>8}"
              f"{'record s':>10}{'decide s':>10}{'decisions/s':>13}{'us/decision':>13}"
              "  outcome mix")
    print(header)
    print("-" * len(header))
    for result in results:
        mix = ", ".join(f"{key.removeprefix('policy:')} {value:,}"
                        for key, value in result.mix.items())
        flag = "" if result.ok else "  UNEXPECTED MIX"
        print(f"{result.backend:<11}{result.history:<18}{result.rows:>12,}"
              f"{result.load_s:>8.1f}{result.record_s:>10.2f}{result.decide_s:>10.2f}"
              f"{result.per_second:>13,.0f}{result.us_each:>13,.0f}  {mix}{flag}")
    print()
    for backend in dict.fromkeys(result.backend for result in results):
        pair = [result for result in results if result.backend == backend]
        full = next((r for r in pair if r.history != "baseline"), None)
        base = next((r for r in pair if r.history == "baseline"), None)
        if full and base and full.per_second:
            print(f"{backend}: with {workload.callers:,} callers' history "
                  f"{full.per_second:,.0f} decisions/s vs {base.per_second:,.0f} on the "
                  f"baseline: ratio history/baseline {full.per_second / base.per_second:.2f} "
                  f"({full.us_each:,.0f} vs {base.us_each:,.0f} us per decision)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--callers", type=int, default=None,
                        help="distinct callers in the history (default 1,000,000)")
    parser.add_argument("--attempts", type=int, default=None,
                        help="attempts to decide (default 5,000)")
    parser.add_argument("--backends", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql")
    parser.add_argument("--batch", type=int, default=200, help="decide_due batch size")
    parser.add_argument("--quick", action="store_true",
                        help="100,000 callers and 1,000 attempts")
    parser.add_argument("--workdir", default=None, help="where the SQLite files go")
    args = parser.parse_args(argv)
    callers = args.callers or (100_000 if args.quick else 1_000_000)
    attempts = args.attempts or (1_000 if args.quick else 5_000)
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    for name in backends:
        if name not in ("sqlite", "postgresql"):
            parser.error(f"unknown backend {name!r} (sqlite, postgresql)")
    if callers < 1 or attempts < 5 or args.batch < 1:
        parser.error("--callers >= 1, --attempts >= 5, --batch >= 1")

    workload = Workload.make(callers, attempts)
    print(f"policy bench: {callers:,} callers, {attempts:,} attempts, backends "
          f"{', '.join(backends)}; sqlite {sqlite3.sqlite_version}, psycopg "
          f"{psycopg.__version__}")
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="policy-bench-", dir=args.workdir) as workdir:
        for backend in backends:
            for full_history in (True, False):
                result = run(backend, workload, full_history, args.batch, Path(workdir))
                print(f"  {backend:<11} {result.history:<18} loaded {result.rows:,} rows in "
                      f"{result.load_s:.1f} s; {result.decisions:,} decisions in "
                      f"{result.decide_s:.2f} s", flush=True)
                results.append(result)
    report(results, workload, args.batch)
    if not all(result.ok for result in results):
        print("\nthe outcome mix is not the expected one: the figures do not measure the "
              "intended work", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
