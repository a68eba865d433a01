"""A customer buys with TWINT, from the product to an order page that turns to "paid" by itself;
a failed, a cancelled and an abandoned payment; Stripe down at checkout."""

import re

from playwright.sync_api import Page, expect

from e2e.pages import (
    B_POST,
    CANCELLED,
    FAILED,
    PAID,
    PICK_UP,
    WAITING,
    CartPage,
    CheckoutPage,
    OrderPage,
    ProductPage,
    TwintPage,
)
from e2e.steps import check_out, chf


def test_buy_one_product_end_to_end(page: Page, address, records, local_shop):
    """One mug, paid with TWINT: "paid", an empty cart, one order, one e-mail, one unit less in stock."""
    stock_before = records.stock("MUG-350") if records else None
    ProductPage(page).open("enamel-mug").add_to_cart()
    review = CartPage(page).open().checkout().fill(address).continue_to_review()
    expect(review.total).to_have_text(chf("29.00"))  # 22.00 + B-Post 7.00
    order = review.pay_with_twint().authorize()
    expect(page).to_have_url(re.compile(r"/orders/[\w-]+$"))  # no secret left in the address
    expect(order.status).to_contain_text(PAID)
    expect(order.cart_count).to_have_text("0")
    if records:
        number = order.number
        [stored] = records.orders(address.email)
        assert (stored.number, stored.status, stored.total) == (number, "paid", 2900)
        assert records.stock("MUG-350") == stock_before - 1
        assert records.emails(number) == ["order_paid"]
        assert address.name in records.sent_email(number)
    if local_shop:  # the client secret passed through the address bar, but no log line has it
        log = local_shop.log.read_text()
        assert "/checkout/return?" in log
        assert "_secret_" not in log


def test_a_purchase_asks_stripe_at_most_three_times_and_a_paid_order_never(page: Page, address, sandbox):
    """The shop's own calls to Stripe for one TWINT payment, read from the sandbox's request log: at
    most three (create, the pay page's read, one poll); a paid order's page and polls ask nothing."""
    ProductPage(page).open("enamel-mug").add_to_cart()
    review = CartPage(page).open().checkout().fill(address).continue_to_review()
    intent_id = review.payment_intent_id
    order = review.pay_with_twint().authorize()
    expect(order.status).to_contain_text(PAID)
    shop_calls = [r for r in sandbox.requests(intent_id) if r["key_type"] == "secret"]
    assert [r["path"] for r in shop_calls][:1] == ["/v1/payment_intents"]  # created by the shop
    assert len(shop_calls) <= 3, shop_calls
    seen = len(sandbox.requests(intent_id))
    page.reload()
    expect(order.status).to_contain_text(PAID)
    for _poll in range(3):
        assert page.request.get(f"{page.url}/status", headers={"HX-Request": "true"}).ok
    assert len(sandbox.requests(intent_id)) == seen


def test_variants_quantities_and_a_removed_line_add_up_to_the_rappen(page: Page, address, records):
    """Two sock sizes, honey and a mug; the mug removed, the honey changed: every total and VAT line to the Rappen."""
    ProductPage(page).open("hiking-socks").choose("36–38").set_quantity(2).add_to_cart()
    ProductPage(page).open("alpine-honey").choose("250 g").set_quantity(3).add_to_cart()
    ProductPage(page).open("enamel-mug").add_to_cart()
    cart = CartPage(page).open()
    expect(cart.cart_count).to_have_text("6")
    cart.remove("MUG-350")
    expect(cart.line("MUG-350")).to_have_count(0)
    cart.change_quantity("HONEY-250", 2)
    expect(cart.line("HONEY-250").get_by_test_id("line-total")).to_have_text(chf("19.00"))
    expect(cart.line("SOCKS-36").get_by_test_id("line-total")).to_have_text(chf("49.80"))
    expect(cart.subtotal).to_have_text(chf("68.80"))
    # VAT is contained in the gross prices: 49.80 × 8.1/108.1 = 3.7315…, 19.00 × 2.6/102.6 = 0.4814…
    expect(cart.vat_lines).to_have_text(
        [
            re.compile(rf"incl\. 8\.1{chr(0xA0)}% VAT on {chf('49.80')}\s*{chf('3.73')}"),
            re.compile(rf"incl\. 2\.6{chr(0xA0)}% VAT on {chf('19.00')}\s*{chf('0.48')}"),
        ]
    )
    review = cart.checkout().fill(address, delivery=B_POST).continue_to_review()
    expect(review.total).to_have_text(chf("75.80"))  # 68.80 + B-Post 7.00 (free only from 100.00)
    # Delivery is taxed at the standard rate: (49.80 + 7.00) × 8.1/108.1 = 4.2560…
    expect(review.vat_lines).to_have_text(
        [
            re.compile(rf"incl\. 8\.1{chr(0xA0)}% VAT on {chf('56.80')}\s*{chf('4.26')}"),
            re.compile(rf"incl\. 2\.6{chr(0xA0)}% VAT on {chf('19.00')}\s*{chf('0.48')}"),
        ]
    )
    order = review.pay_with_twint().authorize()
    expect(order.status).to_contain_text(PAID)
    expect(order.lines).to_contain_text("Wool Hiking Socks 36–38")
    if records:
        assert records.lines(order.number) == [("SOCKS-36", 2, 2490), ("HONEY-250", 2, 950)]
        assert records.order(order.number).total == 7580


