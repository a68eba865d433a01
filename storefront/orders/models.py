"""Orders and their money: what a customer bought (lines snapshotted at the price they saw), where
it goes, and, as rows of their own, each payment (one per PaymentIntent) and each refund. The
allowed status changes of orders and payments are written once, here, as data."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from advanced_alchemy.base import BigIntAuditBase, BigIntBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column


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
UNPAID = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED})


class Fulfilment(StrEnum):
    """What the shop has done with a paid order's goods."""

    OPEN = "open"  # paid, nothing sent yet
    READY_FOR_PICKUP = "ready_for_pickup"  # waiting in the shop; the customer was told
    SHIPPED = "shipped"
    PICKED_UP = "picked_up"


# Shipping goes one way; a pick-up order is first made ready, then collected.
FULFILMENT_STEPS: dict[Fulfilment, frozenset[Fulfilment]] = {
    Fulfilment.OPEN: frozenset({Fulfilment.SHIPPED, Fulfilment.READY_FOR_PICKUP, Fulfilment.PICKED_UP}),
    Fulfilment.READY_FOR_PICKUP: frozenset({Fulfilment.PICKED_UP}),
    Fulfilment.SHIPPED: frozenset(),
    Fulfilment.PICKED_UP: frozenset(),
}
HANDED_OVER = frozenset({Fulfilment.SHIPPED, Fulfilment.PICKED_UP})


class PaymentStatus(StrEnum):
    """One PaymentIntent as the shop sees it."""

    PENDING = "pending"  # created, or waiting for the customer in TWINT
    FAILED = "failed"  # the customer's attempt failed; the same intent may be tried again
    SUCCEEDED = "succeeded"  # the money came in and pays its order
    CANCELED = "canceled"
    REFUND_DUE = "refund_due"  # the money came in but the order does not keep it: paid twice, or too late
    REFUNDED = "refunded"


# Money that came in is never forgotten: a success reported after a cancellation (events arrive in
# any order) still counts, for the order or as money due back.
PAYMENT_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PENDING: frozenset(
        {PaymentStatus.FAILED, PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED, PaymentStatus.REFUND_DUE}
    ),
    PaymentStatus.FAILED: frozenset(
        {PaymentStatus.PENDING, PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED, PaymentStatus.REFUND_DUE}
    ),
    PaymentStatus.CANCELED: frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.REFUND_DUE}),
    PaymentStatus.SUCCEEDED: frozenset({PaymentStatus.REFUNDED}),
    PaymentStatus.REFUND_DUE: frozenset({PaymentStatus.REFUNDED}),
    PaymentStatus.REFUNDED: frozenset(),
}
MONEY_IN = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.REFUND_DUE, PaymentStatus.REFUNDED})


class RefundStatus(StrEnum):
    """As Stripe reports a refund: it is created pending and settles later, or fails. Before Stripe
    has answered, the shop's own record is `requested` (it already counts against what is left)."""

    REQUESTED = "requested"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class Order(BigIntAuditBase):
    __tablename__ = "shop_order"  # ORDER is an SQL keyword
    __table_args__ = (
        CheckConstraint("total >= 0", name="total_not_negative"),
        # The back office counts orders per tab from this index alone, and reads a tab's newest
        # orders from it in order.
        Index("ix_shop_order_status_fulfilment_id", "status", "fulfilment", "id"),
    )

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
    language: Mapped[str] = mapped_column(String(5), default="de")  # for the e-mails about this order
    fulfilment: Mapped[str] = mapped_column(String(20), default=Fulfilment.OPEN.value, server_default="open")
    tracking_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # Who placed it, as a keyed hash of the client address (never the address itself): how many
    # unpaid orders one address holds, and how many it placed lately (`storefront/orders/placing.py`).
    placed_from: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # When the customer pressed "Pay" and went to TWINT; until then the stock is held only briefly.
    handed_over_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


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


class Payment(BigIntBase):
    """One PaymentIntent of an order: the first attempt, a retry, or money TWINT sent twice."""

    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id", ondelete="RESTRICT"), index=True)
    intent_id: Mapped[str] = mapped_column(String(255), unique=True)
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), index=True)
    # Only a hash: enough to check the return from TWINT, useless to anyone who reads the database.
    client_secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    synced_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    last_error_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    last_error_message: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The money came in but the order did not keep it (paid twice, or too late): never a sale,
    # also once it has been refunded.
    due_back: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Refund(BigIntBase):
    """Money given back from one payment, as Stripe's refund `re_…`: asked for in the back office
    (recorded before Stripe is asked, so a double click or a retry finds it), or made in Stripe's
    dashboard and learnt from its webhooks."""

    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    refund_id: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)  # None until Stripe answers
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id", ondelete="RESTRICT"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    requested_by: Mapped[str] = mapped_column(String(254))  # who asked for it: a staff account, or the shop itself
    restock: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    failure_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    paid_out_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True, index=True)


class RefundLine(BigIntBase):
    """Which goods a refund gives money back for (none when it is for an amount)."""

    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    refund: Mapped[int] = mapped_column(ForeignKey("refund.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer)


class OrderEvent(BigIntBase):
    """One entry of an order's timeline: what happened, where it came from (the return page, a
    status poll, a webhook, the reconciler, the back office) and, for staff actions, who did it."""

    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    kind: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(254), nullable=True)
    detail: Mapped[str] = mapped_column(String(500), default="")


class OutboxEmail(BigIntBase):
    """An e-mail to send, written in the transaction that decided it (so it is sent exactly when the
    change happened, even if the process stops right after); a sender delivers it later."""

    __table_args__ = (UniqueConstraint("order_id", "kind"), UniqueConstraint("stock_alert_id", "kind"))

    # What it is about: an order, or a customer's request to hear when an item is back in stock.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("shop_order.id", ondelete="CASCADE"), nullable=True)
    stock_alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("stock_alert.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(30))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # After a temporary failure the next attempt waits (exponential back-off); after a permanent one,
    # or two days of temporary ones, the e-mail is given up and waits for the owner.
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    given_up_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    # The left part of the Message-ID, the same on every attempt, so a mail server or the customer's
    # mail program can tell a repeat (a worker that stopped after sending, before recording it).
    message_key: Mapped[str | None] = mapped_column(String(64), nullable=True)


class StockAlert(BigIntBase):
    """A customer's request for one e-mail when a sold-out item is back in stock. It counts only once
    the address is confirmed from the link we e-mailed to it (double opt-in); the address is kept
    until the e-mail has gone out, and a while after (see `storefront/orders/stock_alerts.py`)."""

    __table_args__ = (UniqueConstraint("variant_id", "email"),)

    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    language: Mapped[str] = mapped_column(String(5))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # of the token in the e-mailed link
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    notified_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True, index=True)
