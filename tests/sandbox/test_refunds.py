"""Refunds through the official library, as Stripe runs them: created pending, settled a little
later (or failed), full or partial, never more than was paid, and only within TWINT's 180 days."""

import time

import httpx
import pytest
import stripe

from storefront.sandbox.faults import set_switches
from tests.support.sandbox import CONFIRM, PARAMS
from tests.support.schema import problems


@pytest.fixture(autouse=True)
def refunds_settle_within_the_test(sandbox):
    """A refund still pending when a test ends would settle during the next one and send it events."""
    yield
    deadline = time.monotonic() + 10
    while sandbox.store.rows("SELECT count(*) FROM refund_due")[0][0] and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def paid_intent(client, sandbox):
    intent = client.v1.payment_intents.create(params=PARAMS)
    client.v1.payment_intents.confirm(intent.id, params=CONFIRM)
    sandbox.authorize(intent.id)
    return client.v1.payment_intents.retrieve(intent.id)


def settled(client, refund_id: str, seconds: float = 5) -> stripe.Refund:
    """The refund once Stripe (the sandbox's background work) has settled it."""
    deadline = time.monotonic() + seconds
    while (refund := client.v1.refunds.retrieve(refund_id)).status == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    return refund


def kinds_of(sandbox, object_id: str) -> list[str]:
    return [e["type"] for _seq, e in sandbox.store.events() if e["data"]["object"]["id"] == object_id]


def test_partial_refunds_are_pending_then_settle_and_never_exceed_the_amount(client, sandbox, paid_intent):
    set_switches(sandbox.store, refund_delay_s=0.2)
    first = client.v1.refunds.create(
        params={"payment_intent": paid_intent.id, "amount": 1000, "reason": "requested_by_customer"}
    )
    assert isinstance(first, stripe.Refund)
    assert (first.status, first.amount, first.currency, first.charge, first.reason) == (
        "pending",
        1000,
        "chf",
        paid_intent.latest_charge,
        "requested_by_customer",
    )
    rest = client.v1.refunds.create(params={"payment_intent": paid_intent.id})
    assert (rest.status, rest.amount) == ("pending", 3990)
    with pytest.raises(stripe.InvalidRequestError) as caught:  # the pending ones count already
        client.v1.refunds.create(params={"payment_intent": paid_intent.id, "amount": 1})
    assert caught.value.code == "charge_already_refunded"
    assert settled(client, first.id).status == "succeeded"
    assert settled(client, rest.id).status == "succeeded"
    charge = sandbox.account.retrieve("charge", paid_intent.latest_charge)
    assert (charge["amount_refunded"], charge["refunded"]) == (4990, True)
    assert kinds_of(sandbox, first.id) == ["refund.created", "refund.updated"]
    assert kinds_of(sandbox, paid_intent.latest_charge) == ["charge.succeeded", "charge.refunded", "charge.refunded"]
    settling = [e for _seq, e in sandbox.store.events() if e["data"]["object"]["id"] == first.id]
    assert settling[1]["request"]["id"] is None  # no API request caused it
    assert settling[1]["data"]["previous_attributes"] == {"status": "pending"}


def test_a_refund_can_be_made_to_fail_once(client, sandbox, paid_intent):
    set_switches(sandbox.store, refund_delay_s=0, refund_fails=True)
    failing = client.v1.refunds.create(params={"payment_intent": paid_intent.id, "amount": 500})
    assert failing.status == "pending"
    failed = settled(client, failing.id)
    assert (failed.status, failed.failure_reason) == ("failed", "declined")
    assert kinds_of(sandbox, failing.id) == ["refund.created", "refund.updated", "refund.failed"]
    charge = sandbox.account.retrieve("charge", paid_intent.latest_charge)
    assert charge["amount_refunded"] == 0  # nothing went back
    again = client.v1.refunds.create(params={"payment_intent": paid_intent.id, "amount": 4990})
    assert settled(client, again.id).status == "succeeded"  # the switch was for one refund only


