"""axe-core on every page a customer meets, TWINT's included: no serious or critical violation."""

import pytest
from playwright.sync_api import Page, expect

from e2e.pages import CANCELLED, FAILED, PAID, WAITING, CartPage, CheckoutPage, OrderPage, ProductPage
from e2e.steps import serious_violations


@pytest.mark.parametrize(
    "path",
    [
        "/en/",
        "/en/?page=2",
        "/en/products/hiking-socks",
        "/en/products/cowbell-keyring",
        "/en/cart",
        "/en/no-such-page",
    ],
)
def test_pages_have_no_serious_accessibility_violations(page: Page, path: str):
    """The catalogue, a product with variants, a sold-out product, the empty cart and the page-not-found page."""
    page.goto(path)
    assert serious_violations(page) == []


def test_every_page_of_a_purchase_has_no_serious_violations(page: Page, address):
    """Product, cart, checkout with errors, review, TWINT, "failed", review again, TWINT, "paid"."""
    found: dict[str, list[str]] = {}

    def check(step: str) -> None:
        found[step] = serious_violations(page)

    product = ProductPage(page).open("alpine-honey").choose("500 g").add_to_cart()
    expect(product.message).to_contain_text("Added to your cart.")
    check("product, after adding")
    cart = CartPage(page).open()
    check("cart")
    checkout = cart.checkout()
    check("checkout")
    page.get_by_test_id("to-review").click()  # nothing filled in
    expect(checkout.error_for("E-mail")).to_be_visible()
    check("checkout with errors")
    review = checkout.fill(address).continue_to_review()
    expect(review.pay_button).to_be_visible()
    check("review")
    twint = review.pay_with_twint()
    if twint.is_sandbox:  # Stripe's own test page is not ours to fix
        check("TWINT")
    order = twint.fail()
    expect(order.status).to_contain_text(FAILED)
    check("order, payment failed")
    twint = order.try_again().pay_with_twint()
    order = twint.authorize()
    expect(order.status).to_contain_text(PAID)
    check("order, paid")
    assert {step: problems for step, problems in found.items() if problems} == {}


def test_a_waiting_and_a_cancelled_order_have_no_serious_violations(page: Page, address, sandbox):
    """The order page while TWINT is open elsewhere, the TWINT page once closed, and the cancelled order."""
    ProductPage(page).open("enamel-mug").add_to_cart()
    review = CheckoutPage(page).open().fill(address).continue_to_review()
    order_url = review.order_url
    twint = review.pay_with_twint().close_without_returning()
    assert serious_violations(twint.page) == []
    order = OrderPage(page).open(order_url)
    expect(order.status).to_contain_text(WAITING)
    assert serious_violations(page) == []
    order.page.goto(order_url + "/pay")
    order = review.pay_with_twint().cancel()
    expect(order.status).to_contain_text(CANCELLED)
    assert serious_violations(page) == []


def test_add_to_cart_by_keyboard_alone(page: Page):
    """Focus the quantity, Tab to "Add to cart", Enter: the badge counts it."""
    ProductPage(page).open("enamel-mug")
    page.get_by_label("Quantity", exact=True).focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    ProductPage(page).message.filter(has_text="Added to your cart.").wait_for()
    assert page.get_by_test_id("cart-count").inner_text() == "1"
