"""The sandbox's Stripe.js and TWINT page in a real browser, against the shop's own sandbox."""

import re

import pytest
import stripe
from playwright.sync_api import Page, expect

from e2e.steps import serious_violations, tab_to

PUBLISHABLE = "pk_test_storefront"
BILLING = {"payment_method": {"billing_details": {"name": "Anna Muster", "email": "anna@example.ch"}}}


@pytest.fixture
def intent(sandbox) -> stripe.PaymentIntent:
    """A PaymentIntent made straight in the shop's sandbox (these journeys skip where there is none)."""
    return sandbox.stripe.v1.payment_intents.create(
        params={
            "amount": 4990,
            "currency": "chf",
            "allowed_payment_method_types": ["twint"],
            "description": "Order 1042",
        }
    )


def retrieve(base_url: str, intent_id: str) -> stripe.PaymentIntent:
    client = stripe.StripeClient("sk_test_storefront", base_addresses={"api": f"{base_url}/_sandbox"})
    return client.v1.payment_intents.retrieve(intent_id)


def load_stripe_js(page: Page) -> None:
    page.goto("/cart")  # any page of the shop: Stripe.js runs under the shop's CSP
    page.add_script_tag(url="/_sandbox/js/stripe.js")


def pay_with_twint(page: Page, client_secret: str, return_url: str) -> None:
    """What the shop's pay page does; the promise never settles, as the page leaves for TWINT."""
    page.evaluate(
        "([pk, secret, data]) => { Stripe(pk).confirmTwintPayment(secret, data); }",
        [PUBLISHABLE, client_secret, {**BILLING, "return_url": return_url}],
    )
    page.get_by_test_id("twint-page").wait_for()


def test_confirm_twint_payment_goes_to_twint_and_back(page: Page, base_url: str, intent):
    """confirmTwintPayment → TWINT page (amount, code, QR) → authorized → back with Stripe's query parameters."""
    load_stripe_js(page)
    pay_with_twint(page, intent.client_secret, f"{base_url}/cart?from=twint")
    expect(page.get_by_test_id("twint-page")).to_be_visible()
    expect(page.get_by_test_id("amount")).to_have_text("CHF 49.90")
    expect(page.get_by_test_id("twint-code")).to_have_text(re.compile(r"^\d{5}$"))
    expect(page.get_by_role("img", name="QR code to scan with the TWINT app")).to_be_visible()
    page.get_by_role("button", name="Authorize test payment").click()
    expect(page).to_have_url(
        re.compile(
            r"/cart\?from=twint&payment_intent=pi_\w+&payment_intent_client_secret="
            r"pi_\w+_secret_\w+&redirect_status=succeeded$"
        )
    )
    assert retrieve(base_url, intent.id).status == "succeeded"


def test_fail_test_payment_returns_with_a_failure(page: Page, base_url: str, intent):
    """ "Fail test payment" returns with redirect_status=failed and the intent's last_payment_error."""
    load_stripe_js(page)
    pay_with_twint(page, intent.client_secret, f"{base_url}/cart")
    page.get_by_role("button", name="Fail test payment").click()
    expect(page).to_have_url(re.compile(r"redirect_status=failed$"))
    failed = retrieve(base_url, intent.id)
    assert failed.status == "requires_payment_method"
    assert failed.last_payment_error.code == "payment_intent_authentication_failure"


def test_handle_actions_false_resolves_with_the_intent(page: Page, base_url: str, intent):
    """handleActions: false resolves with the intent as a browser may see it (no metadata)."""
    load_stripe_js(page)
    result = page.evaluate(
        "([pk, secret, data]) => Stripe(pk).confirmTwintPayment(secret, data, {handleActions: false})",
        [PUBLISHABLE, intent.client_secret, {**BILLING, "return_url": f"{base_url}/cart"}],
    )
    assert result["paymentIntent"]["status"] == "requires_action"
    assert "metadata" not in result["paymentIntent"]
    retrieved = page.evaluate(
        "([pk, secret]) => Stripe(pk).retrievePaymentIntent(secret)", [PUBLISHABLE, intent.client_secret]
    )
    assert retrieved["paymentIntent"]["id"] == intent.id


def test_errors_come_back_as_stripe_errors_and_bad_secrets_throw(page: Page, base_url: str, intent):
    """API errors resolve as `{error}`; a malformed client secret throws IntegrationError, as Stripe.js does."""
    load_stripe_js(page)
    result = page.evaluate(
        "([pk, secret]) => Stripe(pk).confirmTwintPayment(secret, {})", [PUBLISHABLE, intent.client_secret]
    )
    assert result["error"]["type"] == "invalid_request_error"
    assert result["error"]["param"] == "return_url"
    thrown = page.evaluate(
        "(pk) => { try { Stripe(pk).confirmTwintPayment('not-a-secret', {}); } catch (e) { return e.name; } }",
        PUBLISHABLE,
    )
    assert thrown == "IntegrationError"


