"""The development server: without Stripe keys the offline sandbox answers beside the shop on the
same port and the shop is pointed at it through its Stripe settings alone; with keys, or in
production, nothing of the sandbox is there."""

from __future__ import annotations

import dataclasses

import pytest
import stripe
from litestar.testing import TestClient

from storefront.devserver import create_app
from storefront.settings import Settings


@pytest.fixture(autouse=True)
def sandbox_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOREFRONT_SANDBOX_DB", ":memory:")


def test_without_keys_the_sandbox_serves_beside_the_shop_and_the_shop_is_pointed_at_it(settings):
    app = create_app(dataclasses.replace(settings, stripe_webhook_secret=None))
    shop_settings = app.state.shop.settings
    assert shop_settings.stripe_api_base == f"{settings.base_url}/_sandbox"
    assert shop_settings.stripe_js_url == "/_sandbox/js/stripe.js"
    assert shop_settings.stripe_secret_key.startswith("sk_test_")
    with TestClient(app=app) as client:
        created = client.post(
            "/_sandbox/v1/payment_intents",
            data={"amount": "2900", "currency": "chf", "allowed_payment_method_types[]": "twint"},
            headers={"Authorization": f"Bearer {shop_settings.stripe_secret_key}"},
        )
        assert created.status_code == 200, created.text
        assert created.json()["object"] == "payment_intent"
        # The request log sees the API's own answer, though the shop's server compresses it.
        logged = client.get("/_sandbox/control/api/requests").json()["requests"]
        assert [(r["path"], r["payment_intent"]) for r in logged] == [("/v1/payment_intents", created.json()["id"])]
        assert client.get("/_sandbox/js/stripe.js").headers["content-type"].startswith("application/javascript")
        page = client.get("/en/")
        assert page.status_code == 200
        assert "script-src 'self';" in page.headers["content-security-policy"]  # Stripe.js comes from this origin


def test_the_shop_verifies_webhooks_with_the_sandboxs_own_secret(settings):
    app = create_app(dataclasses.replace(settings, stripe_webhook_secret=None))
    with TestClient(app=app) as client:
        state = client.get("/_sandbox/control/api/state").json()
    assert state["webhook_endpoint"]["url"] == f"{settings.base_url}/webhooks/stripe"
    assert state["webhook_endpoint"]["secret"] == app.state.shop.settings.stripe_webhook_secret


def test_behind_a_proxy_the_shop_calls_the_sandbox_inside_and_sends_customers_to_the_public_address(
    settings, monkeypatch
):
    """Behind a TLS proxy (make prod-local) the workers call the sandbox and receive its webhooks
    at their own address, while TWINT's page is where the customer's browser can go."""
    monkeypatch.setenv("STOREFRONT_SANDBOX_INTERNAL_URL", "http://127.0.0.1:9001")
    public = dataclasses.replace(settings, base_url="https://shop.example.ch", stripe_webhook_secret=None)
    app = create_app(public)
    shop_settings = app.state.shop.settings
    assert shop_settings.stripe_api_base == "http://127.0.0.1:9001/_sandbox"
    with TestClient(app=app, base_url="http://127.0.0.1:9001") as client:
        assert client.get("/_sandbox/control/api/state").json()["webhook_endpoint"]["url"] == (
            "http://127.0.0.1:9001/webhooks/stripe"
        )
        confirmed = client.post(
            "/_sandbox/v1/payment_intents",
            data={
                "amount": "2900",
                "currency": "chf",
                "allowed_payment_method_types[]": "twint",
                "payment_method_data[type]": "twint",
                "confirm": "true",
                "return_url": "https://shop.example.ch/en/orders/x",
            },
            headers={"Authorization": f"Bearer {shop_settings.stripe_secret_key}"},
        )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["next_action"]["redirect_to_url"]["url"].startswith(
        "https://shop.example.ch/_sandbox/twint/"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"stripe_secret_key": "sk_test_" + "a" * 24, "stripe_publishable_key": "pk_test_" + "a" * 24},
    ],
)
def test_with_stripe_keys_nothing_of_the_sandbox_is_reachable(settings, change):
    app = create_app(dataclasses.replace(settings, **change))
    assert app.state.shop.settings.stripe_api_base == "https://api.stripe.com"
    with TestClient(app=app) as client:
        for path in ("/_sandbox/js/stripe.js", "/_sandbox/control", "/_sandbox/control/api/state"):
            assert client.get(path).status_code == 404, path
        assert client.post("/_sandbox/v1/payment_intents", data={"amount": "100"}).status_code in {403, 404}
        assert "js.stripe.com" in client.get("/en/").headers["content-security-policy"]


def test_the_shops_assets_hold_nothing_of_the_sandbox(settings):
    app = create_app(settings)
    assert not [name for name in app.state.shop.assets.urls if "sandbox" in name or name.endswith("stripe.js")]


def test_production_is_the_shop_alone():
    settings = Settings(
        env="production",
        secure_cookies=True,
        base_url="https://shop.example.ch",
        stripe_secret_key="sk_live_" + "a" * 24,
        stripe_publishable_key="pk_live_" + "a" * 24,
        stripe_webhook_secret="whsec_" + "a" * 24,
    )
    app = create_app(settings)
    assert not [route.path for route in app.routes if route.path.startswith("/_sandbox")]
    assert stripe.api_key is None  # the shop's client carries its key; nothing global is set
