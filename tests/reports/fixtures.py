"""Hand-counted attempts for the report tests (the expected figures are in the tests)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert, text

from interceptor.storage.models import AdCampaign, Attempt

SINCE = datetime(2026, 11, 20, tzinfo=UTC)
UNTIL = datetime(2026, 11, 22, tzinfo=UTC)


def _at(day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


# id, when, class, status, reason, beep outcome, sms, callback kind, delay ms, charged s,
# revenue
ROWS: list[tuple[Any, ...]] = [
    ("a1", _at(20, 10, 5), "on_net", "beeped", None, "rang", None, "callback", 180_000, 120,
     "20.00"),
    ("a2", _at(20, 10, 20), "on_net", "beeped", None, "rang", None, None, None, None, None),
    ("a3", _at(20, 11, 0), "off_net", "failed", "busy", "busy", "delivered", "after_sms",
     600_000, 60, "15.00"),
    ("a4", _at(20, 11, 30), "off_net", "suppressed", "blacklist:caller", None, None, None,
     None, None, None),
    ("a5", _at(21, 9, 0), "on_net", "suppressed", "blacklist:callee", None, None, None, None,
     None, None),
    ("a6", _at(21, 9, 10), "international", "beeped", None, "answered", None, "topped_up",
     1_200_000, 300, "250.00"),
    ("a7", _at(21, 9, 40), "on_net", "beeped", None, "rang", None, "callback", 1_500_000, 30,
     "5.00"),
    ("a8", _at(21, 10, 0), "on_net", "failed", "expired", "expired", None, None, None, None,
     None),
    ("a9", _at(21, 10, 30), "off_net", "failed", "no answer", "no_answer", "submitted", None,
     None, None, None),
    # Outside the period: must not count.
    ("a10", _at(22, 1, 0), "on_net", "beeped", None, "rang", None, "callback", 60_000, 600,
     "100.00"),
]


def load(engine: Engine) -> None:
    rows = []
    for (attempt_id, when, klass, status, reason, outcome, sms, kind, delay, charged,
         revenue) in ROWS:
        rows.append({
            "attempt_id": attempt_id, "occurred_at": when, "session_id": attempt_id,
            "result_code": 4012, "result_code_source": "top_level", "client_peer": "cscf",
            "caller_e164": "84912000001", "callee_e164": "84912000002",
            "callee_class": klass, "status": status, "status_reason": reason,
            "beep_outcome": outcome, "sms_status": sms, "callback_kind": kind,
            "callback_delay_ms": delay, "callback_charged_seconds": charged,
            "callback_revenue": Decimal(revenue) if revenue else None,
            "callback_at": when if kind else None})
    with engine.begin() as connection:
        connection.execute(insert(Attempt), rows)


def add_campaigns(engine: Engine) -> None:
    """Campaign 7 exists; campaign 8 was removed from the table (labelled by id)."""
    with engine.begin() as connection:
        connection.execute(insert(AdCampaign).values(id=7, name="tet-promo",
                                                     text="Nạp thẻ: *100#", weight=1))
        connection.execute(text("UPDATE attempts SET sms_campaign_id = 7 "
                                "WHERE attempt_id = 'a3'"))
        connection.execute(text("UPDATE attempts SET sms_campaign_id = 8 "
                                "WHERE attempt_id = 'a9'"))
