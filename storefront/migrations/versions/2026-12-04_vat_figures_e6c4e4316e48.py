"""VAT figures: when each refund was paid out, and which payments were never a sale

Revision ID: e6c4e4316e48
Revises: 6a9ba4cdbeab
Create Date: 2026-12-04 19:00:47

A refund reduces the turnover of the period in which Stripe paid it out, so that moment is kept.
A payment the order did not keep (paid twice, or too late) stays marked as such after it has been
refunded, so it never counts as a sale. Existing rows: refunds that succeeded take their last
change as the moment; payments still due back are marked.
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "e6c4e4316e48"
down_revision = "6a9ba4cdbeab"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_back", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paid_out_at", DateTimeUTC(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_refund_paid_out_at"), ["paid_out_at"], unique=False)
    op.execute("UPDATE payment SET due_back = true WHERE status = 'refund_due'")
    op.execute("UPDATE refund SET paid_out_at = updated_at WHERE status = 'succeeded'")


def downgrade() -> None:
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refund_paid_out_at"))
        batch_op.drop_column("paid_out_at")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_column("due_back")
