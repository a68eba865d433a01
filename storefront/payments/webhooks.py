"""Stripe's webhooks: verified on the raw body, each event id recorded in the transaction that
applies it (a redelivery changes nothing), handed to the order lifecycle, and answered 5xx
whenever the change could not be made, so Stripe delivers it again (docs/payments.md, "Webhooks")."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import stripe
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from storefront.db import Database
from storefront.orders.lifecycle import apply_in_transaction
from storefront.payments.gateway import intent_state
from storefront.payments.models import ProcessedEvent
from storefront.tables import table_of

logger = logging.getLogger("storefront.payments")
event_t = table_of(ProcessedEvent)

PAYMENT_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.requires_action",
        "payment_intent.processing",
    }
)


@dataclass(frozen=True, slots=True)
class WebhookAnswer:
    status_code: int
    message: str


def _record_event(database: Database) -> Insert:
    insert = sqlite.insert if database.sqlite else postgresql.insert
    return insert(event_t).on_conflict_do_nothing(index_elements=["event_id"])


async def handle_stripe_event(
    database: Database, payload: bytes, signature: str | None, secret: str, environment: str
) -> WebhookAnswer:
    if not secret:
        logger.error("webhook refused: no STRIPE_WEBHOOK_SECRET is set, so no event can be verified")
        return WebhookAnswer(500, "webhook secret not configured")
    try:
        event = stripe.Webhook.construct_event(payload.decode("utf-8"), signature or "", secret)
    except (ValueError, UnicodeDecodeError, stripe.SignatureVerificationError) as error:
        logger.warning("webhook refused: %s", type(error).__name__)  # never the payload
        return WebhookAnswer(400, "signature verification failed")
    if event.type not in PAYMENT_EVENTS:
        return WebhookAnswer(200, f"ignored {event.type}")
    intent: stripe.PaymentIntent = event.data.object
    state = intent_state(intent)
    metadata = intent.to_dict().get("metadata") or {}
    if metadata.get("environment") not in (None, environment) or state.order_id is None:
        return WebhookAnswer(200, "not a payment of this shop")
    try:
        async with database.write() as connection:
            recorded = await connection.execute(
                _record_event(database).values(
                    event_id=event.id, type=event.type, order_id=state.order_id, received_at=dt.datetime.now(dt.UTC)
                )
            )
            if recorded.rowcount == 0:
                return WebhookAnswer(200, "already processed")
            applied = await apply_in_transaction(connection, state)
    except Exception:
        logger.exception("webhook %s for order %s could not be applied; Stripe will retry", event.id, state.order_id)
        return WebhookAnswer(500, "not applied, retry later")
    logger.info(
        "webhook %s %s: order %s %s%s",
        event.id,
        event.type,
        state.order_id,
        applied.status,
        f" ({applied.note})" if applied.note else "",
    )
    return WebhookAnswer(200, "ok")
