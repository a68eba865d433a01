"""Orders: what a customer bought (lines snapshotted at the price they saw), where it goes, and
how its payment stands. The allowed status changes are written once, as data."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from advanced_alchemy.base import BigIntAuditBase, BigIntBase, CommonTableAttributes, orm_registry
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"  # stock reserved, waiting for TWINT
    PAYMENT_FAILED = "payment_failed"  # the last attempt failed; the customer may try again
    PAID = "paid"
    CANCELLED = "cancelled"  # abandoned, expired or cancelled on TWINT; stock released


# Every change an order's status may make. A paid order never goes back; a cancelled one only
# moves on when TWINT reports a success late (honoured if the stock can be reserved again).
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING_PAYMENT: frozenset({OrderStatus.PAYMENT_FAILED, OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAYMENT_FAILED: frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.CANCELLED: frozenset({OrderStatus.PAID}),
    OrderStatus.PAID: frozenset(),
}
FINAL = frozenset({OrderStatus.PAID, OrderStatus.CANCELLED})


class Order(BigIntAuditBase):
    __tablename__ = "shop_order"  # ORDER is an SQL keyword
    __table_args__ = (CheckConstraint("total >= 0", name="total_not_negative"),)

    number: Mapped[str] = mapped_column(String(20), unique=True)
    public_token: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=OrderStatus.PENDING_PAYMENT.value, index=True)
    cart_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    street: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str] = mapped_column(String(4))
    city: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    shipping_method: Mapped[str] = mapped_column(String(30))
    shipping_price: Mapped[int] = mapped_column(Integer)
    subtotal: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="chf")
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    # Only a hash: enough to check the return URL, useless to anyone who reads the database.
    client_secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    payment_attempt: Mapped[int] = mapped_column(Integer, default=1)
    synced_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    language: Mapped[str] = mapped_column(String(5), default="de")  # for the e-mails about this order
    needs_refund: Mapped[bool] = mapped_column(Boolean, default=False)
    refund_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


class OrderLine(BigIntBase):
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variant.id", ondelete="SET NULL"), nullable=True)
    sku: Mapped[str] = mapped_column(String(64))
    product_name: Mapped[str] = mapped_column(String(200))
    variant_label: Mapped[str] = mapped_column(String(120), default="")
    unit_price: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    vat_class: Mapped[str] = mapped_column(String(20))
    vat_rate: Mapped[str] = mapped_column(String(8), comment="per cent, as in force on the order date")


class _PlainBase(CommonTableAttributes, DeclarativeBase):
    __abstract__ = True
    registry = orm_registry


class ProcessedEvent(_PlainBase):
    """A Stripe event id, recorded in the transaction that applied it, so a redelivery changes nothing."""

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("shop_order.id", ondelete="SET NULL"), nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))


class OutboxEmail(BigIntBase):
    """An e-mail to send, written in the transaction that decided it (so it is sent exactly when the
    change happened, even if the process stops right after); a sender delivers it later."""

    __table_args__ = (UniqueConstraint("order_id", "kind"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
