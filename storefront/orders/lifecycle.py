"""An order's lifecycle after it is placed (`storefront/orders/placing.py`): starting its payment,
applying what the payment provider reports, and cancelling it. Every change runs under the order's
row lock, is idempotent, and moves only along `TRANSITIONS` and `PAYMENT_TRANSITIONS`
(storefront/orders/models.py), so no order of events can unpay an order or pay it twice. The
checkout, the order pages, the webhook and the reconciler all come here."""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, insert, or_, select, update

from storefront.cart.models import Cart, CartLine
from storefront.db import Database, DbConnection
from storefront.i18n import N_, ExplainedError
from storefront.orders.emails import queue_owner_notice, queue_paid_confirmation
from storefront.orders.models import (
    MONEY_IN,
    PAYMENT_TRANSITIONS,
    TRANSITIONS,
    UNPAID,
    OrderStatus,
    PaymentStatus,
)
from storefront.orders.provider import (
    IntentState,
    PaymentMovedOn,
    PaymentProvider,
    PaymentRequest,
    PaymentUnavailable,
    order_reference,
)
from storefront.orders.stock import release_stock, reserve_again
from storefront.orders.timeline import Source, record_event
from storefront.orders.views import (
    OrderView,
    find_order,
    order_t,
    payment_t,
)
from storefront.tables import table_of
from storefront.tokens import token_hash

logger = logging.getLogger("storefront.orders")

cart_t = table_of(Cart)
cart_line_t = table_of(CartLine)

SYNC_INTERVAL_S = 5.0  # a pending order asks the provider at most this often, whatever the number of tabs


@dataclass(frozen=True, slots=True)
class Applied:
    status: OrderStatus
    changed: bool
    note: str = ""
    order_id: int | None = None


async def cancel_unpaid(
    connection: DbConnection, order_id: int, source: Source, *, actor: str | None = None, detail: str = ""
) -> bool:
    """Cancel an order that is not paid and give its stock back; a payment that still arrives for
    it is honoured if the stock allows, else its money is due back (`apply_in_transaction`)."""
    order = (await connection.execute(_LOCK_ORDER, {"order": order_id})).one()
    if OrderStatus.CANCELLED not in TRANSITIONS[OrderStatus(order.status)]:
        return False
    await release_stock(connection, order_id)
    await _set_order_status(connection, order_id, OrderStatus.CANCELLED, dt.datetime.now(dt.UTC))
    await record_event(connection, order_id, "cancelled", source, actor=actor, detail=detail or "stock released")
    return True


class CancelRefused(ExplainedError):
    """The order was not cancelled; the message says why."""


async def cancel_order(database: Database, provider: PaymentProvider, order_id: int, actor: str) -> None:
    """Cancel an unpaid order from the back office: its payments are called off at the provider
    first (so the customer can no longer pay it), then its stock is released. A payment that went
    through meanwhile wins: the order is then paid, not cancelled."""
    order = await find_order(database, order_id=order_id)
    if order is None or order.status not in UNPAID:
        raise CancelRefused(N_("Only an unpaid order can be cancelled; a paid one is refunded instead."))
    called_off: list[IntentState] = []
    for payment in order.payments:
        if payment.status not in (PaymentStatus.PENDING, PaymentStatus.FAILED):
            continue
        try:
            called_off.append(await provider.abandon_intent(payment.intent_id))
        except PaymentMovedOn:
            applied = await apply_payment_state(
                database, await provider.retrieve_intent(payment.intent_id), Source.BACK_OFFICE
            )
            if applied.status == OrderStatus.PAID:
                raise CancelRefused(N_("The customer has just paid this order; it was not cancelled.")) from None
        except PaymentUnavailable:
            raise CancelRefused(N_("Stripe could not be reached; the order was not cancelled. Try again.")) from None
    async with database.write() as connection:
        if not await cancel_unpaid(connection, order_id, Source.BACK_OFFICE, actor=actor, detail="cancelled by hand"):
            raise CancelRefused(N_("This order is no longer unpaid; it was not cancelled."))
        for intent in called_off:
            await apply_in_transaction(connection, intent, Source.BACK_OFFICE)


