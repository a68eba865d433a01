"""A person provokes a fault by hand on the sandbox's control page."""

import pytest
import stripe
from playwright.sync_api import Page, expect

from e2e.steps import serious_violations


def test_a_fault_set_on_the_control_page_reaches_the_api(page: Page, sandbox):
    """A person sets "500 for the next call" on the control page; the next API call gets it, the one after not."""
    page.goto("/_sandbox/control")
    assert serious_violations(page) == []
    page.get_by_label("The next calls answer").select_option("error_500")
    page.get_by_label("How many calls").fill("1")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("The next calls answer")).to_have_value("error_500")
    client = sandbox.stripe
    params = {"amount": 1000, "currency": "chf", "allowed_payment_method_types": ["twint"]}
    with pytest.raises(stripe.APIError) as caught:
        client.v1.payment_intents.create(params=params)
    assert caught.value.http_status == 500
    assert client.v1.payment_intents.create(params=params).status == "requires_payment_method"
    page.reload()
    expect(page.get_by_label("The next calls answer")).to_have_value("none")
    expect(page.get_by_test_id("delivery").first).to_be_visible()  # its webhooks are listed