def test_a_failed_payment_can_be_tried_again(page: Page, address, records):
    """ "Fail test payment" → a clear message, the cart kept → "Try again" → paid, one order."""
    review = check_out(page, address, "alpine-herbal-tea")
    order = review.pay_with_twint().fail()
    expect(order.status).to_contain_text(FAILED)
    expect(order.status).to_contain_text("Nothing was charged; your cart is kept.")
    expect(order.cart_count).to_have_text("1")  # the cart survived the trip to TWINT and back
    paid = order.try_again().pay_with_twint().authorize()
    expect(paid.status).to_contain_text(PAID)
    expect(paid.cart_count).to_have_text("0")
    if records:
        assert [(o.number, o.status) for o in records.orders(address.email)] == [(paid.number, "paid")]


def test_cancel_on_the_twint_page_cancels_the_order_and_puts_the_stock_back(page: Page, address, records, sandbox):
    """ "Cancel" on the TWINT page: the order is cancelled, its stock released, the cart kept."""
    stock_before = records.stock("CANDLE-20") if records else None
    review = check_out(page, address, "beeswax-candle", quantity=2)
    if records:
        assert records.stock("CANDLE-20") == stock_before - 2  # reserved while the customer pays
    order = review.pay_with_twint().cancel()
    expect(order.status).to_contain_text(CANCELLED)
    expect(order.cart_count).to_have_text("2")
    if records:
        assert records.order(order.number).status == "cancelled"
        assert records.stock("CANDLE-20") == stock_before
        assert records.emails(order.number) == []


def test_closing_twint_without_returning_is_cancelled_by_the_reconciler(
    page: Page, address, records, sandbox, needs_local_shop
):
    """ "Close without returning": the order page waits; the reconciler cancels it and it says so by itself."""
    stock_before = records.stock("TOTE-NAT")
    review = check_out(page, address, "canvas-tote")
    order_url = review.order_url
    review.pay_with_twint().close_without_returning()
    order = OrderPage(page).open(order_url)
    expect(order.status).to_contain_text(WAITING)
    number = order.number
    page.evaluate("window.stillTheSamePage = true")
    output = needs_local_shop.command("payments", "reconcile", "--order", number)
    assert f"order {number}: cancelled: cancelled" in output
    expect(order.status).to_contain_text(CANCELLED)  # the poll shows it without a reload
    assert page.evaluate("window.stillTheSamePage") is True
    assert records.stock("TOTE-NAT") == stock_before
    assert sandbox.intent(records.order(number).payment_intent_id).cancellation_reason == "abandoned"
    refused = needs_local_shop.command("payments", "reconcile", "--order", number, fails=True)
    assert f"order {number} is not an unpaid order of this shop" in refused


def test_checkout_errors_are_shown_next_to_their_fields_and_input_is_kept(page: Page):
    """Wrong postcode and e-mail: a message beside each field; what was typed stays."""
    ProductPage(page).open("enamel-mug").add_to_cart()
    checkout = CheckoutPage(page).open()
    checkout.fill()
    page.get_by_label("Postcode").fill("80")
    page.get_by_label("E-mail").fill("not-an-address")
    checkout.continue_to_review()
    expect(checkout.error_for("Postcode")).to_have_text("Please enter the 4-digit postcode, e.g. 8001.")
    expect(checkout.error_for("E-mail")).to_be_visible()
    expect(page.get_by_label("Town")).to_have_value("Zürich")


def test_stripe_down_at_checkout_keeps_the_order_and_a_retry_pays_once(page: Page, address, records, sandbox):
    """Stripe answers 500 (its library's retries too): the customer is told, then pays once it is back."""
    ProductPage(page).open("dark-chocolate").add_to_cart()
    checkout = CheckoutPage(page).open().fill(address, delivery=PICK_UP)
    sandbox.switch(api_fault="error_500", api_fault_count=3)
    review = checkout.continue_to_review()
    expect(review.unavailable).to_be_visible()
    expect(review.unavailable).to_contain_text("nothing was charged")
    expect(review.cart_count).to_have_text("1")  # nothing lost
    order = review.try_again_after_outage().pay_with_twint().authorize()
    expect(order.status).to_contain_text(PAID)
    assert sandbox.switches()["api_fault"] == "none"  # all three faulty answers were used up
    if records:
        [stored] = records.orders(address.email)
        assert stored.status == "paid"


def test_buy_without_javascript_up_to_paid(new_context, address, records):
    """A browser that runs no JavaScript: the cart's plain forms, the checkout, and "Pay … with
    TWINT" posts to the shop, which confirms the payment and sends the customer to TWINT (303);
    TWINT sends them back to the order, which reads "paid" when it loads."""
    page = new_context(java_script_enabled=False).new_page()
    ProductPage(page).open("enamel-mug").add_to_cart()
    review = CartPage(page).open().checkout().fill(address).continue_to_review()
    expect(review.total).to_have_text(chf("29.00"))
    review.pay_button.click()
    twint = TwintPage(page).wait()
    expect(page).to_have_url(re.compile(r"/twint/pi_\w+\?token="))  # TWINT, reached without Stripe.js
    order = twint.authorize()
    expect(page).to_have_url(re.compile(r"/en/orders/[\w-]+$"))
    for _attempt in range(20):  # no polling without JavaScript: the customer presses "Refresh"
        if PAID in order.status.inner_text():
            break
        page.wait_for_timeout(500)
        page.get_by_role("link", name="Refresh").click()
    expect(order.status).to_contain_text(PAID)
    if records:
        assert records.emails(order.number) == ["order_paid"]
