"""stock alerts: a customer asks for an e-mail when a sold-out item is back; the outbox sends
e-mails that belong to no order

Revision ID: 5e0a7c4b2f19
Revises: 3b8f1c2d9e47
Create Date: 2026-12-05 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "5e0a7c4b2f19"
down_revision = "3b8f1c2d9e47"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stock_alert",
        sa.Column("variant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("confirmed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("notified_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["variant_id"], ["variant.id"], name=op.f("fk_stock_alert_variant_id_variant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_alert")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_stock_alert_token_hash")),
        sa.UniqueConstraint("variant_id", "email", name=op.f("uq_stock_alert_variant_id")),
    )
    with op.batch_alter_table("stock_alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_alert_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_stock_alert_notified_at"), ["notified_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_stock_alert_variant_id"), ["variant_id"], unique=False)
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.alter_column("order_id", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        batch_op.add_column(
            sa.Column("stock_alert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_outbox_email_stock_alert_id"), ["stock_alert_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_email_stock_alert_id_stock_alert"),
            "stock_alert",
            ["stock_alert_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_unique_constraint(batch_op.f("uq_outbox_email_stock_alert_id"), ["stock_alert_id", "kind"])


def downgrade() -> None:
    op.execute("DELETE FROM outbox_email WHERE order_id IS NULL")
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_outbox_email_stock_alert_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_outbox_email_stock_alert_id_stock_alert"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_outbox_email_stock_alert_id"))
        batch_op.drop_column("stock_alert_id")
        batch_op.alter_column("order_id", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)
    op.drop_table("stock_alert")