def test_close_without_returning_leaves_the_payment_waiting(page: Page, base_url: str, intent):
    """ "Close without returning" leaves the intent in requires_action."""
    load_stripe_js(page)
    pay_with_twint(page, intent.client_secret, f"{base_url}/cart")
    page.get_by_role("button", name="Close without returning").click()
    expect(page.get_by_test_id("closed")).to_be_visible()
    assert retrieve(base_url, intent.id).status == "requires_action"


def test_the_twint_page_works_by_keyboard_on_a_phone_and_is_axe_clean(new_context, base_url: str, intent):
    """TWINT's page at phone size: axe-clean, and "Cancel" by keyboard returns to the shop cancelled."""
    page = new_context(viewport={"width": 375, "height": 740}, is_mobile=True).new_page()
    load_stripe_js(page)
    pay_with_twint(page, intent.client_secret, f"{base_url}/cart?x=1")
    expect(page.get_by_test_id("twint-page")).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_role("button", name="Cancel").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/cart\?x=1&.*redirect_status=canceled$"))
    assert retrieve(base_url, intent.id).status == "canceled"


def test_twint_offers_the_app_on_a_phone_and_the_qr_code_on_a_desktop(new_context, base_url: str, intent):
    """On a 390×844 phone TWINT's page shows no QR code and "Open the TWINT app" before the test buttons, and
    pays; on a 1280×800 desktop it shows the QR code and the code."""
    desktop = new_context(viewport={"width": 1280, "height": 800}).new_page()
    load_stripe_js(desktop)
    pay_with_twint(desktop, intent.client_secret, f"{base_url}/cart?device=phone")
    expect(desktop.get_by_role("img", name="QR code to scan with the TWINT app")).to_be_visible()
    expect(desktop.get_by_test_id("twint-code")).to_have_text(re.compile(r"^\d{5}$"))
    expect(desktop.locator("main").get_by_role("link")).to_have_count(0)
    expect(desktop.locator("main").get_by_role("button")).to_have_text(
        ["Authorize test payment", "Fail test payment", "Cancel", "Close without returning"]
    )

    phone = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    phone.goto(desktop.url)  # the same payment's page, on the customer's phone
    expect(phone.get_by_role("img", name="QR code to scan with the TWINT app")).to_have_count(0)
    expect(phone.get_by_test_id("twint-code")).to_be_hidden()
    expect(phone.locator("main").get_by_role("link").or_(phone.locator("main").get_by_role("button"))).to_have_text(
        ["Open the TWINT app", "Cancel", "Close without returning"]
    )
    assert serious_violations(phone) == []
    phone.get_by_role("link", name="Open the TWINT app").tap()
    expect(phone.get_by_role("region", name="TWINT app")).to_be_visible()
    expect(phone.get_by_role("img", name="QR code to scan with the TWINT app")).to_have_count(0)
    expect(phone.locator("main").get_by_role("button")).to_have_text(
        ["Authorize test payment", "Fail test payment", "Cancel", "Close without returning"]
    )
    assert serious_violations(phone) == []
    phone.get_by_role("button", name="Authorize test payment").tap()
    expect(phone).to_have_url(re.compile(r"/cart\?device=phone&payment_intent=pi_\w+&.*redirect_status=succeeded$"))
    assert retrieve(base_url, intent.id).status == "succeeded"


def test_a_phone_without_javascript_opens_the_twint_app_by_keyboard_and_pays(new_context, base_url: str, intent):
    """With JavaScript off, a phone reaches the app's buttons through "Open the TWINT app" by keyboard, and pays."""
    shop = new_context().new_page()
    load_stripe_js(shop)
    pay_with_twint(shop, intent.client_secret, f"{base_url}/cart?js=off")
    phone = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, java_script_enabled=False).new_page()
    phone.goto(shop.url)  # the same payment's page, on a phone that runs no JavaScript
    open_app = phone.get_by_role("link", name="Open the TWINT app")
    tab_to(phone, open_app)
    phone.keyboard.press("Enter")
    authorize = phone.get_by_role("button", name="Authorize test payment")
    expect(authorize).to_be_visible()
    tab_to(phone, authorize)
    phone.keyboard.press("Enter")
    expect(phone).to_have_url(re.compile(r"/cart\?js=off&.*redirect_status=succeeded$"))
    assert retrieve(base_url, intent.id).status == "succeeded"
