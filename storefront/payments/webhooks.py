"""Stripe's webhooks: verified on the raw body, each event id recorded in the transaction that
applies it (a redelivery changes nothing), applied through `apply_payment_state`'s rules, and
answered 5xx whenever the change could not be made, so Stripe delivers it again."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import stripe
from sqlalchemy.dialects import postgresql, sqlite

from storefront.db import Database
from storefront.orders.models import ProcessedEvent
from storefront.payments.service import apply_in_transaction

logger = logging.getLogger("storefront.payments")
event_t = ProcessedEvent.__table__

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


def _record_event(database: Database):
    insert = sqlite.insert if database.sqlite else postgresql.insert
    return insert(event_t).on_conflict_do_nothing(index_elements=["event_id"])


async def handle_stripe_event(
    database: Database, payload: bytes, signature: str | None, secret: str, environment: str
) -> WebhookAnswer:
    try:
        event = stripe.Webhook.construct_event(payload.decode("utf-8"), signature or "", secret)
    except (ValueError, UnicodeDecodeError, stripe.SignatureVerificationError) as error:
        logger.warning("webhook refused: %s", type(error).__name__)  # never the payload
        return WebhookAnswer(400, "signature verification failed")
    if event.type not in PAYMENT_EVENTS:
        return WebhookAnswer(200, f"ignored {event.type}")
    intent = event.data.object.to_dict()
    metadata = intent.get("metadata") or {}
    if metadata.get("environment") not in (None, environment) or not str(metadata.get("order_id", "")).isdigit():
        return WebhookAnswer(200, "not a payment of this shop")
    order_id = int(metadata["order_id"])
    try:
        async with database.write() as connection:
            recorded = await connection.execute(
                _record_event(database).values(
                    event_id=event.id, type=event.type, order_id=order_id, received_at=dt.datetime.now(dt.UTC)
                )
            )
            if recorded.rowcount == 0:
                return WebhookAnswer(200, "already processed")
            applied = await apply_in_transaction(connection, order_id, intent)
    except Exception:
        logger.exception("webhook %s for order %s could not be applied; Stripe will retry", event.id, order_id)
        return WebhookAnswer(500, "not applied, retry later")
    logger.info(
        "webhook %s %s: order %s %s%s",
        event.id,
        event.type,
        order_id,
        applied.status,
        f" ({applied.note})" if applied.note else "",
    )
    return WebhookAnswer(200, "ok")
