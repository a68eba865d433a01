"""outbox retries: a failed e-mail waits before its next attempt, is given up after a permanent
failure or two days, and keeps one Message-ID on every attempt

Revision ID: 8d2f6a1c0b37
Revises: 5e0a7c4b2f19
Create Date: 2026-12-05 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "8d2f6a1c0b37"
down_revision = "5e0a7c4b2f19"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", DateTimeUTC(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("given_up_at", DateTimeUTC(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("message_key", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.drop_column("message_key")
        batch_op.drop_column("given_up_at")
        batch_op.drop_column("next_attempt_at")
