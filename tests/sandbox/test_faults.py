"""The API fault switches as the stripe library meets them, and the other controls."""

import threading
import time

import httpx
import pytest
import stripe

from storefront.sandbox.faults import set_switches
from storefront.sandbox.store import SandboxStore
from tests.support.sandbox import CONFIRM, PARAMS, SECRET_KEY


def test_the_next_calls_answer_500_then_the_api_recovers(client, sandbox):
    set_switches(sandbox.store, api_fault="error_500", api_fault_count=2)
    for _ in range(2):
        with pytest.raises(stripe.APIError) as caught:
            client.v1.payment_intents.create(params=PARAMS)
        assert caught.value.http_status == 500
    assert client.v1.payment_intents.create(params=PARAMS).status == "requires_payment_method"


def test_the_library_retries_a_500_with_the_same_idempotency_key_and_creates_one_intent(sandbox):
    set_switches(sandbox.store, api_fault="error_500", api_fault_count=1)
    retrying = stripe.StripeClient(SECRET_KEY, base_addresses={"api": sandbox.url}, max_network_retries=2)
    intent = retrying.v1.payment_intents.create(params=PARAMS, options={"idempotency_key": "faults-order-1-pi-1"})
    again = retrying.v1.payment_intents.create(params=PARAMS, options={"idempotency_key": "faults-order-1-pi-1"})
    assert again.id == intent.id
    assert len(sandbox.events_for(intent.id)) == 1


