"""The sandbox as its own ASGI app (`python -m storefront.sandbox serve`), or as a router that a
development server places beside the shop under `/_sandbox`. It imports nothing of the shop: the
shop reaches it over HTTP, exactly as it reaches Stripe."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State

from storefront.sandbox.account import SandboxAccount
from storefront.sandbox.api import SandboxApi
from storefront.sandbox.control import SandboxControl
from storefront.sandbox.pages import SandboxPages
from storefront.sandbox.store import SandboxStore
from storefront.sandbox.webhooks import WebhookSender, configure_endpoint

MOUNT_PATH = "/_sandbox"
SECRET_KEY = "sk_test_storefront_sandbox"  # noqa: S105 - any sk_test_… key is the sandbox's account
PUBLISHABLE_KEY = "pk_test_storefront_sandbox"


def sandbox_router(
    store: SandboxStore, mount_path: str = MOUNT_PATH, merchant: str = "Storefront", public_url: str | None = None
) -> Router:
    account = SandboxAccount(store)
    return Router(
        path=mount_path or "/",
        route_handlers=[
            SandboxApi(account, mount_path, public_url).router(),
            SandboxPages(account, mount_path, merchant).router(),
            SandboxControl(store, mount_path).router(),
        ],
        # Stripe's API authenticates by key and its pages by token; there are no cookies to protect.
        opt={"exclude_from_csrf": True},
        include_in_schema=False,
    )


def background_work(store: SandboxStore) -> WebhookSender:
    """What every process serving the sandbox runs on its own: webhook deliveries and refunds settling."""
    return WebhookSender(store, chores=[SandboxAccount(store).settle_due_refunds])


def create_sandbox_app(
    store_path: Path | str = ":memory:",
    merchant: str = "Storefront",
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
) -> Litestar:
    store = SandboxStore(store_path)
    if webhook_url:
        configure_endpoint(store, webhook_url, webhook_secret)
    sender = background_work(store)
    return Litestar(
        route_handlers=[sandbox_router(store, mount_path="", merchant=merchant)],
        # Stripe's API answers any origin: Stripe.js calls it from the shop's pages.
        cors_config=CORSConfig(allow_origins=["*"], allow_methods=["GET", "POST"]),
        on_startup=[sender.start],
        on_shutdown=[sender.stop, store.close],
        state=State({"sandbox_store": store, "sandbox_sender": sender}),
    )
