"""SMS bookkeeping on the attempts table and the ad campaigns (plain synchronous
functions for the DB thread).

``sms_status`` life cycle: queued (approved, waiting for a bind: this row IS the
persistence, so an SMSC outage or a restart loses nothing) -> sending (claimed by a
conditional UPDATE, like beeps) -> submitted (every part has a message id) ->
delivered | undeliverable (delivery receipt); or failed (refused) / expired (queued
past the age limit). A claim released unsent goes back to queued.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update

from interceptor.core.vocabulary import CampaignStatus, SmsStatus
from interceptor.smpp.messages import DeliveryReceipt
from interceptor.sms.ads import Campaign
from interceptor.storage.models import AdCampaign, AdCampaignDaily, Attempt
from interceptor.storage.types import utcnow

_UNDELIVERABLE_STATES = frozenset({"UNDELIV", "EXPIRED", "REJECTD", "DELETED", "UNKNOWN"})


def queued(now: datetime) -> dict[str, object]:
    """The column values that put an attempt's SMS in the queue: the beep wing writes
    them with the beep's outcome, in the same transaction (the hand-off)."""
    return {"sms_status": SmsStatus.QUEUED, "sms_queued_at": now}


@dataclass(frozen=True)
class ClaimedSms:
    attempt_id: str
    caller_e164: str
    callee_e164: str
    callee_class: str
    occurred_at: datetime


@dataclass(frozen=True)
class SmsResult:
    attempt_id: str
    status: SmsStatus  # submitted | failed | queued (released unsent)
    message_ids: tuple[str, ...] = ()
    parts: int | None = None
    campaign_id: int | None = None
    error: str | None = None
    sent_at: datetime | None = None


def claim_queued(engine: Engine, cutoff: datetime, limit: int) -> list[ClaimedSms]:
    """Claim up to ``limit`` queued SMS approved after ``cutoff``, oldest first."""
    claimed: list[ClaimedSms] = []
    with engine.begin() as connection:
        rows = connection.execute(
            select(Attempt.attempt_id, Attempt.caller_e164, Attempt.callee_e164,
                   Attempt.callee_class, Attempt.occurred_at)
            .where(Attempt.sms_status == SmsStatus.QUEUED, Attempt.sms_queued_at >= cutoff,
                   Attempt.caller_e164.is_not(None), Attempt.callee_e164.is_not(None))
            .order_by(Attempt.sms_queued_at)
            .limit(limit)).all()
        now = utcnow()
        for row in rows:
            result = connection.execute(
                update(Attempt)
                .where(Attempt.attempt_id == row.attempt_id,
                       Attempt.sms_status == SmsStatus.QUEUED)
                .values(sms_status=SmsStatus.SENDING, updated_at=now))
            if result.rowcount == 1:
                claimed.append(ClaimedSms(row.attempt_id, row.caller_e164, row.callee_e164,
                                          row.callee_class, row.occurred_at))
    return claimed


def expire_queued(engine: Engine, cutoff: datetime) -> int:
    with engine.begin() as connection:
        result = connection.execute(
            update(Attempt)
            .where(Attempt.sms_status == SmsStatus.QUEUED,
                   or_(Attempt.sms_queued_at < cutoff, Attempt.sms_queued_at.is_(None)))
            .values(sms_status=SmsStatus.EXPIRED, sms_error="not sent within the age limit",
                    updated_at=utcnow()))
        return int(result.rowcount or 0)


def trim_queue(engine: Engine, limit: int) -> int:
    """Keep at most ``limit`` SMS queued: the oldest beyond it are ``expired`` (a long
    SMSC outage must not leave an unbounded backlog to flood B with stale news)."""
    with engine.begin() as connection:
        depth = int(connection.execute(
            select(func.count()).select_from(Attempt)
            .where(Attempt.sms_status == SmsStatus.QUEUED)).scalar_one())
        excess = depth - limit
        if excess <= 0:
            return 0
        oldest = [row[0] for row in connection.execute(
            select(Attempt.attempt_id).where(Attempt.sms_status == SmsStatus.QUEUED)
            .order_by(Attempt.sms_queued_at).limit(excess))]
        result = connection.execute(
            update(Attempt).where(Attempt.attempt_id.in_(oldest),
                                  Attempt.sms_status == SmsStatus.QUEUED)
            .values(sms_status=SmsStatus.EXPIRED, sms_error="dropped: queue limit reached",
                    updated_at=utcnow()))
        return int(result.rowcount or 0)


def queue_depth(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(
            select(func.count()).select_from(Attempt)
            .where(Attempt.sms_status == SmsStatus.QUEUED)).scalar_one())


