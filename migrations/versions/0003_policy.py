"""Policy: thresholds with their audit trail, counters, pair intervals; deferral and
decision detail on attempts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("not_before", _UTC, nullable=True))
        batch.add_column(sa.Column("policy_detail", sa.Text(), nullable=True))
    op.create_table(
        "thresholds",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_thresholds")),
    )
    op.create_table(
        "threshold_audit",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(128), nullable=False),
        sa.Column("changed_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_threshold_audit")),
    )
    op.create_index("ix_threshold_audit_key_changed_at", "threshold_audit",
                    ["key", "changed_at"])
    op.create_table(
        "policy_counters",
        sa.Column("rule", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(32), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("rule", "subject", "period", name=op.f("pk_policy_counters")),
    )
    op.create_index("ix_policy_counters_expires_at", "policy_counters", ["expires_at"])
    op.create_table(
        "policy_pairs",
        sa.Column("caller_e164", sa.String(32), nullable=False),
        sa.Column("callee_e164", sa.String(32), nullable=False),
        sa.Column("last_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("caller_e164", "callee_e164", name=op.f("pk_policy_pairs")),
    )
    op.create_index("ix_policy_pairs_last_at", "policy_pairs", ["last_at"])


def downgrade() -> None:
    op.drop_index("ix_policy_pairs_last_at", table_name="policy_pairs")
    op.drop_table("policy_pairs")
    op.drop_index("ix_policy_counters_expires_at", table_name="policy_counters")
    op.drop_table("policy_counters")
    op.drop_index("ix_threshold_audit_key_changed_at", table_name="threshold_audit")
    op.drop_table("threshold_audit")
    op.drop_table("thresholds")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("policy_detail")
        batch.drop_column("not_before")
