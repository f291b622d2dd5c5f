"""Beep timestamps: first provisional response, CANCEL sent, measured ring time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("first_provisional_at", sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("cancel_sent_at", sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("ring_time_ms", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("ring_time_ms")
        batch.drop_column("cancel_sent_at")
        batch.drop_column("first_provisional_at")
