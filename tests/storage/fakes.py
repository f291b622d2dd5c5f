"""Test doubles: a runner the test drives by hand, and attempt factories."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError
from twisted.internet.defer import Deferred

from interceptor.storage.records import AttemptRecord


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    done: Deferred[Any]


@dataclass
class ManualRunner:
    """Stands in for the thread pool: jobs wait until the test runs them.

    ``auto=True`` runs each job as soon as it is submitted (synchronously); ``down=True``
    fails every job as an unreachable database would.
    """

    auto: bool = False
    down: bool = False
    jobs: list[_Job] = field(default_factory=list)
    ran: int = 0

    def run(self, fn: Callable[..., Any], *args: Any) -> Deferred[Any]:
        job = _Job(fn, args, Deferred())
        self.jobs.append(job)
        if self.auto:
            self.run_next()
        return job.done

    def run_next(self) -> None:
        job = self.jobs.pop(0)
        self.ran += 1
        if self.down:
            job.done.errback(OperationalError("INSERT", {}, ConnectionRefusedError(
                "connection refused")))
            return
        try:
            result = job.fn(*job.args)
        except Exception as error:
            job.done.errback(error)
        else:
            job.done.callback(result)

    def run_all(self) -> None:
        while self.jobs:
            self.run_next()


BASE_TIME = datetime(2026, 3, 1, 10, 32, tzinfo=UTC)


def attempt(index: int = 0, **overrides: Any) -> AttemptRecord:
    """A plausible out-of-credit attempt: A=8491000xxxx calls B=8498000xxxx.

    E.164 numbers are digits without "+", as :mod:`interceptor.numbers` produces them.
    """
    values: dict[str, Any] = {
        "occurred_at": BASE_TIME + timedelta(seconds=index),
        "session_id": f"cscf1.ims.example.net;1700000000;{index}",
        "result_code": 4012,
        "result_code_source": "top_level",
        "client_peer": "cscf1.ims.example.net",
        "ocs_peer": "ocs1.example.net",
        "caller_raw": f"tel:+8491000{index:04d}",
        "caller_e164": f"8491000{index:04d}",
        "callee_raw": f"sip:098000{index:04d}@ims.example.net",
        "callee_e164": f"8498000{index:04d}",
        "callee_class": "off_net",
        "cc_request_type": 1,
        "service_context_id": "32260@3gpp.org",
    }
    values.update(overrides)
    return AttemptRecord(**values)