def save_sms_results(engine: Engine, results: Sequence[SmsResult], day: date) -> None:
    """Write results; a submitted SMS with an ad counts one impression for its campaign."""
    now = utcnow()
    with engine.begin() as connection:
        for result in results:
            values: dict[str, object] = {"sms_status": result.status, "updated_at": now}
            if result.status != SmsStatus.QUEUED:
                values.update(
                    sms_message_id=result.message_ids[0] if result.message_ids else None,
                    sms_message_ids=" ".join(result.message_ids) or None,
                    sms_parts=result.parts, sms_campaign_id=result.campaign_id,
                    sms_error=result.error, sms_sent_at=result.sent_at)
            connection.execute(update(Attempt).where(Attempt.attempt_id == result.attempt_id)
                               .values(**values))
            if result.status == SmsStatus.SUBMITTED and result.campaign_id is not None:
                _count(connection, result.campaign_id, day, "impressions")


def _count(connection: Connection, campaign_id: int, day: date, column: str) -> None:
    execute = connection.execute
    execute(update(AdCampaign).where(AdCampaign.id == campaign_id)
            .values({column: getattr(AdCampaign, column) + 1}))
    daily = execute(update(AdCampaignDaily)
                    .where(AdCampaignDaily.campaign_id == campaign_id,
                           AdCampaignDaily.day == day)
                    .values({column: getattr(AdCampaignDaily, column) + 1}))
    if daily.rowcount == 0:
        other = "delivered" if column == "impressions" else "impressions"
        execute(insert(AdCampaignDaily).values(campaign_id=campaign_id, day=day,
                                               **{column: 1, other: 0}))


def apply_receipts(engine: Engine, receipts: Sequence[DeliveryReceipt],
                   day: date) -> list[DeliveryReceipt]:
    """Update the SMS of each receipt (by its first part's message id, else any part's);
    returns the receipts that matched no row yet (their submit result may be unsaved)."""
    unmatched: list[DeliveryReceipt] = []
    now = utcnow()
    with engine.begin() as connection:
        for receipt in receipts:
            row = connection.execute(
                select(Attempt.attempt_id, Attempt.sms_status, Attempt.sms_campaign_id,
                       Attempt.sms_message_id)
                .where(Attempt.sms_message_id == receipt.message_id)).first()
            if row is None:
                pattern = f"% {receipt.message_id} %"
                row = connection.execute(
                    select(Attempt.attempt_id, Attempt.sms_status, Attempt.sms_campaign_id,
                           Attempt.sms_message_id)
                    .where(Attempt.sms_status == SmsStatus.SUBMITTED,
                           (" " + func.coalesce(Attempt.sms_message_ids, "") + " ")
                           .like(pattern))).first()
            if row is None:
                unmatched.append(receipt)
                continue
            if receipt.state == "DELIVRD":
                status = SmsStatus.DELIVERED
            elif receipt.state in _UNDELIVERABLE_STATES:
                status = SmsStatus.UNDELIVERABLE
            else:
                status = row.sms_status  # ACCEPTD, ENROUTE: not final
            if row.sms_status in (SmsStatus.DELIVERED, SmsStatus.UNDELIVERABLE) and \
                    row.sms_message_id != receipt.message_id:
                continue  # another part's receipt: the first part's decides
            values: dict[str, object] = {"sms_dlr_state": receipt.state,
                                         "sms_status": status, "updated_at": now}
            if status == SmsStatus.DELIVERED:
                values["sms_delivered_at"] = now
            changed = connection.execute(
                update(Attempt).where(Attempt.attempt_id == row.attempt_id,
                                      Attempt.sms_status != SmsStatus.DELIVERED)
                .values(**values))
            if changed.rowcount and status == SmsStatus.DELIVERED \
                    and row.sms_campaign_id is not None:
                _count(connection, row.sms_campaign_id, day, "delivered")
    return unmatched


def load_campaigns(engine: Engine, now: datetime, day: date) -> list[Campaign]:
    """Active campaigns not yet ended, with their impressions of ``day``."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(AdCampaign.__table__,
                   func.coalesce(AdCampaignDaily.impressions, 0).label("today"))
            .outerjoin(AdCampaignDaily, and_(AdCampaignDaily.campaign_id == AdCampaign.id,
                                             AdCampaignDaily.day == day))
            .where(AdCampaign.status == CampaignStatus.ACTIVE,
                   or_(AdCampaign.ends_at.is_(None), AdCampaign.ends_at > now))
            .order_by(AdCampaign.id)).all()
    return [Campaign(id=c.id, name=c.name, text=c.text, weight=c.weight,
                     classes=frozenset(filter(None, c.classes.split(","))),
                     starts_at=c.starts_at, ends_at=c.ends_at, daily_cap=c.daily_cap,
                     today=int(c.today)) for c in rows]