# --- paying -----------------------------------------------------------------------------------


async def start_payment(database: Database, provider: PaymentProvider, order_id: int) -> bool:
    """Ask the provider for the order's payment, once: a retry (a second click, a worker that
    stopped half-way) gets the same one back through the attempt's idempotency key."""
    order = await find_order(database, order_id=order_id)
    if order is None:
        return False
    if order.payment is not None or order.final:
        return True
    try:
        intent = await provider.create_intent(payment_request(order))
    except PaymentUnavailable:
        return False
    await record_payment(database, order.id, intent)
    return True


def payment_request(order: OrderView) -> PaymentRequest:
    """The next attempt to pay `order`; its amount is the order's total, never the browser's."""
    return PaymentRequest(
        order_id=order.id,
        number=order.number,
        public_token=order.public_token,
        total=order.total,
        email=order.email,
        attempt=len(order.payments) + 1,
    )


_LOCK_ORDER = select(order_t).where(order_t.c.id == bindparam("order")).with_for_update()
_PAYMENT = select(payment_t).where(payment_t.c.intent_id == bindparam("intent")).with_for_update()
_ORDER_OF_PAYMENT = select(payment_t.c.order_id).where(payment_t.c.intent_id == bindparam("intent"))
_OTHER_PAYMENTS = select(func.count()).where(
    payment_t.c.order_id == bindparam("order"),
    payment_t.c.id != bindparam("payment"),
    payment_t.c.status.in_(bindparam("statuses", expanding=True)),
)
_SET_ORDER_STATUS = (
    update(order_t)
    .where(order_t.c.id == bindparam("order"))
    .values(status=bindparam("new_status"), updated_at=bindparam("now"))
)
_SET_PAYMENT = (
    update(payment_t)
    .where(payment_t.c.id == bindparam("payment"))
    .values(
        status=bindparam("new_status"),
        synced_at=bindparam("now"),
        last_error_code=bindparam("error_code"),
        last_error_message=bindparam("error_message"),
    )
)
_TOUCH_PAYMENT = update(payment_t).where(payment_t.c.id == bindparam("payment")).values(synced_at=bindparam("now"))
_EMPTY_CART = delete(cart_line_t).where(
    cart_line_t.c.cart_id.in_(select(cart_t.c.id).where(cart_t.c.token_hash == bindparam("cart")).scalar_subquery())
)


async def record_payment(database: Database, order_id: int, intent: IntentState) -> None:
    """Remember a payment of the order (each intent once: one intent never pays two orders)."""
    async with database.write() as connection:
        await connection.execute(_LOCK_ORDER, {"order": order_id})
        if (await connection.execute(_PAYMENT, {"intent": intent.id})).one_or_none() is None:
            await _insert_payment(connection, order_id, intent, dt.datetime.now(dt.UTC))


async def _insert_payment(connection: DbConnection, order_id: int, intent: IntentState, now: dt.datetime) -> None:
    await connection.execute(
        insert(payment_t).values(
            order_id=order_id,
            intent_id=intent.id,
            amount=intent.amount,
            currency=intent.currency,
            status=PaymentStatus.PENDING.value,  # what the intent reports is applied by `apply_in_transaction`
            client_secret_hash=token_hash(intent.client_secret) if intent.client_secret else None,
            created_at=now,
        )
    )


async def apply_payment_state(database: Database, intent: IntentState, source: Source) -> Applied:
    """Apply what the provider reports about a payment to the payment and its order; `source` says
    where the report came from, for the order's timeline."""
    async with database.write() as connection:
        return await apply_in_transaction(connection, intent, source)


_HANDED_OVER = (
    update(order_t)
    .where(order_t.c.id == bindparam("order"), order_t.c.handed_over_at.is_(None))
    .values(handed_over_at=bindparam("now"))
)


async def _record_hand_over(connection: DbConnection, order_id: int, now: dt.datetime) -> None:
    await connection.execute(_HANDED_OVER, {"order": order_id, "now": now})


async def record_hand_over(database: Database, order_id: int) -> None:
    """The customer pressed "Pay" and went to TWINT: from now on the order holds its stock for
    TWINT's window (before, only briefly: `Settings.pay_within_minutes`)."""
    async with database.write() as connection:
        await _record_hand_over(connection, order_id, dt.datetime.now(dt.UTC))


