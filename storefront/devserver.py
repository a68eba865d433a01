"""The development server: the shop and the offline Stripe sandbox on one port, so `make run`
needs no Stripe account and no internet. It is the only module that knows both: it starts the
sandbox, points the shop's Stripe settings at it (API base, Stripe.js, keys, webhook secret) and
serves the sandbox under `/_sandbox`. The shop then reaches the sandbox over HTTP, exactly as it
reaches Stripe. With Stripe keys set, or in production, it is just the shop."""

from __future__ import annotations

import dataclasses
import os

from litestar import Litestar

from storefront.app import create_app as create_shop_app
from storefront.sandbox.app import MOUNT_PATH, PUBLISHABLE_KEY, SECRET_KEY, background_work, sandbox_router
from storefront.sandbox.store import SandboxStore
from storefront.sandbox.webhooks import configure_endpoint
from storefront.settings import VAR_DIR, Settings

SANDBOX_DB_VARIABLE = "STOREFRONT_SANDBOX_DB"  # where the sandbox keeps its state; ':memory:' for none
# Behind a proxy whose certificate the workers do not trust (make prod-local), the workers reach
# the sandbox, and the sandbox sends its webhooks, at this address of the workers themselves.
INTERNAL_URL_VARIABLE = "STOREFRONT_SANDBOX_INTERNAL_URL"


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    if settings.stripe_secret_key is not None or settings.production:
        return create_shop_app(settings)
    store = SandboxStore(os.environ.get(SANDBOX_DB_VARIABLE) or str(VAR_DIR / "sandbox.sqlite"))
    # The sandbox's webhooks come to this shop (QA may point them elsewhere until the next start);
    # the endpoint keeps its whsec_ secret across restarts.
    internal_url = os.environ.get(INTERNAL_URL_VARIABLE)
    internal = (internal_url or settings.base_url).rstrip("/")
    endpoint = configure_endpoint(store, f"{internal}/webhooks/stripe")
    app = create_shop_app(
        dataclasses.replace(
            settings,
            stripe_secret_key=SECRET_KEY,
            stripe_publishable_key=PUBLISHABLE_KEY,
            stripe_webhook_secret=endpoint["secret"],
            stripe_api_base=f"{internal}{MOUNT_PATH}",
            stripe_js_url=f"{MOUNT_PATH}/js/stripe.js",
        )
    )
    # TWINT's page is for the customer's browser: behind a proxy, at the shop's public address.
    public_url = settings.base_url if internal_url else None
    app.register(sandbox_router(store, MOUNT_PATH, merchant=settings.shop_name, public_url=public_url))
    sender = background_work(store)
    app.on_startup.append(sender.start)
    app.on_shutdown[:0] = [sender.stop, store.close]
    return app
