"""The SQL schema: attempts, blacklist, number portability, the policy's thresholds and
counters, callback watches and ad campaigns.

The alembic revisions in ``migrations/`` create exactly this schema; a test compares the two.
Status-like columns are plain strings validated in Python (see
:mod:`interceptor.core.vocabulary`) so a
later feature can add a value without a migration; closed vocabularies (blacklist scope,
portability status) are enforced by CHECK constraints.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import func

from interceptor.core.vocabulary import (
    AttemptStatus,
    BlacklistScope,
    CalleeClass,
    CampaignStatus,
    PortabilityStatus,
)
from interceptor.storage.types import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

def _one_of(column: str, vocabulary: type[StrEnum]) -> str:
    """A CHECK constraint's text: ``column`` holds one of the vocabulary's words."""
    words = ", ".join(f"'{word.value}'" for word in vocabulary)
    return f"{column} IN ({words})"


# SQLite only auto-increments INTEGER PRIMARY KEY; BIGINT elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Attempt(Base):
    """One out-of-credit voice call attempt (A called B, the OCS said no credit).

    The table is where the wings meet (every report is one GROUP BY over it), so each
    group of columns below has one owner that writes it, through its own store:

    - detection: the row itself, inserted once by the recorder (:mod:`.writer`);
    - life cycle (``status``, ``status_reason``, ``updated_at``): moved forward by each
      wing's store as the attempt passes through it;
    - policy (:mod:`interceptor.policy.store`): the claim, deferral and refusal detail,
      and expiry of what waited past the age limit (``beep_outcome='expired'``);
    - beeps (:mod:`interceptor.beeps.store`): the beep's outcome and times;
    - SMS (:mod:`interceptor.sms.store`): the SMS's life cycle; the beep wing hands an
      approved SMS over by writing ``sms_status='queued'`` with the outcome, in the same
      transaction, through :func:`interceptor.sms.store.queued`;
    - callbacks (:mod:`interceptor.callbacks.store`): the callback linked to the beep.
    """

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_occurred_at", "occurred_at"),
        Index("ix_attempts_caller_e164_occurred_at", "caller_e164", "occurred_at"),
        Index("ix_attempts_callee_e164_occurred_at", "callee_e164", "occurred_at"),
        Index("ix_attempts_status_occurred_at", "status", "occurred_at"),
        Index("ix_attempts_session_id", "session_id"),
        # SMS: the queue scan and the delivery-receipt lookup
        Index("ix_attempts_sms_status_sms_queued_at", "sms_status", "sms_queued_at"),
        Index("ix_attempts_sms_message_id", "sms_message_id"),
    )

    # --- detection: what the refused CCR/CCA said (written once, by the recorder) -------
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Idempotency key generated at detection time: a spool replay never duplicates a row.
    attempt_id: Mapped[str] = mapped_column(String(36), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow,
                                                  server_default=func.now())
    session_id: Mapped[str] = mapped_column(Text)
    caller_raw: Mapped[str | None] = mapped_column(Text)
    caller_e164: Mapped[str | None] = mapped_column(String(32))
    callee_raw: Mapped[str | None] = mapped_column(Text)
    callee_e164: Mapped[str | None] = mapped_column(String(32))
    callee_class: Mapped[str] = mapped_column(String(16),
                                              default=CalleeClass.UNKNOWN.value)
    normalisation_failure: Mapped[str | None] = mapped_column(Text)
    result_code: Mapped[int] = mapped_column(Integer)
    result_code_source: Mapped[str] = mapped_column(String(16))
    client_peer: Mapped[str] = mapped_column(String(255))
    ocs_peer: Mapped[str | None] = mapped_column(String(255))
    cc_request_type: Mapped[int | None] = mapped_column(Integer)
    cc_request_number: Mapped[int | None] = mapped_column(BigInteger)
    service_context_id: Mapped[str | None] = mapped_column(String(255))
    interceptor_host: Mapped[str | None] = mapped_column(String(255))

    # --- life cycle: moved forward by each wing's store -----------------------------------
    status: Mapped[str] = mapped_column(String(32),
                                         default=AttemptStatus.RECORDED.value)
    status_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # --- policy: a deferred attempt waits until not_before (quiet hours); policy_detail
    # holds the counters a refusal was based on ------------------------------------------
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    policy_detail: Mapped[str | None] = mapped_column(Text)

    # --- beeps: the SIP call at B ---------------------------------------------------------
    beep_outcome: Mapped[str | None] = mapped_column(String(32))
    beep_sip_code: Mapped[int | None] = mapped_column(Integer)
    beep_call_id: Mapped[str | None] = mapped_column(String(255))
    beep_presented_as: Mapped[str | None] = mapped_column(String(32))
    beep_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_provisional_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rang_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    beep_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ring_time_ms: Mapped[int | None] = mapped_column(Integer)

    # --- SMS: status, parts and every part's message id (space-separated), the delivery
    # receipt's state, the ad campaign, why it failed, when it was approved (queued) -----
    sms_status: Mapped[str | None] = mapped_column(String(32))
    sms_message_id: Mapped[str | None] = mapped_column(String(64))
    sms_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sms_parts: Mapped[int | None] = mapped_column(Integer)
    sms_message_ids: Mapped[str | None] = mapped_column(Text)
    sms_dlr_state: Mapped[str | None] = mapped_column(String(16))
    sms_delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sms_campaign_id: Mapped[int | None] = mapped_column(Integer)
    sms_error: Mapped[str | None] = mapped_column(Text)
    sms_queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # --- callbacks: B called A back within the window (or A called B once topped up) ---
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    callback_session_id: Mapped[str | None] = mapped_column(Text)
    callback_delay_ms: Mapped[int | None] = mapped_column(Integer)
    callback_charged_seconds: Mapped[int | None] = mapped_column(Integer)
    callback_kind: Mapped[str | None] = mapped_column(String(16))
    callback_revenue: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))


class BlacklistEntry(Base):
    """A number the service must leave alone: never beep for A, or never beep B."""

    __tablename__ = "blacklist"
    __table_args__ = (
        CheckConstraint(_one_of("scope", BlacklistScope), name="scope"),
        UniqueConstraint("scope", "number"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    added_by: Mapped[str] = mapped_column(String(128))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow,
                                               server_default=func.now())


class PortedNumber(Base):
    """Mobile number portability: numbers that moved in to, or out of, this network."""

    __tablename__ = "number_portability"
    __table_args__ = (
        CheckConstraint(_one_of("status", PortabilityStatus), name="status"),
    )

    e164: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    operator: Mapped[str | None] = mapped_column(String(64))
    routing_number: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow,
                                                 server_default=func.now())


# -- the policy's thresholds and counters (interceptor.policy) -------------------------


class Threshold(Base):
    """The current value of one operator threshold (text, parsed by the registry in
    :mod:`interceptor.policy.thresholds`)."""

    __tablename__ = "thresholds"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(128))


class ThresholdChange(Base):
    """Audit trail: every seed, set and reset of a threshold."""

    __tablename__ = "threshold_audit"
    __table_args__ = (Index("ix_threshold_audit_key_changed_at", "key", "changed_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(8))  # seed | set | reset
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(128))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PolicyCounter(Base):
    """Beeps counted for one rule, subject and period (e.g. caller_day, A, 2026-11-25).

    Incremented only by a conditional upsert that refuses to pass the limit, in the same
    transaction that claims the attempt: the decision and the counting are one step.
    """

    __tablename__ = "policy_counters"
    __table_args__ = (Index("ix_policy_counters_expires_at", "expires_at"),)

    rule: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PairLastBeep(Base):
    """When A last had B beeped (the pair's minimum interval)."""

    __tablename__ = "policy_pairs"
    __table_args__ = (Index("ix_policy_pairs_last_at", "last_at"),)

    caller_e164: Mapped[str] = mapped_column(String(32), primary_key=True)
    callee_e164: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())


