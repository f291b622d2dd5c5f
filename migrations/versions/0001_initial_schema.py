"""Initial schema: attempts, blacklist, number portability.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Timestamps are ``DateTime(timezone=True)`` (timestamptz on PostgreSQL, UTC text on
SQLite; the models read them back as aware UTC datetimes). The beep/SMS/callback columns
of ``attempts`` are nullable placeholders the later features fill.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def Timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "attempts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("attempt_id", sa.String(length=36), nullable=False),
        sa.Column("occurred_at", Timestamp(), nullable=False),
        sa.Column("recorded_at", Timestamp(), server_default=sa.func.now(), nullable=False),
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("caller_raw", sa.Text(), nullable=True),
        sa.Column("caller_e164", sa.String(length=32), nullable=True),
        sa.Column("callee_raw", sa.Text(), nullable=True),
        sa.Column("callee_e164", sa.String(length=32), nullable=True),
        sa.Column("callee_class", sa.String(length=16), nullable=False),
        sa.Column("normalisation_failure", sa.Text(), nullable=True),
        sa.Column("result_code", sa.Integer(), nullable=False),
        sa.Column("result_code_source", sa.String(length=16), nullable=False),
        sa.Column("client_peer", sa.String(length=255), nullable=False),
        sa.Column("ocs_peer", sa.String(length=255), nullable=True),
        sa.Column("cc_request_type", sa.Integer(), nullable=True),
        sa.Column("cc_request_number", sa.BigInteger(), nullable=True),
        sa.Column("service_context_id", sa.String(length=255), nullable=True),
        sa.Column("interceptor_host", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", Timestamp(), nullable=True),
        sa.Column("beep_outcome", sa.String(length=32), nullable=True),
        sa.Column("beep_sip_code", sa.Integer(), nullable=True),
        sa.Column("beep_call_id", sa.String(length=255), nullable=True),
        sa.Column("beep_presented_as", sa.String(length=32), nullable=True),
        sa.Column("beep_started_at", Timestamp(), nullable=True),
        sa.Column("rang_at", Timestamp(), nullable=True),
        sa.Column("beep_ended_at", Timestamp(), nullable=True),
        sa.Column("sms_status", sa.String(length=32), nullable=True),
        sa.Column("sms_message_id", sa.String(length=64), nullable=True),
        sa.Column("sms_sent_at", Timestamp(), nullable=True),
        sa.Column("callback_at", Timestamp(), nullable=True),
        sa.Column("callback_session_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
        sa.UniqueConstraint("attempt_id", name=op.f("uq_attempts_attempt_id")),
    )
    op.create_index("ix_attempts_occurred_at", "attempts", ["occurred_at"])
    op.create_index("ix_attempts_caller_e164_occurred_at", "attempts",
                    ["caller_e164", "occurred_at"])
    op.create_index("ix_attempts_callee_e164_occurred_at", "attempts",
                    ["callee_e164", "occurred_at"])
    op.create_index("ix_attempts_status_occurred_at", "attempts", ["status", "occurred_at"])
    op.create_index("ix_attempts_session_id", "attempts", ["session_id"])

    op.create_table(
        "blacklist",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("expires_at", Timestamp(), nullable=True),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.Column("added_at", Timestamp(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("scope IN ('caller', 'callee')", name=op.f("ck_blacklist_scope")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blacklist")),
        sa.UniqueConstraint("scope", "number", name=op.f("uq_blacklist_scope_number")),
    )

    op.create_table(
        "number_portability",
        sa.Column("e164", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=True),
        sa.Column("routing_number", sa.String(length=32), nullable=True),
        sa.Column("updated_at", Timestamp(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("status IN ('ported_in', 'ported_out')",
                           name=op.f("ck_number_portability_status")),
        sa.PrimaryKeyConstraint("e164", name=op.f("pk_number_portability")),
    )


def downgrade() -> None:
    op.drop_table("number_portability")
    op.drop_table("blacklist")
    op.drop_index("ix_attempts_session_id", table_name="attempts")
    op.drop_index("ix_attempts_status_occurred_at", table_name="attempts")
    op.drop_index("ix_attempts_callee_e164_occurred_at", table_name="attempts")
    op.drop_index("ix_attempts_caller_e164_occurred_at", table_name="attempts")
    op.drop_index("ix_attempts_occurred_at", table_name="attempts")
    op.drop_table("attempts")