def test_a_twint_payment_older_than_180_days_cannot_be_refunded(client, sandbox, paid_intent):
    charge = sandbox.account.retrieve("charge", paid_intent.latest_charge)
    with sandbox.store.transaction() as connection:
        sandbox.store.put(connection, {**charge, "created": charge["created"] - 181 * 24 * 3600})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"payment_intent": paid_intent.id})
    assert (caught.value.code, caught.value.param) == ("charge_expired_for_refund", "charge")


def test_refunding_more_than_was_paid_is_refused(client, paid_intent):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"payment_intent": paid_intent.id, "amount": 4991})
    assert (caught.value.code, caught.value.param) == ("amount_too_large", "amount")


def test_an_unpaid_intent_has_nothing_to_refund(client):
    intent = client.v1.payment_intents.create(params=PARAMS)
    with pytest.raises(stripe.InvalidRequestError, match="does not have a successful charge"):
        client.v1.refunds.create(params={"payment_intent": intent.id})


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({}, "parameter_missing", "payment_intent"),
        ({"payment_intent": "pi_nothing"}, "resource_missing", "payment_intent"),
        ({"charge": "ch_nothing"}, "resource_missing", "charge"),
        ({"payment_intent": "pi_x", "amount": 0}, "parameter_invalid_integer", "amount"),
    ],
)
def test_refund_parameters_are_checked(client, params, code, param):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params=params)
    assert (caught.value.code, caught.value.param) == (code, param)


def test_a_refund_has_the_properties_stripe_sends_as_it_sends_them(client, paid_intent):
    refund = client.v1.refunds.create(params={"payment_intent": paid_intent.id, "amount": 100})
    assert problems("refund", refund.to_dict()) == []
    assert "failure_reason" not in refund.to_dict()  # left out while unset, not null
    assert refund.id.startswith("re_")
    assert refund.payment_intent == paid_intent.id


# --- refunds made in Stripe's dashboard, which the shop did not ask for -------------------------


def refund_in_dashboard(sandbox, intent_id: str, **body) -> httpx.Response:
    return httpx.post(f"{sandbox.url}/control/api/intents/{intent_id}/refund", json=body)


def test_a_dashboard_refund_comes_from_no_api_request_and_settles_with_its_webhooks(
    client, sandbox, receiver, paid_intent
):
    set_switches(sandbox.store, refund_delay_s=0.2)
    answer = refund_in_dashboard(sandbox, paid_intent.id, amount=None, reason="requested_by_customer")
    assert answer.status_code == 200
    created = answer.json()
    assert (created["object"], created["status"], created["amount"], created["payment_intent"]) == (
        "refund",
        "pending",
        4990,
        paid_intent.id,
    )
    assert (created["metadata"], created["reason"], created["charge"]) == (
        {},
        "requested_by_customer",
        paid_intent.latest_charge,
    )
    assert problems("refund", created) == []
    assert settled(client, created["id"]).status == "succeeded"
    charge = sandbox.account.retrieve("charge", paid_intent.latest_charge)
    assert (charge["amount_refunded"], charge["refunded"]) == (4990, True)
    events = sandbox.events_for(created["id"]) + sandbox.events_for(paid_intent.latest_charge)[1:]
    assert [e["type"] for e in events] == ["refund.created", "refund.updated", "charge.refunded"]
    assert all(e["request"] == {"id": None, "idempotency_key": None} for e in events)
    # The shop learns of it from its webhooks alone.
    deadline = time.monotonic() + 10
    wanted = {"refund.created", "refund.updated", "charge.refunded"}
    while not wanted <= {e["type"] for e in receiver.events()} and time.monotonic() < deadline:
        time.sleep(0.05)
    about = [e for e in receiver.events() if e["type"] in wanted]
    assert sorted(e["type"] for e in about) == sorted(wanted)
    assert all(e["request"]["id"] is None for e in about)


