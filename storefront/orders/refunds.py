"""Refunds: asked for in the back office, or made in Stripe's dashboard and learnt from its
webhooks; settled by Stripe's webhooks or, if those are late, by the reconciler.

A refund is recorded (status `requested`) under the order's row lock before Stripe is asked, so
what is left to refund is always right, however many clicks or tabs ask at once, and the same
record and idempotency key are used when the request is repeated. TWINT's rules are checked first:
at most what was paid minus earlier refunds, within 180 days of the payment
(https://docs.stripe.com/payments/twint#refunds)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update

from storefront.db import Database, DbConnection
from storefront.i18n import N_, ExplainedError, current_language
from storefront.money import format_chf
from storefront.orders.emails import queue_refunded
from storefront.orders.models import PAYMENT_TRANSITIONS, PaymentStatus, RefundLine, RefundStatus
from storefront.orders.provider import PaymentProvider, PaymentUnavailable, RefundRefused, RefundRequest, RefundState
from storefront.orders.stock import put_back
from storefront.orders.timeline import Source, record_event
from storefront.orders.views import order_line_t, order_t, payment_t, refund_t
from storefront.tables import table_of

logger = logging.getLogger("storefront.orders")

refund_line_t = table_of(RefundLine)

REFUND_WINDOW = dt.timedelta(days=180)  # TWINT payments can be refunded for 180 days
# Refunds that count against what is left: all but those Stripe refused or that failed.
COUNTING = (RefundStatus.REQUESTED, RefundStatus.PENDING, RefundStatus.SUCCEEDED)
REFUND_STEPS: dict[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.REQUESTED: frozenset(
        {RefundStatus.PENDING, RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.CANCELED}
    ),
    RefundStatus.PENDING: frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.CANCELED}),
    # Stripe may, rarely, report a refund that had succeeded as failed later (the bank sent it back).
    RefundStatus.SUCCEEDED: frozenset({RefundStatus.FAILED}),
    RefundStatus.FAILED: frozenset(),
    RefundStatus.CANCELED: frozenset(),
}
DASHBOARD = "Stripe dashboard"
RETRY_AFTER = dt.timedelta(minutes=1)  # the reconciler asks Stripe about refunds older than this


class RefundError(ExplainedError):
    """A refund the rules do not allow; nothing was recorded or sent to Stripe."""


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    refund_row_id: int
    status: RefundStatus
    amount: int
    message: str  # for the person who asked
    repeated: bool = False  # the same request again (a double click): nothing new happened


_LOCK_ORDER = select(order_t).where(order_t.c.id == bindparam("order")).with_for_update()
_PAYMENTS_OF = select(payment_t).where(payment_t.c.order_id == bindparam("order")).order_by(payment_t.c.id)
_COUNTED = select(func.coalesce(func.sum(refund_t.c.amount), 0)).where(
    refund_t.c.payment_id == bindparam("payment"), refund_t.c.status.in_([s.value for s in COUNTING])
)
_SUCCEEDED = select(func.coalesce(func.sum(refund_t.c.amount), 0)).where(
    refund_t.c.payment_id == bindparam("payment"), refund_t.c.status == RefundStatus.SUCCEEDED.value
)
_LINES_REFUNDED = (
    select(refund_line_t.c.order_line_id, func.sum(refund_line_t.c.quantity).label("quantity"))
    .join(refund_t, refund_t.c.id == refund_line_t.c.refund)
    .join(payment_t, payment_t.c.id == refund_t.c.payment_id)
    .where(payment_t.c.order_id == bindparam("order"), refund_t.c.status.in_([s.value for s in COUNTING]))
    .group_by(refund_line_t.c.order_line_id)
)
_ORDER_LINES = select(
    order_line_t.c.id, order_line_t.c.variant_id, order_line_t.c.unit_price, order_line_t.c.quantity
).where(order_line_t.c.order_id == bindparam("order"))
_BY_KEY = select(refund_t).where(refund_t.c.idempotency_key == bindparam("key"))
_BY_STRIPE_ID = select(refund_t).where(refund_t.c.refund_id == bindparam("refund")).with_for_update()


async def lines_refunded(connection: DbConnection, order_id: int) -> dict[int, int]:
    """Units per order line that a refund (asked for, pending or paid out) already covers."""
    rows = (await connection.execute(_LINES_REFUNDED, {"order": order_id})).all()
    return {row.order_line_id: int(row.quantity) for row in rows}


async def left_to_refund(connection: DbConnection, payment: Row[Any]) -> int:
    return int(payment.amount) - int(await connection.scalar(_COUNTED, {"payment": payment.id}) or 0)


async def request_refund(
    database: Database,
    provider: PaymentProvider,
    order_id: int,
    *,
    key: str,
    actor: str,
    reason: str,
    lines: Mapping[int, int] | None = None,
    delivery: bool = False,
    amount: int | None = None,
    restock: bool = False,
    payment_id: int | None = None,
) -> RefundOutcome:
    """Give money back from the order's payment (or from `payment_id`, a payment due back): for
    `lines` (order line id → units, plus the delivery fee with `delivery`), or for `amount`, or
    with neither, everything left. `key` comes from the form, so a second click repeats the same
    refund instead of making another."""
    reason = reason.strip()
    if not reason:
        raise RefundError(N_("Say why the money is given back."))
    now = dt.datetime.now(dt.UTC)
    async with database.write() as connection:
        order = (await connection.execute(_LOCK_ORDER, {"order": order_id})).one_or_none()
        if order is None:
            raise RefundError(N_("There is no such order."))
        existing = (await connection.execute(_BY_KEY, {"key": key})).one_or_none()
        if existing is None:
            payment = await _payment_to_refund(connection, order_id, payment_id)
            left = await left_to_refund(connection, payment)
            chosen = await _chosen_lines(connection, order_id, lines or {})
            if amount is None:
                if chosen or delivery:
                    amount = sum(unit_price * units for _line, _variant, unit_price, units in chosen)
                    amount += order.shipping_price if delivery else 0
                else:
                    amount = left
            if amount <= 0:
                raise RefundError(N_("Choose what to refund: items, the delivery fee or an amount."))
            if amount > left:
                raise RefundError(
                    N_("At most %(left)s is left to refund of this payment; %(amount)s is more."),
                    left=format_chf(left, current_language()),
                    amount=format_chf(amount, current_language()),
                )
            if now > payment.created_at + REFUND_WINDOW:
                raise RefundError(N_("TWINT payments can only be refunded within 180 days of the payment."))
            stripe_reason = "duplicate" if payment.status == PaymentStatus.REFUND_DUE.value else "requested_by_customer"
            created = await connection.execute(
                insert(refund_t)
                .values(
                    refund_id=None,
                    idempotency_key=key,
                    payment_id=payment.id,
                    amount=amount,
                    status=RefundStatus.REQUESTED.value,
                    reason=f"{stripe_reason}: {reason}"[:200],
                    requested_by=actor,
                    restock=restock and bool(chosen),
                    created_at=now,
                    updated_at=now,
                )
                .returning(refund_t.c.id)
            )
            row_id = created.scalar_one()
            if chosen:
                await connection.execute(
                    insert(refund_line_t),
                    [{"refund": row_id, "order_line_id": line, "quantity": units} for line, _v, _p, units in chosen],
                )
            await record_event(
                connection,
                order_id,
                "refund_requested",
                Source.BACK_OFFICE,
                actor=actor,
                detail=f"{format_chf(amount, 'en')} from {payment.intent_id}: {reason}"
                + ("; goods back to stock" if restock and chosen else ""),
            )
            existing = (await connection.execute(_BY_KEY, {"key": key})).one()
            repeated = False
        else:
            repeated = True
        intent_id = await connection.scalar(select(payment_t.c.intent_id).where(payment_t.c.id == existing.payment_id))
    if existing.status != RefundStatus.REQUESTED.value:
        return RefundOutcome(existing.id, RefundStatus(existing.status), existing.amount, "Already asked for.", True)
    return await _ask_provider(database, provider, existing, str(intent_id), order_id, order.number, repeated)


async def _payment_to_refund(connection: DbConnection, order_id: int, payment_id: int | None) -> Row[Any]:
    payments = (await connection.execute(_PAYMENTS_OF, {"order": order_id})).all()
    if payment_id is not None:
        found = [p for p in payments if p.id == payment_id]
    else:  # the payment that paid the order
        found = [p for p in payments if p.status in (PaymentStatus.SUCCEEDED.value, PaymentStatus.REFUNDED.value)]
    if not found:
        raise RefundError(N_("This order has no payment to refund."))
    payment = found[-1]
    if payment.status not in (PaymentStatus.SUCCEEDED.value, PaymentStatus.REFUND_DUE.value):
        raise RefundError(N_("This payment has been refunded in full."))
    return payment


async def _chosen_lines(
    connection: DbConnection, order_id: int, lines: Mapping[int, int]
) -> list[tuple[int, int | None, int, int]]:
    """(order line, variant, unit price, units) for each line with units to refund, checked
    against what was ordered and what earlier refunds already cover."""
    ordered = {row.id: row for row in (await connection.execute(_ORDER_LINES, {"order": order_id})).all()}
    refunded = await lines_refunded(connection, order_id)
    chosen = []
    for line_id, units in lines.items():
        if units == 0:
            continue
        row = ordered.get(line_id)
        if row is None or units < 0:
            raise RefundError(N_("A chosen item is not part of this order."))
        if units > row.quantity - refunded.get(line_id, 0):
            raise RefundError(
                N_("Only %(left)s of %(ordered)s units of an item are left to refund."),
                left=row.quantity - refunded.get(line_id, 0),
                ordered=row.quantity,
            )
        chosen.append((line_id, row.variant_id, int(row.unit_price), units))
    return chosen


async def _ask_provider(
    database: Database,
    provider: PaymentProvider,
    refund: Row[Any],
    intent_id: str,
    order_id: int,
    order_number: str,
    repeated: bool,
) -> RefundOutcome:
    request = RefundRequest(
        intent_id=intent_id,
        amount=refund.amount,
        reason="duplicate" if refund.reason.startswith("duplicate") else "requested_by_customer",
        idempotency_key=f"refund-{order_number}-{refund.idempotency_key}",
        order_id=order_id,
        order_number=order_number,
        record_key=refund.idempotency_key,
    )
    try:
        state = await provider.create_refund(request)
    except RefundRefused as refused:
        async with database.write() as connection:
            await _set_refund(connection, refund.id, RefundStatus.FAILED, failure_reason=str(refused)[:200])
            await record_event(connection, order_id, "refund_failed", Source.BACK_OFFICE, detail=str(refused))
        return RefundOutcome(refund.id, RefundStatus.FAILED, refund.amount, f"Stripe refused the refund: {refused}")
    except PaymentUnavailable:
        return RefundOutcome(
            refund.id,
            RefundStatus.REQUESTED,
            refund.amount,
            "Stripe could not be reached; the refund is kept and asked for again in a minute.",
            repeated,
        )
    async with database.write() as connection:
        status = await apply_refund_in_transaction(connection, state, Source.BACK_OFFICE, row_id=refund.id)
    return RefundOutcome(refund.id, status or RefundStatus.PENDING, refund.amount, "Refund sent to Stripe.", repeated)


async def _set_refund(
    connection: DbConnection,
    row_id: int,
    status: RefundStatus,
    *,
    refund_id: str | None = None,
    failure_reason: str | None = None,
) -> None:
    values: dict[str, Any] = {"status": status.value, "updated_at": dt.datetime.now(dt.UTC)}
    if refund_id is not None:
        values["refund_id"] = refund_id
    if failure_reason is not None:
        values["failure_reason"] = failure_reason
    await connection.execute(update(refund_t).where(refund_t.c.id == row_id).values(**values))


_PAYMENT_OF_INTENT = select(payment_t).where(payment_t.c.intent_id == bindparam("intent"))
_PAYMENT_BY_ID = select(payment_t).where(payment_t.c.id == bindparam("payment"))


async def apply_refund_state(database: Database, state: RefundState, source: Source) -> RefundStatus | None:
    async with database.write() as connection:
        return await apply_refund_in_transaction(connection, state, source)


async def apply_refund_in_transaction(
    connection: DbConnection, state: RefundState, source: Source, *, row_id: int | None = None
) -> RefundStatus | None:
    """Apply what Stripe reports about a refund: the shop's own (found by its Stripe id, or by
    `row_id` when Stripe has just answered) or one made in the dashboard (recorded now). None if
    the refund is not for a payment of this shop."""
    refund: Row[Any] | None
    payment: Row[Any] | None
    if row_id is not None:
        refund = (await connection.execute(select(refund_t).where(refund_t.c.id == row_id))).one()
    else:
        refund = (await connection.execute(_BY_STRIPE_ID, {"refund": state.id})).one_or_none()
    if refund is not None:
        payment = (await connection.execute(_PAYMENT_BY_ID, {"payment": refund.payment_id})).one()
    else:
        payment = (await connection.execute(_PAYMENT_OF_INTENT, {"intent": state.intent_id})).one_or_none()
        if payment is None:
            return None
    order = (await connection.execute(_LOCK_ORDER, {"order": payment.order_id})).one()
    if refund is None:
        # Locked now; another delivery of the same refund may have recorded it meanwhile, or it is
        # the shop's own, whose event came before Stripe's answer to the request was recorded.
        refund = (await connection.execute(_BY_STRIPE_ID, {"refund": state.id})).one_or_none()
    if refund is None and state.record_key:
        refund = (await connection.execute(_BY_KEY, {"key": state.record_key})).one_or_none()
        if refund is not None and refund.payment_id != payment.id:
            refund = None  # a key of another payment: not this refund's record
    if refund is None:
        now = dt.datetime.now(dt.UTC)
        created = await connection.execute(
            insert(refund_t)
            .values(
                refund_id=state.id,
                idempotency_key=None,
                payment_id=payment.id,
                amount=state.amount,
                status=RefundStatus.PENDING.value,
                reason="made in Stripe's dashboard",
                requested_by=DASHBOARD,
                restock=False,
                created_at=now,
                updated_at=now,
            )
            .returning(refund_t.c.id)
        )
        refund = (await connection.execute(select(refund_t).where(refund_t.c.id == created.scalar_one()))).one()
        await record_event(
            connection,
            order.id,
            "refund_recorded",
            source,
            actor=DASHBOARD,
            detail=f"{state.id}: {format_chf(state.amount, 'en')} from {payment.intent_id}",
        )
    current = RefundStatus(refund.status)
    target = state.status
    if target == current and refund.refund_id is not None:
        return current
    if target != current and target not in REFUND_STEPS[current]:
        logger.info("refund %s: %s after %s ignored", state.id, target, current)
        return current
    await _set_refund(connection, refund.id, target, refund_id=state.id, failure_reason=state.failure_reason)
    if target == RefundStatus.SUCCEEDED:  # the period in which the refund reduces the turnover
        await connection.execute(
            update(refund_t).where(refund_t.c.id == refund.id).values(paid_out_at=dt.datetime.now(dt.UTC))
        )
    if current == RefundStatus.REQUESTED and target != RefundStatus.FAILED and refund.restock:
        for line in (
            await connection.execute(
                select(refund_line_t.c.quantity, order_line_t.c.variant_id)
                .join(order_line_t, order_line_t.c.id == refund_line_t.c.order_line_id)
                .where(refund_line_t.c.refund == refund.id)
            )
        ).all():
            if line.variant_id is not None:
                await put_back(connection, line.variant_id, line.quantity)
    detail = f"{state.id}: {format_chf(refund.amount, 'en')}, {current} → {target}"
    if target == RefundStatus.FAILED and state.failure_reason:
        detail += f" ({state.failure_reason})"
    await record_event(connection, order.id, "refund", source, detail=detail)
    if target == RefundStatus.SUCCEEDED:
        await queue_refunded(connection, order, refund.id, refund.amount)
        paid_out = int(await connection.scalar(_SUCCEEDED, {"payment": payment.id}) or 0)
        status = PaymentStatus(payment.status)
        if paid_out >= payment.amount and PaymentStatus.REFUNDED in PAYMENT_TRANSITIONS[status]:
            await connection.execute(
                update(payment_t).where(payment_t.c.id == payment.id).values(status=PaymentStatus.REFUNDED.value)
            )
            await record_event(
                connection, order.id, "payment", source, detail=f"{payment.intent_id}: {status} → refunded"
            )
    return target


# --- catching up (the reconciler) --------------------------------------------------------------

_UNSETTLED = (
    select(refund_t, payment_t.c.intent_id, payment_t.c.order_id, order_t.c.number)
    .join(payment_t, payment_t.c.id == refund_t.c.payment_id)
    .join(order_t, order_t.c.id == payment_t.c.order_id)
    .where(
        refund_t.c.status.in_([RefundStatus.REQUESTED.value, RefundStatus.PENDING.value]),
        refund_t.c.updated_at < bindparam("before"),
    )
    .order_by(refund_t.c.id)
    .limit(50)
)


async def settle_refunds(database: Database, provider: PaymentProvider) -> dict[str, str]:
    """Refunds Stripe has not settled for a while: ask again (a request that never reached Stripe
    is repeated with its idempotency key) or read how they stand. Refund id → what happened."""
    outcomes: dict[str, str] = {}
    async with database.read() as connection:
        rows = (await connection.execute(_UNSETTLED, {"before": dt.datetime.now(dt.UTC) - RETRY_AFTER})).all()
    for row in rows:
        try:
            if row.refund_id is None:
                outcome = await _ask_provider(database, provider, row, row.intent_id, row.order_id, row.number, True)
                outcomes[f"#{row.id}"] = outcome.status.value
                continue
            state = await provider.retrieve_refund(row.refund_id)
        except PaymentUnavailable:
            outcomes[row.refund_id or f"#{row.id}"] = "payment provider unavailable, next round"
            continue
        async with database.write() as connection:
            status = await apply_refund_in_transaction(connection, state, Source.RECONCILER)
            await connection.execute(
                update(refund_t).where(refund_t.c.id == row.id).values(updated_at=dt.datetime.now(dt.UTC))
            )
        outcomes[row.refund_id] = str(status)
    return outcomes
