"""A person provokes a fault by hand on the sandbox's control page."""

import pytest
import stripe
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect


def test_a_fault_set_on_the_control_page_reaches_the_api(page: Page, base_url: str):
    page.goto("/_sandbox/control")
    serious = [v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in {"serious", "critical"}]
    assert serious == []
    page.get_by_label("The next calls answer").select_option("error_500")
    page.get_by_label("How many calls").fill("1")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("The next calls answer")).to_have_value("error_500")
    client = stripe.StripeClient("sk_test_storefront", base_addresses={"api": f"{base_url}/_sandbox"})
    params = {"amount": 1000, "currency": "chf", "allowed_payment_method_types": ["twint"]}
    with pytest.raises(stripe.APIError) as caught:
        client.v1.payment_intents.create(params=params)
    assert caught.value.http_status == 500
    assert client.v1.payment_intents.create(params=params).status == "requires_payment_method"
    page.reload()
    expect(page.get_by_label("The next calls answer")).to_have_value("none")
    expect(page.get_by_test_id("delivery").first).to_be_visible()  # its webhooks are listed
