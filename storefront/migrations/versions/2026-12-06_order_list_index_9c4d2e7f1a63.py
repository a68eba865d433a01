"""order list index: the back office reads a tab's newest orders in index order

Revision ID: 9c4d2e7f1a63
Revises: e7a3c5d91f28
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

from alembic import op

revision = "9c4d2e7f1a63"
down_revision = "e7a3c5d91f28"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shop_order", schema=None) as batch_op:
        batch_op.create_index("ix_shop_order_status_fulfilment_id", ["status", "fulfilment", "id"], unique=False)
        batch_op.drop_index("ix_shop_order_status_fulfilment")


def downgrade() -> None:
    with op.batch_alter_table("shop_order", schema=None) as batch_op:
        batch_op.create_index("ix_shop_order_status_fulfilment", ["status", "fulfilment"], unique=False)
        batch_op.drop_index("ix_shop_order_status_fulfilment_id")
