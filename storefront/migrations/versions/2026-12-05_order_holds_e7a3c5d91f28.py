"""order holds: which client address placed an order (a keyed hash) and when its customer went to
TWINT, so unpaid orders hold stock only briefly and one address cannot hold many

Revision ID: e7a3c5d91f28
Revises: c41e9b7d2a05
Create Date: 2026-12-05 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "e7a3c5d91f28"
down_revision = "c41e9b7d2a05"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shop_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("placed_from", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("handed_over_at", DateTimeUTC(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_shop_order_placed_from"), ["placed_from"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("shop_order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shop_order_placed_from"))
        batch_op.drop_column("handed_over_at")
        batch_op.drop_column("placed_from")