# -- callback attribution's watches (interceptor.callbacks) ----------------------------


class CallbackWatch(Base):
    """What the side work watches for: B calling A back (``callee``), A calling B once
    topped up (``caller``), both until the attribution window ends; and the linked
    callback session (``session``) whose CCR-Update/Terminate carry its charged time.
    Rows are deleted when they expire or resolve, so the table stays small."""

    __tablename__ = "callback_watches"
    __table_args__ = (
        UniqueConstraint("attempt_id", "kind"),
        Index("ix_callback_watches_watch_key", "watch_key"),
        Index("ix_callback_watches_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    attempt_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))  # a WatchKind
    watch_key: Mapped[str] = mapped_column(Text)  # last digits of a number, or Session-Id
    party_e164: Mapped[str | None] = mapped_column(String(32))  # who will call
    other_e164: Mapped[str | None] = mapped_column(String(32))  # whom they must call
    notified_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


# -- SMS advertisements (interceptor.sms) -------------------------------------------------


class AdCampaign(Base):
    """An operator advertisement appended to beep SMS, chosen by weight."""

    __tablename__ = "ad_campaigns"
    __table_args__ = (
        CheckConstraint(_one_of("status", CampaignStatus), name="status"),
        CheckConstraint("weight >= 0", name="weight"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    classes: Mapped[str] = mapped_column(String(64), default="")  # comma list; "" = all
    daily_cap: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16),
                                        default=CampaignStatus.ACTIVE.value)
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow,
                                                 server_default=func.now())


class AdCampaignDaily(Base):
    """Impressions and deliveries per campaign and day (the operator's day): daily caps."""

    __tablename__ = "ad_campaign_daily"

    campaign_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("ad_campaigns.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)
