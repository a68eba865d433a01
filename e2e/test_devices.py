"""The whole purchase on a phone, and with the keyboard alone."""

import re

import pytest
from playwright.sync_api import Page, Playwright, expect

from e2e.pages import PAID, PICK_UP, CartPage, CatalogPage, TwintPage
from e2e.steps import fits_the_screen, tab_to


@pytest.fixture
def phone(playwright: Playwright, new_context) -> Page:
    """A phone-sized Chromium with touch: Playwright's Pixel 7."""
    device = {k: v for k, v in playwright.devices["Pixel 7"].items() if k != "default_browser_type"}
    return new_context(**device).new_page()


def test_a_whole_purchase_on_a_phone(phone: Page, address, records):
    """Pixel 7 size, touch: catalogue to "paid", and no page scrolls sideways on the way."""
    catalog = CatalogPage(phone).open()
    assert fits_the_screen(phone)
    product = catalog.open_product("Alpine Flower Honey")
    product.choose("500 g")
    phone.get_by_test_id("add-to-cart").tap()
    expect(product.cart_count).to_have_text("1")
    assert fits_the_screen(phone)
    cart = product.open_cart()
    expect(cart.line("HONEY-500")).to_be_visible()
    assert fits_the_screen(phone)
    checkout = cart.checkout().fill(address, delivery=PICK_UP)
    assert fits_the_screen(phone)
    review = checkout.continue_to_review()
    expect(review.pay_button).to_be_visible()
    assert fits_the_screen(phone)
    twint = review.pay_with_twint()
    if twint.is_sandbox:
        assert fits_the_screen(phone)
    order = twint.authorize()
    expect(order.status).to_contain_text(PAID)
    assert fits_the_screen(phone)
    if records:
        assert [o.status for o in records.orders(address.email)] == ["paid"]


def test_a_whole_purchase_with_the_keyboard_alone(page: Page, address, records):
    """Tab, type, arrows, Space and Enter only, each focused control visibly outlined: catalogue to "paid"."""
    keys = page.keyboard
    CatalogPage(page).open()
    tab_to(page, page.get_by_test_id("product-grid").get_by_role("link", name="Enamel Mountain Mug").first)
    keys.press("Enter")
    page.wait_for_url("**/products/enamel-mug")
    tab_to(page, page.get_by_test_id("add-to-cart"))
    keys.press("Enter")
    expect(page.get_by_test_id("cart-count")).to_have_text("1")
    tab_to(page, page.get_by_test_id("cart-link"))
    keys.press("Enter")
    page.wait_for_url("**/cart")
    tab_to(page, CartPage(page).checkout_button)
    keys.press("Enter")
    page.wait_for_url("**/checkout")
    for label, value in (
        ("E-mail", address.email),
        ("First and last name", address.name),
        ("Street and number", address.street),
        ("Postcode", address.postal_code),
        ("Town", address.city),
    ):
        tab_to(page, page.get_by_label(label))
        keys.type(value)
    tab_to(page, page.get_by_role("radio"))  # into the group of delivery options
    pick_up = page.get_by_role("radio", name=PICK_UP)
    for _ in range(page.get_by_role("radio").count()):  # arrows move through the delivery options
        if pick_up.is_checked():
            break
        keys.press("ArrowDown")
    expect(pick_up).to_be_checked()
    tab_to(page, page.get_by_test_id("to-review"))
    keys.press("Enter")
    page.wait_for_url(re.compile(r"/orders/[\w-]+/pay$"))
    pay = page.get_by_test_id("pay-button")
    tab_to(page, pay)
    keys.press("Enter")
    twint = TwintPage(page).wait()
    if twint.is_sandbox:
        tab_to(page, twint.authorize_button)
        keys.press("Enter")
    else:
        twint.authorize()  # Stripe's own test page is not ours to check
    expect(page.get_by_test_id("payment-status")).to_contain_text(PAID)
    if records:
        assert [o.status for o in records.orders(address.email)] == ["paid"]
