"""Stripe's webhooks: verified on the raw body, each event id recorded in the transaction that
applies it (a redelivery changes nothing), handed to the order lifecycle, and answered 5xx
whenever the change could not be made, so Stripe delivers it again (docs/payments.md, "Webhooks")."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, cast

import stripe
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from storefront.db import Database
from storefront.orders.lifecycle import UnknownPayment, apply_in_transaction
from storefront.orders.provider import PaymentUnavailable
from storefront.orders.refunds import apply_refund_in_transaction
from storefront.orders.timeline import Source
from storefront.orders.views import order_id_of_intent
from storefront.payments.gateway import StripeGateway, intent_state, refund_state
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
REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed"})


@dataclass(frozen=True, slots=True)
class WebhookAnswer:
    status_code: int
    message: str


def _record_event(database: Database) -> Insert:
    insert = sqlite.insert if database.sqlite else postgresql.insert
    return insert(event_t).on_conflict_do_nothing(index_elements=["event_id"])


def _well_formed(event: dict[str, Any]) -> bool:
    """An event as Stripe sends them: an id, a type, and the object it is about, which has an id."""
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    return (
        isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(obj, dict)
        and isinstance(obj.get("id"), str)
    )


async def handle_stripe_event(
    database: Database, gateway: StripeGateway, payload: bytes, signature: str | None, secret: str
) -> WebhookAnswer:
    environment = gateway.environment
    if not secret:
        logger.error("webhook refused: no STRIPE_WEBHOOK_SECRET is set, so no event can be verified")
        return WebhookAnswer(500, "webhook secret not configured")
    try:
        event = stripe.Webhook.construct_event(payload.decode("utf-8"), signature or "", secret)
    except (ValueError, UnicodeDecodeError, stripe.SignatureVerificationError) as error:
        logger.warning("webhook refused: %s", type(error).__name__)  # never the payload
        return WebhookAnswer(400, "signature verification failed")
    except (TypeError, AttributeError, KeyError):
        # The signature held (it is checked first), but the body is JSON that is not an object.
        event = None
    if event is None or not _well_formed(event.to_dict()):
        # Signed, so Stripe's (or a key holder's): a retry would not make it readable.
        logger.warning("webhook refused: a signed event without its id, type or object")
        return WebhookAnswer(400, "malformed event")
    if event.type in REFUND_EVENTS or event.type == "charge.refunded":
        return await _handle_refund_event(database, event, gateway)
    if event.type not in PAYMENT_EVENTS:
        return WebhookAnswer(200, f"ignored {event.type}")
    intent: stripe.PaymentIntent = event.data.object
    try:
        state = intent_state(intent)
    except (AttributeError, KeyError, TypeError, ValueError):
        logger.warning("webhook %s refused: its PaymentIntent lacks fields the shop reads", event.id)
        return WebhookAnswer(400, "malformed event")
    metadata = intent.to_dict().get("metadata") or {}
    if metadata.get("environment") not in (None, environment):
        logger.warning(
            "webhook %s %s: PaymentIntent %s belongs to the %s environment; ignored",
            event.id,
            event.type,
            state.id,
            str(metadata.get("environment"))[:20],
        )
        return WebhookAnswer(200, "not a payment of this shop")
    try:
        async with database.write() as connection:
            recorded = await connection.execute(
                _record_event(database).values(
                    event_id=event.id, type=event.type, order_id=None, received_at=dt.datetime.now(dt.UTC)
                )
            )
            if recorded.rowcount == 0:
                return WebhookAnswer(200, "already processed")
            applied = await apply_in_transaction(connection, state, Source.WEBHOOK)
            # the order the shop's records name, not the metadata's
            await connection.execute(
                update(event_t).where(event_t.c.event_id == event.id).values(order_id=applied.order_id)
            )
    except UnknownPayment:
        # Another shop or database on the same Stripe account: answered, so Stripe stops sending it.
        logger.warning(
            "webhook %s %s: PaymentIntent %s is not one of this shop's payments; ignored",
            event.id,
            event.type,
            state.id,
        )
        return WebhookAnswer(200, "not a payment of this shop")
    except Exception:
        logger.exception("webhook %s for %s could not be applied; Stripe will retry", event.id, state.id)
        return WebhookAnswer(500, "not applied, retry later")
    logger.info(
        "webhook %s %s: order %s %s%s",
        event.id,
        event.type,
        applied.order_id,
        applied.status,
        f" ({applied.note})" if applied.note else "",
    )
    return WebhookAnswer(200, "ok")


async def _handle_refund_event(database: Database, event: stripe.Event, gateway: StripeGateway) -> WebhookAnswer:
    """A refund, the shop's own or one made in Stripe's dashboard. `refund.*` events carry the
    refund; `charge.refunded` only says that the charge's refunds changed, so it is a reason to
    read them from Stripe (https://docs.stripe.com/api/events/types#event_types-charge.refunded)."""
    data = event.data.object.to_dict()
    try:
        if event.type == "charge.refunded":
            intent_id = data.get("payment_intent")
            if not isinstance(intent_id, str) or await order_id_of_intent(database, intent_id) is None:
                return WebhookAnswer(200, "not a payment of this shop")
            states = await gateway.refunds_of(intent_id)
        else:
            states = [refund_state(cast(stripe.Refund, event.data.object))]
    except PaymentUnavailable:
        return WebhookAnswer(503, "Stripe unavailable, retry later")
    try:
        async with database.write() as connection:
            recorded = await connection.execute(
                _record_event(database).values(
                    event_id=event.id, type=event.type, order_id=None, received_at=dt.datetime.now(dt.UTC)
                )
            )
            if recorded.rowcount == 0:
                return WebhookAnswer(200, "already processed")
            outcomes = [await apply_refund_in_transaction(connection, state, Source.WEBHOOK) for state in states]
    except Exception:
        logger.exception("webhook %s (%s) could not be applied; Stripe will retry", event.id, event.type)
        return WebhookAnswer(500, "not applied, retry later")
    if all(outcome is None for outcome in outcomes):
        return WebhookAnswer(200, "not a payment of this shop")
    logger.info("webhook %s %s: refunds %s", event.id, event.type, [str(o) for o in outcomes])
    return WebhookAnswer(200, "ok")
