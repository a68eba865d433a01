"""cart expiry: carts left unchanged are found by when they last changed

Revision ID: c41e9b7d2a05
Revises: 8d2f6a1c0b37
Create Date: 2026-12-05 15:10:00
"""

from __future__ import annotations

from alembic import op

revision = "c41e9b7d2a05"
down_revision = "8d2f6a1c0b37"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cart", schema=None) as batch_op:
        batch_op.create_index("ix_cart_updated_at", ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cart", schema=None) as batch_op:
        batch_op.drop_index("ix_cart_updated_at")
