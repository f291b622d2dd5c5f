"""The beep circuit breaker in the scheduler, on task.Clock with a real SQLite database:
network failures open it and claims stop (attempts wait in the table), after the
cool-down exactly one probe goes, a good probe closes it and beeping resumes; busy
callees never open it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, insert, select
from twisted.internet import defer
from twisted.internet.task import Clock

from interceptor.beeps.scheduler import BeepScheduler
from interceptor.core.vocabulary import OutcomeKind
from interceptor.policy.config import PolicyConfig
from interceptor.policy.service import PolicyService
from interceptor.policy.thresholds import SPECS
from interceptor.sip.config import BeepLimits, RouteConfig, SipConfig
from interceptor.sip.outcome import BeepOutcome, BeepRequest, CallTimes
from interceptor.storage.engine import make_engine
from interceptor.storage.migrate import upgrade
from interceptor.storage.models import Attempt
from tests.storage.fakes import ManualRunner

T0 = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)


@dataclass
class ScriptedNetwork:
    """B's network answering every INVITE at once with ``kind``."""

    kind: OutcomeKind = OutcomeKind.NETWORK_ERROR
    queued: int = 0
    sent: list[str] = field(default_factory=list)

    config = SipConfig(routes=(RouteConfig("on_net", "127.0.0.1", "ims.test"),))

    def startService(self) -> None: ...

    def stopService(self) -> defer.Deferred[None]:
        return defer.succeed(None)

    def apply_limits(self, limits: BeepLimits) -> None: ...

    def submit(self, request: BeepRequest) -> defer.Deferred[BeepOutcome]:
        self.sent.append(request.attempt_id)
        code = {OutcomeKind.NETWORK_ERROR: 503, OutcomeKind.BUSY: 486,
                OutcomeKind.RANG: 487}[self.kind]
        return defer.succeed(BeepOutcome(
            request.attempt_id, self.kind, f"{code}", code, "+" + request.caller_e164,
            "+" + request.callee_e164, request.callee_class, f"call-{request.attempt_id}",
            1, CallTimes(1.0, 1.1, None, None, 1.2), None))


def _setup(tmp_path: Path, attempts: int) -> tuple[BeepScheduler, ScriptedNetwork, Clock,
                                                  Engine]:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(insert(Attempt), [
            {"attempt_id": f"a{i:02d}", "occurred_at": T0 + timedelta(milliseconds=i),
             "session_id": f"s{i}", "result_code": 4012, "result_code_source": "top_level",
             "client_peer": "ctf", "caller_e164": f"849120000{i:02d}",
             "callee_e164": f"849870000{i:02d}", "callee_class": "on_net",
             "status": "recorded"} for i in range(attempts)])
    clock = Clock()
    clock.advance(T0.timestamp())
    defaults = {key: spec.default for key, spec in SPECS.items()}
    defaults.update({"quiet_hours.window": None, "global.max_attempt_age": 3600.0,
                     "global.max_concurrent_beeps": 5,  # so at most 5 claims per scan
                     "breaker.beep.min_samples": 5, "breaker.beep.cooldown": 30.0,
                     "breaker.beep.window": 60.0, "breaker.beep.failure_ratio": 0.5})
    policy = PolicyService(PolicyConfig(defaults=defaults), engine, ManualRunner(auto=True),
                           clock)
    network = ScriptedNetwork()
    scheduler = BeepScheduler(network, policy, clock)  # type: ignore[arg-type]
    scheduler.startService()
    return scheduler, network, clock, engine


def _statuses(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return dict(connection.execute(select(Attempt.status, func.count())
                                       .group_by(Attempt.status)).all())


def test_network_failures_open_the_breaker_then_one_probe_then_resume(
        tmp_path: Path) -> None:
    scheduler, network, clock, engine = _setup(tmp_path, 20)
    clock.advance(0.1)  # the first scan: 5 claimed, 5 network errors
    clock.advance(0.1)  # outcomes saved
    assert scheduler.breaker.state == "open"
    assert len(network.sent) == 5
    for _ in range(10):  # 20 s of pick-up rounds while open: nothing is claimed
        clock.advance(2.0)
    assert len(network.sent) == 5
    assert _statuses(engine) == {"failed": 5, "recorded": 15}  # the rest wait

    network.kind = OutcomeKind.RANG
    clock.advance(10.0)  # cool-down over at the next round: one probe
    assert len(network.sent) == 6
    assert scheduler.breaker.state == "closed"
    for _ in range(10):
        clock.advance(0.5)
    assert len(network.sent) == 20
    clock.advance(0.1)
    assert _statuses(engine) == {"failed": 5, "beeped": 15}
    engine.dispose()


def test_a_failed_probe_keeps_it_open(tmp_path: Path) -> None:
    scheduler, network, clock, engine = _setup(tmp_path, 20)
    clock.advance(0.2)
    assert scheduler.breaker.state == "open"
    clock.advance(30.0)  # the probe fails
    assert len(network.sent) == 6 and scheduler.breaker.state == "open"
    clock.advance(20.0)
    assert len(network.sent) == 6
    engine.dispose()


def test_busy_callees_do_not_open_it(tmp_path: Path) -> None:
    scheduler, network, clock, engine = _setup(tmp_path, 20)
    network.kind = OutcomeKind.BUSY
    for _ in range(10):
        clock.advance(0.5)
    assert scheduler.breaker.state == "closed" and len(network.sent) == 20
    engine.dispose()


