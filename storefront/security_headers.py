"""The security headers every response of the shop carries: a Content-Security-Policy that allows
only the shop's own origin plus Stripe.js and Stripe's API, no sniffing, no framing, and HSTS in
production. Added by a hook on each app's own sends, from that app's settings, so two apps with
different settings in one process (as in the tests) never share them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar.enums import ScopeType
from litestar.types import BeforeMessageSendHookHandler, Message, Scope

from storefront.settings import Settings

SELF = "'self'"
STRIPE_API_ORIGIN = "https://api.stripe.com"
STRIPE_REDIRECTS = "https://hooks.stripe.com"


def _origin(url: str) -> str | None:
    """The origin of an absolute address; None for a path on this shop."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else None


def content_security_policy(settings: Settings) -> str:
    """Our origin only, plus Stripe.js and Stripe's API for the TWINT hand-off (docs/payments.md,
    "Stripe.js and the Content-Security-Policy")."""
    stripe_js_origin = _origin(settings.stripe_js_url)
    stripe_js = " ".join(filter(None, [SELF, stripe_js_origin]))
    stripe_api = " ".join(dict.fromkeys(filter(None, [SELF, _origin(settings.stripe_api_base)])))
    # Without JavaScript the pay form posts to the shop, which answers with a redirect to TWINT;
    # browsers check form-action on that redirect too. Stripe's redirect pages are on
    # hooks.stripe.com (https://docs.stripe.com/payments/payment-intents/verifying-status); the
    # offline sandbox serves its own on the shop's origin.
    twint_redirect = STRIPE_REDIRECTS if _origin(settings.stripe_api_base) == STRIPE_API_ORIGIN else None
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {stripe_js}",
            f"frame-src {stripe_js_origin or SELF}",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {stripe_api}",
            " ".join(filter(None, ["form-action 'self'", twint_redirect])),
            "base-uri 'none'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    headers = {
        "content-security-policy": content_security_policy(settings),
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
        "cross-origin-opener-policy": "same-origin",
        "x-frame-options": "DENY",
    }
    if settings.production:
        headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"
    return [(name.encode(), value.encode()) for name, value in headers.items()]


def add_security_headers(headers: list[tuple[bytes, bytes]]) -> BeforeMessageSendHookHandler:
    """A hook on every message the app sends, so that every response carries `headers`: pages,
    assets, and the errors Litestar answers before any route or middleware runs (no such page,
    method not allowed, a refused CSRF token, a body too large). A response that sets one of them
    itself keeps its own (a page may choose a stricter Referrer-Policy, for example)."""

    async def hook(message: Message, scope: Scope) -> None:
        if scope["type"] == ScopeType.HTTP and message["type"] == "http.response.start":
            given: list[Any] = list(message.get("headers", []))
            present = {bytes(name).lower() for name, _value in given}
            given.extend(header for header in headers if header[0] not in present)
            message["headers"] = given

    return hook