class UnknownPayment(LookupError):
    """A payment that is neither in the shop's records nor proven to be for one of its orders."""


async def _order_of(connection: DbConnection, intent: IntentState) -> Row[Any] | None:
    """The order a payment belongs to, locked: the one the shop recorded it for; for a payment it
    has no record of (created just before a worker stopped), the order its metadata names, if the
    metadata also carries that order's reference, which only this database can produce. Never the
    metadata's order id alone: another shop on the same Stripe account has orders with the same ids."""
    recorded = await connection.scalar(_ORDER_OF_PAYMENT, {"intent": intent.id})
    if recorded is not None:
        return (await connection.execute(_LOCK_ORDER, {"order": recorded})).one_or_none()
    if intent.order_id is None or not intent.order_ref:
        return None
    order = (await connection.execute(_LOCK_ORDER, {"order": intent.order_id})).one_or_none()
    if order is None or not hmac.compare_digest(
        intent.order_ref.encode(), order_reference(order.public_token).encode()
    ):
        return None
    return order


async def apply_in_transaction(connection: DbConnection, intent: IntentState, source: Source) -> Applied:
    """`apply_payment_state` inside a transaction the caller holds (the webhook records its event id in it)."""
    now = dt.datetime.now(dt.UTC)
    order = await _order_of(connection, intent)
    if order is None:
        raise UnknownPayment(f"payment {intent.id} is not one of this shop's payments")
    current = OrderStatus(order.status)
    if intent.amount != order.total or intent.currency != order.currency:
        logger.error(
            "order %s: payment %s is for %s %s, the order for %s %s; not applied",
            order.number,
            intent.id,
            intent.amount,
            intent.currency,
            order.total,
            order.currency,
        )
        return Applied(current, changed=False, note="amount or currency mismatch", order_id=order.id)
    if intent.handed_over and order.handed_over_at is None:
        await _record_hand_over(connection, order.id, now)
    payment = (await connection.execute(_PAYMENT, {"intent": intent.id})).one_or_none()
    if payment is None:
        # A payment the shop did not record: created before a worker stopped, or TWINT paid twice.
        await _insert_payment(connection, order.id, intent, now)
        payment = (await connection.execute(_PAYMENT, {"intent": intent.id})).one()
    order_target, payment_target, note = await _decide(connection, order, payment, intent)
    paid_by = PaymentStatus(payment.status)
    if payment_target != paid_by and payment_target not in PAYMENT_TRANSITIONS[paid_by]:
        # A stale report (a failure after the success, say): the payment keeps its state and its error.
        logger.info("payment %s: %s after %s ignored (it only moves forward)", intent.id, payment_target, paid_by)
        await connection.execute(_TOUCH_PAYMENT, {"payment": payment.id, "now": now})
        payment_target = paid_by
    else:
        await connection.execute(
            _SET_PAYMENT,
            {
                "payment": payment.id,
                "new_status": payment_target.value,
                "now": now,
                "error_code": intent.error_code,
                "error_message": intent.error_message,
            },
        )
    changed = payment_target != paid_by
    if changed:
        detail = f"{intent.id}: {paid_by} → {payment_target}"
        if payment_target == PaymentStatus.FAILED and intent.error_message:
            detail += f" ({intent.error_message})"
        await record_event(connection, order.id, "payment", source, detail=f"{detail}{f'; {note}' if note else ''}")
    if payment_target == PaymentStatus.REFUND_DUE and paid_by != PaymentStatus.REFUND_DUE:
        logger.warning("order %s: payment %s came in but is due back (%s)", order.number, intent.id, note)
        await connection.execute(update(payment_t).where(payment_t.c.id == payment.id).values(due_back=True))
    if order_target is not None and order_target != current:
        if order_target not in TRANSITIONS[current]:
            logger.info("order %s: %s after %s ignored (state only moves forward)", order.number, order_target, current)
            return Applied(current, changed=changed, note=f"{current} does not go to {order_target}", order_id=order.id)
        if order_target == OrderStatus.CANCELLED:
            await release_stock(connection, order.id)
        if order_target == OrderStatus.PAID:
            if order.cart_token_hash:
                await connection.execute(_EMPTY_CART, {"cart": order.cart_token_hash})
            await queue_paid_confirmation(connection, order)
            await queue_owner_notice(connection, order)
        await _set_order_status(connection, order.id, order_target, now)
        await record_event(connection, order.id, "status", source, detail=f"{current} → {order_target}")
        return Applied(order_target, changed=True, note=note, order_id=order.id)
    return Applied(current, changed=changed, note=note, order_id=order.id)


