"""Every answer under /v1 is Stripe's: JSON in Stripe's error shape whatever the path, method or
body, with `Request-Id` and `Stripe-Version`; and each request is in the request log, as Stripe's
dashboard lists them."""

import httpx
import pytest
import stripe

from storefront.sandbox import objects
from tests.support.sandbox import CONFIRM, PARAMS, PUBLISHABLE_KEY, SECRET_KEY

SECRET = {"Authorization": f"Bearer {SECRET_KEY}"}


def requests_about(sandbox, intent_id: str) -> list[dict]:
    answer = httpx.get(f"{sandbox.url}/control/api/requests", params={"payment_intent": intent_id})
    assert answer.status_code == 200
    return list(reversed(answer.json()["requests"]))  # oldest first


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/nothing_here", None),
        ("DELETE", "/v1/payment_intents", None),
        ("PUT", "/v1/refunds/re_123", None),
        ("PATCH", "/v1/payment_intents/pi_123/confirm", None),
        ("POST", "/v1/payment_intents", "amount[=1&amount]=2"),
    ],
)
def test_every_v1_answer_is_stripe_json_with_its_headers(sandbox, method, path, body):
    answer = httpx.request(
        method,
        sandbox.url + path,
        content=body,
        headers={**SECRET, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert 400 <= answer.status_code < 500
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    assert answer.headers["request-id"].startswith("req_")
    assert answer.headers["stripe-version"] == objects.API_VERSION


def test_stripe_version_is_the_one_the_request_asked_for(sandbox):
    answer = httpx.post(
        f"{sandbox.url}/v1/payment_intents",
        data={"amount": "1000", "currency": "chf", "allowed_payment_method_types[]": "twint"},
        headers={**SECRET, "Stripe-Version": "2026-10-28.endive"},
    )
    assert answer.status_code == 200
    assert answer.headers["stripe-version"] == "2026-10-28.endive"


def test_the_library_meets_an_unknown_endpoint_as_a_stripe_error(client):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.raw_request("get", "/v1/not_an_endpoint")
    assert refused.value.http_status == 404
    assert "Unrecognized request URL" in refused.value.user_message


def test_each_request_is_logged_with_its_key_type_idempotency_key_and_request_id(sandbox, client):
    intent = client.v1.payment_intents.create(params=PARAMS, options={"idempotency_key": "order-1042-pi-1"})
    shown = httpx.get(
        f"{sandbox.url}/v1/payment_intents/{intent.id}",
        params={"client_secret": intent.client_secret, "key": PUBLISHABLE_KEY},
    )
    confirmed = httpx.post(
        f"{sandbox.url}/v1/payment_intents/{intent.id}/confirm",
        data={
            "key": PUBLISHABLE_KEY,
            "client_secret": intent.client_secret,
            "payment_method_data[type]": "twint",
            "return_url": CONFIRM["return_url"],
        },
    )
    assert (shown.status_code, confirmed.status_code) == (200, 200)
    logged = requests_about(sandbox, intent.id)
    assert [(r["method"], r["path"], r["status"], r["key_type"]) for r in logged] == [
        ("POST", "/v1/payment_intents", 200, "secret"),
        ("GET", f"/v1/payment_intents/{intent.id}", 200, "publishable"),
        ("POST", f"/v1/payment_intents/{intent.id}/confirm", 200, "publishable"),
    ]
    assert logged[0]["idempotency_key"] == "order-1042-pi-1"
    assert logged[0]["request_id"] == intent.last_response.request_id
    assert logged[1]["request_id"] == shown.headers["request-id"]
    assert all(r["stripe_version"] for r in logged)


def test_a_refused_request_is_logged_too(sandbox):
    answer = httpx.get(f"{sandbox.url}/v1/payment_intents/pi_missing", headers={"Authorization": "Bearer sk_live_x"})
    assert answer.status_code == 401
    (logged,) = requests_about(sandbox, "pi_missing")
    assert (logged["status"], logged["key_type"], logged["request_id"]) == (401, "secret", answer.headers["request-id"])


def test_the_control_page_lists_the_api_requests(sandbox, client):
    intent = client.v1.payment_intents.create(params=PARAMS)
    page = httpx.get(f"{sandbox.url}/control").text
    assert "API requests" in page
    assert intent.id in page


def test_a_body_the_api_cannot_take_apart_still_gets_stripe_json(sandbox):
    answer = httpx.post(
        f"{sandbox.url}/v1/payment_intents",
        content=b"0=x&1=y",
        headers={**SECRET, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["error"]["type"] == "invalid_request_error"  # unknown parameters 0 and 1
    assert answer.headers["request-id"].startswith("req_")


def test_a_fault_inside_the_sandbox_is_answered_as_stripe_answers_its_own(monkeypatch):
    """Whatever breaks, a client gets Stripe's JSON `api_error`, never a framework page."""
    from litestar.testing import TestClient

    from storefront.sandbox.app import create_sandbox_app

    def broken(_body):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("storefront.sandbox.api.parse_stripe_form", broken)
    with TestClient(app=create_sandbox_app()) as inside:
        answer = inside.post("/v1/payment_intents", data={"amount": "100"}, headers=SECRET)
    assert answer.status_code == 500
    assert answer.json() == {"error": {"message": "An unknown error occurred", "type": "api_error"}}
    assert answer.headers["stripe-version"] == objects.API_VERSION
