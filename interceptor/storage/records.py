""":class:`AttemptRecord`: what detection hands to the recorder (plain data, no ORM).

Records travel from the reactor to a database thread, and to the spool file as one JSON
object per line (:func:`record_to_json` / :func:`record_from_json`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from interceptor.core.vocabulary import AttemptStatus, CalleeClass, ResultCodeSource

SPOOL_FORMAT_VERSION = 1


def new_attempt_id() -> str:
    """A fresh idempotency key: 128 random bits as 32 hex digits (uuid4's entropy at a
    quarter of its cost; this runs on the relay's thread)."""
    return os.urandom(16).hex()


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One out-of-credit call attempt, as detected on the reactor.

    ``attempt_id`` is the idempotency key: generate it once, at detection time, and the
    row is written at most once however often it is replayed.
    """

    occurred_at: datetime
    session_id: str
    result_code: int
    result_code_source: str
    client_peer: str
    caller_raw: str | None = None
    caller_e164: str | None = None
    callee_raw: str | None = None
    callee_e164: str | None = None
    callee_class: str = CalleeClass.UNKNOWN.value
    normalisation_failure: str | None = None
    ocs_peer: str | None = None
    cc_request_type: int | None = None
    cc_request_number: int | None = None
    service_context_id: str | None = None
    interceptor_host: str | None = None
    status: str = AttemptStatus.RECORDED.value
    status_reason: str | None = None
    attempt_id: str = field(default_factory=new_attempt_id)

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("AttemptRecord.occurred_at must be timezone-aware")
        if self.occurred_at.tzinfo is not UTC:
            object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))
        if self.result_code_source not in _SOURCES:
            raise ValueError(f"result_code_source must be one of {sorted(_SOURCES)}")
        if self.callee_class not in _CLASSES:
            raise ValueError(f"callee_class must be one of {sorted(_CLASSES)}")
        if not self.attempt_id or len(self.attempt_id) > 36:
            raise ValueError("attempt_id must be 1..36 characters")

    def to_row(self) -> dict[str, Any]:
        """Column values for an ``INSERT INTO attempts``."""
        return {item.name: getattr(self, item.name) for item in fields(self)}


_SOURCES = frozenset(source.value for source in ResultCodeSource)
_CLASSES = frozenset(klass.value for klass in CalleeClass)
_FIELDS = frozenset(item.name for item in fields(AttemptRecord))


def record_to_json(record: AttemptRecord) -> str:
    data = asdict(record)
    data["occurred_at"] = record.occurred_at.isoformat()
    data["v"] = SPOOL_FORMAT_VERSION
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def record_from_json(line: str) -> AttemptRecord:
    """Parse one spool line; ValueError if it is not a record this version understands."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error.msg}") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    version = data.pop("v", None)
    if version != SPOOL_FORMAT_VERSION:
        raise ValueError(f"unsupported spool format version {version!r}")
    unknown = set(data) - _FIELDS
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    try:
        data["occurred_at"] = datetime.fromisoformat(data["occurred_at"])
        return AttemptRecord(**data)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"invalid record: {error}") from None
