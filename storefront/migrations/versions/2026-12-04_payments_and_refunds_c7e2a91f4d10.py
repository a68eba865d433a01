"""payments and refunds as records of their own

Revision ID: c7e2a91f4d10
Revises: bad0661d677f
Create Date: 2026-12-04 16:30:00

Each order's PaymentIntent moves from columns of `shop_order` to a row of `payment`; a second
payment that was only a `needs_refund` flag and a reason becomes a payment row whose status says
its money is due back. Refunds get a table of their own.
"""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "c7e2a91f4d10"
down_revision = "bad0661d677f"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_SECOND_PAYMENT = re.compile(r"second payment (?P<intent>\S+)")
# What each order status said about its one PaymentIntent.
_PAYMENT_STATUS = {
    "pending_payment": "pending",
    "payment_failed": "failed",
    "paid": "succeeded",
    "cancelled": "canceled",
}

order_t = sa.table(
    "shop_order",
    sa.column("id", _ID),
    sa.column("status", sa.String),
    sa.column("total", sa.Integer),
    sa.column("currency", sa.String),
    sa.column("payment_intent_id", sa.String),
    sa.column("client_secret_hash", sa.String),
    sa.column("payment_attempt", sa.Integer),
    sa.column("synced_at", DateTimeUTC(timezone=True)),
    sa.column("needs_refund", sa.Boolean),
    sa.column("refund_reason", sa.String),
    sa.column("created_at", DateTimeUTC(timezone=True)),
)
payment_t = sa.table(
    "payment",
    sa.column("id", _ID),
    sa.column("order_id", _ID),
    sa.column("intent_id", sa.String),
    sa.column("amount", sa.Integer),
    sa.column("currency", sa.String),
    sa.column("status", sa.String),
    sa.column("client_secret_hash", sa.String),
    sa.column("created_at", DateTimeUTC(timezone=True)),
    sa.column("synced_at", DateTimeUTC(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "payment",
        sa.Column("id", _ID, nullable=False),
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("intent_id", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("client_secret_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("synced_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("last_error_code", sa.String(length=100), nullable=True),
        sa.Column("last_error_message", sa.String(length=500), nullable=True),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_payment_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["shop_order.id"], name=op.f("fk_payment_order_id_shop_order"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint("intent_id", name=op.f("uq_payment_intent_id")),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_status"), ["status"], unique=False)
    op.create_table(
        "refund",
        sa.Column("id", _ID, nullable=False),
        sa.Column("refund_id", sa.String(length=255), nullable=False),
        sa.Column("payment_id", _ID, nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("requested_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refund_amount_positive")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_refund_payment_id_payment"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund")),
        sa.UniqueConstraint("refund_id", name=op.f("uq_refund_refund_id")),
    )
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refund_payment_id"), ["payment_id"], unique=False)

    _move_payments_out_of_orders()

    with op.batch_alter_table("shop_order", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_shop_order_payment_intent_id"), type_="unique")
        for column in (
            "payment_intent_id",
            "client_secret_hash",
            "payment_attempt",
            "synced_at",
            "needs_refund",
            "refund_reason",
        ):
            batch_op.drop_column(column)


def _move_payments_out_of_orders() -> None:
    connection = op.get_bind()
    orders = connection.execute(
        sa.select(order_t).where(order_t.c.payment_intent_id.is_not(None)).order_by(order_t.c.id)
    ).all()
    for order in orders:
        status = _PAYMENT_STATUS[order.status]
        second = _SECOND_PAYMENT.fullmatch(order.refund_reason or "") if order.needs_refund else None
        if order.needs_refund and second is None:
            status = "refund_due"  # paid after its cancellation, and the stock was gone
        connection.execute(
            payment_t.insert().values(
                order_id=order.id,
                intent_id=order.payment_intent_id,
                amount=order.total,
                currency=order.currency,
                status=status,
                client_secret_hash=order.client_secret_hash,
                created_at=order.created_at,
                synced_at=order.synced_at,
            )
        )
        if second is not None:
            connection.execute(
                payment_t.insert().values(
                    order_id=order.id,
                    intent_id=second["intent"],
                    amount=order.total,
                    currency=order.currency,
                    status="refund_due",
                    client_secret_hash=None,
                    created_at=order.synced_at or dt.datetime.now(dt.UTC),
                    synced_at=order.synced_at,
                )
            )


def downgrade() -> None:
    with op.batch_alter_table("shop_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_intent_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("client_secret_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("payment_attempt", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("synced_at", DateTimeUTC(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("needs_refund", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("refund_reason", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_shop_order_payment_intent_id"), ["payment_intent_id"])
    connection = op.get_bind()
    payments = connection.execute(sa.select(payment_t).order_by(payment_t.c.order_id, payment_t.c.id)).all()
    seen: set[int] = set()
    for payment in payments:
        if payment.order_id not in seen:
            seen.add(payment.order_id)
            connection.execute(
                order_t.update()
                .where(order_t.c.id == payment.order_id)
                .values(
                    payment_intent_id=payment.intent_id,
                    client_secret_hash=payment.client_secret_hash,
                    synced_at=payment.synced_at,
                    needs_refund=payment.status == "refund_due",
                    refund_reason="paid after cancellation, stock gone" if payment.status == "refund_due" else None,
                )
            )
        elif payment.status == "refund_due":
            connection.execute(
                order_t.update()
                .where(order_t.c.id == payment.order_id)
                .values(needs_refund=True, refund_reason=f"second payment {payment.intent_id}")
            )
    op.drop_table("refund")
    op.drop_table("payment")