def test_a_dashboard_refund_can_be_partial_then_the_rest_and_no_more(client, sandbox, paid_intent):
    set_switches(sandbox.store, refund_delay_s=0.2)
    first = refund_in_dashboard(sandbox, paid_intent.id, amount=1000)
    assert (first.status_code, first.json()["amount"], first.json()["reason"]) == (200, 1000, None)
    rest = refund_in_dashboard(sandbox, paid_intent.id, amount=None)
    assert (rest.status_code, rest.json()["amount"]) == (200, 3990)
    more = refund_in_dashboard(sandbox, paid_intent.id, amount=1)  # the pending ones count already
    assert more.status_code == 400
    assert more.json()["error"]["code"] == "charge_already_refunded"
    assert settled(client, first.json()["id"]).status == "succeeded"
    assert settled(client, rest.json()["id"]).status == "succeeded"
    charge = sandbox.account.retrieve("charge", paid_intent.latest_charge)
    assert (charge["amount_refunded"], charge["refunded"]) == (4990, True)


def test_a_dashboard_refund_beyond_what_is_left_is_refused(client, sandbox, paid_intent):
    set_switches(sandbox.store, refund_delay_s=0)
    partial = client.v1.refunds.create(params={"payment_intent": paid_intent.id, "amount": 4000})
    assert settled(client, partial.id).status == "succeeded"
    refused = refund_in_dashboard(sandbox, paid_intent.id, amount=991)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "amount_too_large", "amount")
    assert kinds_of(sandbox, paid_intent.latest_charge) == ["charge.succeeded", "charge.refunded"]


def test_a_dashboard_refund_honours_the_refund_fails_switch(client, sandbox, paid_intent):
    set_switches(sandbox.store, refund_delay_s=0, refund_fails=True)
    failing = refund_in_dashboard(sandbox, paid_intent.id, amount=500).json()
    failed = settled(client, failing["id"])
    assert (failed.status, failed.failure_reason) == ("failed", "declined")
    assert kinds_of(sandbox, failing["id"]) == ["refund.created", "refund.updated", "refund.failed"]


def test_a_dashboard_refund_of_an_unknown_or_unpaid_intent_is_refused(client, sandbox):
    unknown = refund_in_dashboard(sandbox, "pi_nothing")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "resource_missing"
    unpaid = client.v1.payment_intents.create(params=PARAMS)
    refused = refund_in_dashboard(sandbox, unpaid.id)
    assert refused.status_code == 400
    assert "does not have a successful charge" in refused.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"amount": 0}, "parameter_invalid_integer", "amount"),
        ({"amount": "100"}, "parameter_invalid_integer", "amount"),
        ({"amount": True}, "parameter_invalid_integer", "amount"),
        ({"reason": "changed_mind"}, None, "reason"),
        ({"metadata": {"order_id": "1"}}, "parameter_unknown", "metadata"),
    ],
)
def test_a_dashboard_refund_checks_its_body(sandbox, paid_intent, body, code, param):
    refused = refund_in_dashboard(sandbox, paid_intent.id, **body)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error.get("code"), error["param"]) == (code, param)
    assert sandbox.events_for(paid_intent.latest_charge)[-1]["type"] == "charge.succeeded"  # nothing refunded


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_the_dashboard_refund_takes_no_post_another_site_could_send(sandbox, paid_intent, content_type):
    """A page elsewhere can send text/plain or a form without a CORS preflight: refused, nothing refunded."""
    sent = httpx.post(
        f"{sandbox.url}/control/api/intents/{paid_intent.id}/refund",
        content=b'{"amount": null}',
        headers={"Content-Type": content_type},
    )
    assert sent.status_code == 415
    assert sandbox.account.list_refunds({"payment_intent": paid_intent.id})["data"] == []


def test_a_dashboard_refund_is_not_in_the_shops_request_log(sandbox, paid_intent):
    def logged(**params) -> list[dict]:
        answer = httpx.get(f"{sandbox.url}/control/api/requests", params=params)
        assert answer.status_code == 200
        return answer.json()["requests"]

    before, before_about = logged(), logged(payment_intent=paid_intent.id)
    assert refund_in_dashboard(sandbox, paid_intent.id, amount=100).status_code == 200
    assert logged() == before
    assert logged(payment_intent=paid_intent.id) == before_about
