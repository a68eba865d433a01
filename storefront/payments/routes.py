"""Stripe's webhook endpoint (`POST /webhooks/stripe`): no CSRF token, a Stripe signature instead."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency

from storefront.payments.webhooks import handle_stripe_event
from storefront.shop import Shop

WEBHOOK_MAX_BODY_BYTES = 1024 * 1024  # events carry whole objects; Stripe's are well below this


@post(
    "/webhooks/stripe",
    name="stripe_webhook",
    status_code=200,
    include_in_schema=False,
    opt={"exclude_from_csrf": True},
    request_max_body_size=WEBHOOK_MAX_BODY_BYTES,
)
async def stripe_webhook(request: Request[Any, Any, Any], shop: NamedDependency[Shop]) -> Response[dict[str, str]]:
    answer = await handle_stripe_event(
        shop.database,
        shop.payments,
        await request.body(),
        request.headers.get("stripe-signature"),
        shop.settings.stripe_webhook_secret or "",
    )
    return Response({"message": answer.message}, status_code=answer.status_code, headers={"Cache-Control": "no-store"})
