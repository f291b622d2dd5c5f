"""Callback attribution: delay, charged seconds, kind and revenue on attempts; the
callback_watches table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("callback_delay_ms", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("callback_charged_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("callback_kind", sa.String(16), nullable=True))
        batch.add_column(sa.Column("callback_revenue", sa.Numeric(14, 2), nullable=True))
    op.create_table(
        "callback_watches",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("attempt_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("watch_key", sa.Text(), nullable=False),
        sa.Column("party_e164", sa.String(32), nullable=True),
        sa.Column("other_e164", sa.String(32), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_callback_watches"),
        sa.UniqueConstraint("attempt_id", "kind",
                            name="uq_callback_watches_attempt_id_kind"),
    )
    op.create_index("ix_callback_watches_watch_key", "callback_watches", ["watch_key"])
    op.create_index("ix_callback_watches_expires_at", "callback_watches", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_callback_watches_expires_at", table_name="callback_watches")
    op.drop_index("ix_callback_watches_watch_key", table_name="callback_watches")
    op.drop_table("callback_watches")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("callback_revenue")
        batch.drop_column("callback_kind")
        batch.drop_column("callback_charged_seconds")
        batch.drop_column("callback_delay_ms")