async def _decide(
    connection: DbConnection,
    order: Row[Any],
    payment: Row[Any],
    intent: IntentState,
) -> tuple[OrderStatus | None, PaymentStatus, str]:
    """The order's and the payment's next states for what the provider reports (the rules; the
    transitions then decide whether they may be taken)."""
    current = OrderStatus(order.status)
    reported = intent.status
    if reported == PaymentStatus.SUCCEEDED:
        if PaymentStatus(payment.status) in MONEY_IN:
            return None, PaymentStatus(payment.status), ""  # already counted
        if current == OrderStatus.PAID:
            return None, PaymentStatus.REFUND_DUE, "the order was paid already"
        if current == OrderStatus.CANCELLED and not await reserve_again(connection, order.id):
            return None, PaymentStatus.REFUND_DUE, "paid after cancellation, stock gone"
        return OrderStatus.PAID, PaymentStatus.SUCCEEDED, ""
    if reported == PaymentStatus.FAILED:
        waiting = await _others(connection, order.id, payment.id, {PaymentStatus.PENDING})
        return (None if waiting else OrderStatus.PAYMENT_FAILED), PaymentStatus.FAILED, ""
    if reported == PaymentStatus.CANCELED:
        live = await _others(connection, order.id, payment.id, {PaymentStatus.PENDING, PaymentStatus.FAILED})
        return (None if live else OrderStatus.CANCELLED), PaymentStatus.CANCELED, ""
    return OrderStatus.PENDING_PAYMENT, PaymentStatus.PENDING, ""


async def _others(connection: DbConnection, order_id: int, payment_id: int, statuses: set[PaymentStatus]) -> bool:
    """Whether the order has another payment in one of `statuses`."""
    count = await connection.scalar(
        _OTHER_PAYMENTS, {"order": order_id, "payment": payment_id, "statuses": [s.value for s in statuses]}
    )
    return bool(count)


async def _set_order_status(connection: DbConnection, order_id: int, status: OrderStatus, now: dt.datetime) -> None:
    await connection.execute(_SET_ORDER_STATUS, {"order": order_id, "new_status": status.value, "now": now})


_CLAIM_SYNC = (
    update(payment_t)
    .where(
        payment_t.c.id == bindparam("payment"),
        or_(payment_t.c.synced_at.is_(None), payment_t.c.synced_at < bindparam("stale_before")),
    )
    .values(synced_at=bindparam("now"))
)


async def claim_sync(database: Database, payment_id: int, interval_s: float) -> bool:
    """True for exactly one caller per payment per interval, across every worker and tab: that one
    may ask the provider how the payment stands."""
    now = dt.datetime.now(dt.UTC)
    async with database.write() as connection:
        claimed = await connection.execute(
            _CLAIM_SYNC, {"payment": payment_id, "now": now, "stale_before": now - dt.timedelta(seconds=interval_s)}
        )
    return claimed.rowcount == 1


async def sync_payment(
    database: Database, provider: PaymentProvider, order: OrderView, source: Source = Source.POLL
) -> OrderView:
    """Ask the provider how a pending payment stands, at most once per payment per interval across
    every worker and tab, and apply it (a webhook that is late or lost is caught up here)."""
    payment = order.payment
    if order.final or payment is None or not await claim_sync(database, payment.id, SYNC_INTERVAL_S):
        return order
    try:
        intent = await provider.retrieve_intent(payment.intent_id)
    except PaymentUnavailable:
        return order  # the next poll asks again
    await apply_payment_state(database, intent, source)
    return await find_order(database, order_id=order.id) or order
