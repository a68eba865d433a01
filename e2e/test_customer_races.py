"""What customers do that races the shop: double clicks, the back button after paying, two tabs on
one order, and two customers after the last unit at the same moment."""

from playwright.sync_api import Page, expect

from e2e.pages import PAID, PICK_UP, WAITING, Address, CheckoutPage, OrderPage, ProductPage, ReviewPage, TwintPage
from e2e.steps import check_out


def test_double_clicks_place_one_order_and_pay_once(page: Page, address, records):
    """The checkout form sent twice at once, a double click on "Continue to review" and on "Pay with TWINT":
    one order, one payment."""
    ProductPage(page).open("merino-beanie").choose("Anthracite").add_to_cart()
    CheckoutPage(page).open().fill(address, delivery=PICK_UP)
    # A browser drops the first of two quick clicks' pages, but both requests may reach the shop:
    answers = page.evaluate(
        """async () => {
            const form = document.querySelector("form.checkout-form");
            const send = () => fetch(form.action, {method: "POST", body: new FormData(form)}).then(r => r.status);
            return Promise.all([send(), send()]);
        }"""
    )
    assert answers == [200, 200]  # both were led to the same review page
    page.get_by_test_id("to-review").dblclick()
    review = ReviewPage(page)
    expect(review.pay_button).to_be_visible()
    intent_id = review.payment_intent_id
    review.pay_button.dblclick()
    order = TwintPage(page).wait().authorize()
    expect(order.status).to_contain_text(PAID)
    if records:
        [stored] = records.orders(address.email)
        assert (stored.status, stored.payment_intent_id) == ("paid", intent_id)
        assert records.emails(stored.number) == ["order_paid"]


def test_the_back_button_after_paying_never_offers_to_pay_again(page: Page, address, records):
    """Paid, then Back, Back, Back: TWINT says it is done, the review page shows the paid order, the checkout an
    empty cart."""
    review = check_out(page, address, "hiking-guide", option="English")
    order_url = review.order_url
    order = review.pay_with_twint().authorize()
    expect(order.status).to_contain_text(PAID)
    page.go_back()  # TWINT's page
    twint = TwintPage(page)
    expect(twint.authorize_button).to_have_count(0)
    if twint.is_sandbox:
        expect(page.get_by_test_id("status")).to_have_text("This payment is succeeded.")
    page.go_back()  # the review page: the order is paid, so the shop shows its page instead
    expect(page).to_have_url(order_url)
    expect(order.status).to_contain_text(PAID)
    expect(ReviewPage(page).pay_button).to_have_count(0)
    page.go_back()  # the checkout: the cart was emptied by the payment
    expect(page.get_by_test_id("cart-empty")).to_be_visible()
    if records:
        [stored] = records.orders(address.email)
        assert stored.status == "paid"


def test_two_tabs_on_one_order_both_turn_to_paid(page: Page, address, records):
    """The order page open in a second tab while paying in the first: both show "paid", by themselves."""
    review = check_out(page, address, "pine-cutting-board", option="Small (30 cm)")
    second = page.context.new_page()
    watcher = OrderPage(second).open(review.order_url)
    expect(watcher.status).to_contain_text(WAITING)
    second.evaluate("window.stillTheSamePage = true")
    order = review.pay_with_twint().authorize()
    expect(order.status).to_contain_text(PAID)
    expect(watcher.status).to_contain_text(PAID)  # its poll saw it
    assert second.evaluate("window.stillTheSamePage") is True
    expect(watcher.cart_count).to_have_text("0")  # the badge came along with the status
    if records:
        assert [o.status for o in records.orders(address.email)] == ["paid"]


def test_the_last_unit_bought_by_two_customers_at_once(new_context, new_product, records):
    """One unit left, two customers press "Continue to review" at the same moment: one pays, the other is told
    it is sold out; stock never goes below zero."""
    slug = new_product(name="Last Lantern", stock=1)
    customers = [Address(email=f"{name}-{slug}@example.ch", name=name.title()) for name in ("anna", "beat")]
    pages = [new_context().new_page() for _ in customers]
    for page, customer in zip(pages, customers, strict=True):
        ProductPage(page).open(slug).add_to_cart()
        CheckoutPage(page).open().fill(customer, delivery=PICK_UP)
    for page in pages:  # both submit before either answer arrives
        page.evaluate("document.querySelector('form.checkout-form').requestSubmit()")
    for page in pages:
        expect(page.get_by_test_id("pay-button").or_(page.get_by_test_id("checkout-error"))).to_be_visible()
    winners = [page for page in pages if page.get_by_test_id("pay-button").count() == 1]
    assert len(winners) == 1, "exactly one customer may reach the payment"
    [loser] = [page for page in pages if page not in winners]
    expect(CheckoutPage(loser).error).to_have_text("Sorry, not enough left of: Last Lantern. Please change your cart.")
    order = ReviewPage(winners[0]).pay_with_twint().authorize()
    expect(order.status).to_contain_text(PAID)
    ProductPage(loser).open(slug)
    expect(loser.get_by_text("Sold out")).to_be_visible()
    assert records.stock(slug.upper()) == 0
    paid = [records.orders(customer.email) for customer in customers]
    assert sorted(len(orders) for orders in paid) == [0, 1]
    assert [o.status for orders in paid for o in orders] == ["paid"]
