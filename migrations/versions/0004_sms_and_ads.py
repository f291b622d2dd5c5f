"""SMS with advertisements: SMS columns of attempts, ad campaigns and their daily counts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def Timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("sms_parts", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sms_message_ids", sa.Text(), nullable=True))
        batch.add_column(sa.Column("sms_dlr_state", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("sms_delivered_at", Timestamp(), nullable=True))
        batch.add_column(sa.Column("sms_campaign_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sms_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("sms_queued_at", Timestamp(), nullable=True))
    op.create_index("ix_attempts_sms_status_sms_queued_at", "attempts",
                    ["sms_status", "sms_queued_at"])
    op.create_index("ix_attempts_sms_message_id", "attempts", ["sms_message_id"])
    op.create_table(
        "ad_campaigns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("starts_at", Timestamp(), nullable=True),
        sa.Column("ends_at", Timestamp(), nullable=True),
        sa.Column("classes", sa.String(length=64), nullable=False),
        sa.Column("daily_cap", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=False),
        sa.Column("delivered", sa.BigInteger(), nullable=False),
        sa.Column("created_at", Timestamp(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("status IN ('active', 'paused', 'removed')",
                           name=op.f("ck_ad_campaigns_status")),
        sa.CheckConstraint("weight >= 0", name=op.f("ck_ad_campaigns_weight")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ad_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_ad_campaigns_name")),
    )
    op.create_table(
        "ad_campaign_daily",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=False),
        sa.Column("delivered", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["ad_campaigns.id"], ondelete="CASCADE",
                                name=op.f("fk_ad_campaign_daily_campaign_id_ad_campaigns")),
        sa.PrimaryKeyConstraint("campaign_id", "day", name=op.f("pk_ad_campaign_daily")),
    )


def downgrade() -> None:
    op.drop_table("ad_campaign_daily")
    op.drop_table("ad_campaigns")
    op.drop_index("ix_attempts_sms_message_id", table_name="attempts")
    op.drop_index("ix_attempts_sms_status_sms_queued_at", table_name="attempts")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("sms_queued_at")
        batch.drop_column("sms_error")
        batch.drop_column("sms_campaign_id")
        batch.drop_column("sms_delivered_at")
        batch.drop_column("sms_dlr_state")
        batch.drop_column("sms_message_ids")
        batch.drop_column("sms_parts")