@pytest.mark.parametrize(("fault", "should_retry"), [("rate_limit", None), ("rate_limit_retry", "true")])
def test_rate_limits_with_and_without_stripe_should_retry(sandbox, fault, should_retry):
    set_switches(sandbox.store, api_fault=fault, api_fault_count=1)
    response = httpx.post(
        f"{sandbox.url}/v1/payment_intents",
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        data={"amount": "4990", "currency": "chf"},
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limit"
    assert response.headers.get("stripe-should-retry") == should_retry


def test_a_rate_limit_reaches_the_library_as_a_rate_limit_error(client, sandbox):
    set_switches(sandbox.store, api_fault="rate_limit", api_fault_count=1)
    with pytest.raises(stripe.RateLimitError):
        client.v1.payment_intents.create(params=PARAMS)


def test_a_hang_outlasts_the_clients_timeout(sandbox):
    set_switches(sandbox.store, api_fault="hang", api_fault_count=1, hang_s=2)
    impatient = stripe.StripeClient(
        SECRET_KEY, base_addresses={"api": sandbox.url}, http_client=stripe.RequestsClient(timeout=0.3)
    )
    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.payment_intents.create(params=PARAMS)


def test_a_reset_connection_is_a_connection_error(client, sandbox):
    set_switches(sandbox.store, api_fault="reset", api_fault_count=1)
    with pytest.raises(stripe.APIConnectionError):
        client.v1.payment_intents.create(params=PARAMS)


def test_the_same_key_while_the_first_request_is_still_running_is_409(sandbox):
    from storefront.sandbox.api import request_fingerprint

    form = {"amount": "4990", "currency": "chf"}
    # Another worker is still running the first request with this key.
    state, _status, _body = sandbox.store.begin_idempotent(
        "in-flight-key", request_fingerprint("POST", "/v1/payment_intents", form)
    )
    assert state == "new"
    response = httpx.post(
        f"{sandbox.url}/v1/payment_intents",
        data=form,
        headers={"Authorization": f"Bearer {SECRET_KEY}", "Idempotency-Key": "in-flight-key"},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_use"
    sandbox.store.finish_idempotent("in-flight-key", None, None)


def test_a_customer_who_never_comes_back_has_paid(client, sandbox):
    from storefront.sandbox.account import redirect_token

    set_switches(sandbox.store, customer_never_returns=True)
    intent = client.v1.payment_intents.create(params=PARAMS)
    client.v1.payment_intents.confirm(intent.id, params=CONFIRM)
    stored = sandbox.store.get(intent.id, "payment_intent")
    page = httpx.post(f"{sandbox.url}/twint/{intent.id}", data={"token": redirect_token(stored), "action": "authorize"})
    assert page.status_code == 200  # no redirect back to the shop
    assert "without returning" in page.text
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_the_twint_page_refuses_a_wrong_token(client, sandbox):
    intent = client.v1.payment_intents.create(params=PARAMS)
    client.v1.payment_intents.confirm(intent.id, params=CONFIRM)
    assert httpx.get(f"{sandbox.url}/twint/{intent.id}", params={"token": "guess"}).status_code == 404
    assert (
        httpx.post(f"{sandbox.url}/twint/{intent.id}", data={"token": "guess", "action": "authorize"}).status_code
        == 404
    )
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_action"


def test_the_control_page_and_its_api(sandbox):
    page = httpx.get(f"{sandbox.url}/control")
    assert page.status_code == 200
    assert "Deliver every event twice" in page.text
    changed = httpx.post(f"{sandbox.url}/control/api/switches", json={"webhook_duplicate": True, "webhook_delay_s": 2})
    assert changed.status_code == 200
    assert changed.json()["webhook_duplicate"] is True
    assert httpx.get(f"{sandbox.url}/control/api/state").json()["switches"]["webhook_delay_s"] == 2
    refused = httpx.post(f"{sandbox.url}/control/api/switches", json={"api_fault": "explode"})
    assert refused.status_code == 400
    not_json = httpx.post(f"{sandbox.url}/control/api/switches", data={"webhook_duplicate": "1"})
    assert not_json.status_code in {400, 415}


@pytest.mark.parametrize("path", ["switches", "webhook-endpoint", "release-held"])
def test_the_control_api_takes_no_post_another_site_could_send(sandbox, path):
    """A page elsewhere can send text/plain or a form without asking first; only JSON, which a
    browser sends across sites only after a CORS preflight, is taken."""
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        sent = httpx.post(f"{sandbox.url}/control/api/{path}", content=b"{}", headers={"Content-Type": content_type})
        assert sent.status_code == 415, (path, content_type)


def test_the_control_form_refuses_posts_from_another_site(sandbox):
    before = httpx.get(f"{sandbox.url}/control/api/state").json()["switches"]
    forged = httpx.post(
        f"{sandbox.url}/control",
        data={"webhook_duplicate": "on", "webhook_drop": "all"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status_code == 403
    assert httpx.get(f"{sandbox.url}/control/api/state").json()["switches"] == before


def test_the_control_form_sets_switches(sandbox):
    response = httpx.post(
        f"{sandbox.url}/control",
        data={
            "webhook_delay_s": "1.5",
            "webhook_drop": "on_demand",
            "api_fault": "error_500",
            "api_fault_count": "3",
            "hang_s": "10",
            "webhook_out_of_order": "on",
        },
    )
    assert response.status_code == 303
    state = httpx.get(f"{sandbox.url}/control/api/state").json()["switches"]
    assert (state["webhook_delay_s"], state["webhook_drop"], state["api_fault"], state["api_fault_count"]) == (
        1.5,
        "on_demand",
        "error_500",
        3,
    )
    assert state["webhook_out_of_order"] is True and state["webhook_duplicate"] is False


def test_basic_auth_with_the_secret_key_is_accepted(sandbox):
    response = httpx.post(
        f"{sandbox.url}/v1/payment_intents", auth=(SECRET_KEY, ""), data={"amount": "4990", "currency": "chf"}
    )
    assert response.status_code == 200


def test_state_survives_a_restart(tmp_path):
    path = tmp_path / "sandbox.sqlite"
    first = SandboxStore(path)
    from storefront.sandbox.account import SandboxAccount
    from storefront.sandbox.base import Call

    intent = SandboxAccount(first).create_payment_intent({"amount": "4990", "currency": "chf"}, Call(request_id="r"))
    first.close()
    second = SandboxStore(path)
    assert second.get(intent["id"], "payment_intent")["amount"] == 4990
    second.close()


def test_several_writers_share_one_sandbox_file(tmp_path):
    path = tmp_path / "shared.sqlite"
    from storefront.sandbox.account import SandboxAccount
    from storefront.sandbox.base import Call

    def create(n: int) -> None:
        account = SandboxAccount(SandboxStore(path))
        for _ in range(n):
            account.create_payment_intent({"amount": "4990", "currency": "chf"}, Call(request_id="r"))

    threads = [threading.Thread(target=create, args=(10,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = SandboxStore(path).events()
    assert len(events) == 40


def test_one_intents_next_calls_fail_and_every_other_intent_is_served(sandbox):
    quiet = stripe.StripeClient(SECRET_KEY, base_addresses={"api": sandbox.url}, max_network_retries=0)
    troubled = quiet.v1.payment_intents.create(params=PARAMS)
    other = quiet.v1.payment_intents.create(params=PARAMS)
    answer = httpx.post(
        f"{sandbox.url}/control/api/intents/{troubled.id}/switches",
        json={"api_fault": "error_500", "api_fault_count": 2},
    )
    assert (answer.status_code, answer.json()["api_fault"]) == (200, "error_500")
    assert quiet.v1.payment_intents.retrieve(other.id).id == other.id
    for _ in range(2):
        with pytest.raises(stripe.APIError):
            quiet.v1.payment_intents.retrieve(troubled.id)
    assert quiet.v1.payment_intents.retrieve(troubled.id).id == troubled.id  # the two calls are spent
    assert httpx.get(f"{sandbox.url}/control/api/state").json()["switches"]["api_fault"] == "none"


def test_one_intents_webhooks_are_dropped_while_the_others_arrive(client, sandbox, receiver):
    dropped = client.v1.payment_intents.create(params=PARAMS)
    answer = httpx.post(f"{sandbox.url}/control/api/intents/{dropped.id}/switches", json={"webhook_drop": "all"})
    assert answer.status_code == 200
    client.v1.payment_intents.confirm(dropped.id, params=CONFIRM)
    delivered = client.v1.payment_intents.create(params=PARAMS)
    events = receiver.wait_for(2)
    time.sleep(0.3)
    about = [event["data"]["object"]["id"] for event in receiver.events()]
    assert delivered.id in about
    assert about.count(dropped.id) == 1  # only its payment_intent.created, sent before the switch
    assert {e["type"] for e in events if e["data"]["object"]["id"] == dropped.id} == {"payment_intent.created"}


def test_an_intents_switches_take_json_only_and_known_names(sandbox):
    path = f"{sandbox.url}/control/api/intents/pi_123/switches"
    assert httpx.post(path, content=b"{}", headers={"Content-Type": "text/plain"}).status_code == 415
    assert httpx.post(path, json={"customer_never_returns": True}).status_code == 400
    assert httpx.post(path, json={"webhook_drop": "sometimes"}).status_code == 400


def test_an_intents_hang_lasts_as_long_as_its_own_switch_says(sandbox, client):
    intent = client.v1.payment_intents.create(params=PARAMS)
    set_switches(sandbox.store, hang_s=30)  # the global hang would outlast the client
    httpx.post(
        f"{sandbox.url}/control/api/intents/{intent.id}/switches",
        json={"api_fault": "hang", "api_fault_count": 1, "hang_s": 0.2},
    )
    started = time.monotonic()
    answer = httpx.get(
        f"{sandbox.url}/v1/payment_intents/{intent.id}", headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=10
    )
    assert 0.2 <= time.monotonic() - started < 10
    assert answer.json()["error"]["type"] == "api_error"
