"""The policy in the running side-work process: thresholds seeded into SQL and reloaded
every ``refresh`` seconds (changes apply without a restart), the decision step for a
batch of due attempts, the circuit breakers, and the periodic purge of old counters.

If the database cannot be reached, the last thresholds loaded (or the configuration's)
stay in force; decisions need the database, so no beep goes out then (fail closed) and
the attempts wait in the spool or the table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from twisted.application import service
from twisted.internet import defer, task

from interceptor.core.reactor import Clock
from interceptor.core.runner import Runner
from interceptor.policy import store as policy_sql
from interceptor.policy import threshold_store as thresholds_sql
from interceptor.policy.breaker import BreakerSettings, CircuitBreaker
from interceptor.policy.config import PolicyConfig
from interceptor.policy.rules import Plan, plan
from interceptor.policy.thresholds import SPECS, Thresholds
from interceptor.storage.errors import describe
from interceptor.storage.reloader import ReloadingCache

logger = logging.getLogger(__name__)

PURGE_INTERVAL = 600.0


@dataclass
class PolicyCounters:
    decided: int = 0
    claimed: int = 0
    deferred: int = 0
    lost: int = 0  # claimed by another process first
    suppressed: dict[str, int] = field(default_factory=dict)


def breaker_settings(thresholds: Thresholds, target: str) -> BreakerSettings:
    prefix = f"breaker.{target}."
    return BreakerSettings(
        failure_ratio=float(thresholds.number(prefix + "failure_ratio") or 0.5),
        window=float(thresholds.number(prefix + "window") or 60.0),
        min_samples=int(thresholds.number(prefix + "min_samples") or 20),
        cooldown=float(thresholds.number(prefix + "cooldown") or 30.0))


class ThresholdsCache(ReloadingCache[dict[str, str]]):
    name = "thresholds"

    def __init__(self, engine: Engine, runner: Runner, clock: Clock, config: PolicyConfig,
                 on_change: Callable[[Thresholds], None]) -> None:
        super().__init__(runner, clock, config.refresh, "the thresholds")
        self._engine = engine
        self._config = config
        self._on_change = on_change
        self._seeded = False
        self._reported: tuple[str, ...] = ()

    def _load(self) -> dict[str, str]:
        if not self._seeded:  # first successful contact: add the keys SQL lacks
            seed = self._config.seed()
            inserted = thresholds_sql.seed(
                self._engine, {key: SPECS[key].format(value) for key, value in seed.items()},
                by="config")
            if inserted:
                logger.info("thresholds seeded from the configuration: %s",
                            ", ".join(inserted))
            self._seeded = True
        return thresholds_sql.load(self._engine)

    def _apply(self, stored: dict[str, str]) -> None:
        merged = {key: SPECS[key].format(value) for key, value in self._config.seed().items()}
        merged.update(stored)
        thresholds = Thresholds.from_text(merged)
        if thresholds.problems != self._reported:
            for problem in thresholds.problems:
                logger.error("threshold ignored, default used: %s", problem)
            self._reported = thresholds.problems
        self._on_change(thresholds)


class PolicyService(service.Service):
    """Owns the current thresholds and decides batches of due attempts."""

    name = "policy"

    def __init__(self, config: PolicyConfig, engine: Engine, runner: Runner,
                 clock: Clock) -> None:
        self.config = config
        self.zone = config.zone
        self.engine = engine
        self.runner = runner
        self.clock = clock
        self.thresholds = config.seed()
        self.beep_breaker = CircuitBreaker("beeps", clock,
                                           breaker_settings(self.thresholds, "beep"))
        self.smsc_breaker = CircuitBreaker("smsc", clock,
                                           breaker_settings(self.thresholds, "smsc"))
        self.listeners: list[Callable[[Thresholds], None]] = []
        self.counters = PolicyCounters()
        self.cache = ThresholdsCache(engine, runner, clock, config, self._changed)
        self._purge = task.LoopingCall(self._purge_old)
        self._purge.clock = clock

    def startService(self) -> defer.Deferred[None]:
        """Fires once the thresholds were loaded (or the database is known down)."""
        service.Service.startService(self)
        self._purge.start(PURGE_INTERVAL, now=False)
        return self.cache.startService()

    def stopService(self) -> defer.Deferred[None]:
        service.Service.stopService(self)
        if self._purge.running:
            self._purge.stop()
        return self.cache.stopService()

    def on_change(self, listener: Callable[[Thresholds], None]) -> None:
        """Call ``listener`` now and whenever the thresholds change."""
        self.listeners.append(listener)
        listener(self.thresholds)

    def _changed(self, thresholds: Thresholds) -> None:
        if thresholds == self.thresholds:
            return
        changed = [key for key, value in thresholds.items() if self.thresholds[key] != value]
        logger.info("thresholds changed: %s", ", ".join(
            f"{key}={SPECS[key].format(thresholds[key])}" for key in changed))
        self.thresholds = thresholds
        self.beep_breaker.update(breaker_settings(thresholds, "beep"))
        self.smsc_breaker.update(breaker_settings(thresholds, "smsc"))
        for listener in self.listeners:
            listener(thresholds)

    @property
    def max_age(self) -> float:
        return float(self.thresholds.number("global.max_attempt_age") or 60.0)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.seconds(), UTC)

    def planner(self) -> Callable[[policy_sql.Candidate, datetime], Plan]:
        thresholds, zone = self.thresholds, self.zone  # one consistent set per batch

        def planned(candidate: policy_sql.Candidate, now: datetime) -> Plan:
            return plan(thresholds, zone, caller=candidate.caller_e164,
                        callee=candidate.callee_e164, callee_class=candidate.callee_class,
                        now=now)
        return planned

    def decide_due(self, limit: int) -> defer.Deferred[policy_sql.DecisionBatch]:
        """On the DB thread: expire what is too old, then decide up to ``limit`` due
        attempts. Fires with the claimed ones (and counts of the rest)."""
        now = self.now()
        cutoff = now - timedelta(seconds=self.max_age)
        job = self.runner.run(decide_due, self.engine, self.planner(), cutoff, now, limit)
        return job.addCallback(self._count)

    def _count(self, batch: policy_sql.DecisionBatch) -> policy_sql.DecisionBatch:
        counters = self.counters
        counters.claimed += len(batch.claimed)
        counters.deferred += batch.deferred
        counters.lost += batch.lost
        for reason, count in batch.suppressed.items():
            counters.suppressed[reason] = counters.suppressed.get(reason, 0) + count
        counters.decided += len(batch.claimed) + batch.deferred + sum(
            batch.suppressed.values())
        if batch.suppressed:
            logger.info("policy suppressed %s", ", ".join(
                f"{count} ({reason})" for reason, count in sorted(batch.suppressed.items())))
        return batch

    def _purge_old(self) -> Any:
        now = self.now()
        interval = self.thresholds.number("pair.min_interval") or 0.0
        horizon = now - timedelta(seconds=max(interval, 3600.0))
        job = self.runner.run(policy_sql.purge, self.engine, now, horizon)
        job.addCallbacks(_purged, lambda failure: logger.warning(
            "cannot purge policy counters: %s", describe(failure.value)))
        return job


def decide_due(engine: Engine, planner: Callable[[policy_sql.Candidate, datetime], Plan],
               cutoff: datetime, now: datetime, limit: int) -> policy_sql.DecisionBatch:
    expired = policy_sql.expire_stale(engine, cutoff)
    if expired:
        logger.warning("%d attempts expired before they could be beeped", expired)
    return policy_sql.decide_batch(engine, planner, cutoff, now, limit)


def _purged(removed: int) -> None:
    if removed:
        logger.info("purged %d old policy counters", removed)
