"""The shop's back office under /admin: signing in and out, finding an order, shipping it, refunds
(part of an order, and money paid twice), cancelling an unpaid order, what a staff account may not
do, all of it by keyboard and without serious accessibility violations, on a desktop and a phone."""

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from e2e.pages import (
    B_POST,
    CANCELLED,
    WAITING,
    AdminOrderPage,
    OrderPage,
    OrdersPage,
    ProductFormPage,
    ProductPage,
    SignInPage,
    TwintPage,
)
from e2e.pages.admin import (
    ALL_ORDERS,
    DUE_BACK,
    NEEDS_ATTENTION,
    PENDING,
    REFUNDED,
    SHIPPED,
    TO_SHIP,
    WAITING_FOR_PAYMENT,
    WRONG_SIGN_IN,
)
from e2e.steps import change_stock, check_out, chf, fits_the_screen, paid_order, serious_violations, sign_in, tab_to

TRACKING = "99.00.123456.12345678"
SWISS_POST = "https://service.post.ch/ekp-web/ui/entry/search/"
PHONE = {"width": 390, "height": 844}
# Sold by the journeys that need a paid order but no stock of their own: plenty of it in the demo.
CHOCOLATE = "dark-chocolate"


def test_sign_in_with_a_wrong_then_the_right_password_and_sign_out(page: Page, owner):
    """A wrong password: a message, the e-mail kept, no way in; the right one: the orders list; "Sign out":
    back to signing in, and the list closed again."""
    page.goto("/admin/orders")
    expect(page).to_have_url(re.compile(r"/admin/sign-in\?next=/admin/orders$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    refused = SignInPage(page).sign_in_refused(owner.email, "not-the-password-at-all")
    expect(refused.error).to_have_text(WRONG_SIGN_IN)
    expect(refused.email).to_have_value(owner.email)
    expect(refused.password).to_have_value("")
    orders = refused.sign_in(owner.email, owner.password)
    expect(page).to_have_url(re.compile(r"/admin/orders$"))
    expect(orders.signed_in_as).to_have_text(f"{owner.email} (owner)")
    expect(orders.tab(ALL_ORDERS)).to_be_visible()
    signed_out = orders.sign_out()
    expect(signed_out.heading).to_have_text("Sign in to the back office")
    expect(signed_out.sign_out_button).to_have_count(0)
    page.goto("/admin/orders")  # the session is over
    expect(page).to_have_url(re.compile(r"/admin/sign-in\?next=/admin/orders$"))


def test_find_an_order_by_its_number(page: Page, address, back_office: OrdersPage):
    """A customer's paid order, searched by its number under "To ship": that order alone, with its customer and
    total, linking to its page; the list is swapped in place and its address can be shared."""
    number = paid_order(page, address, CHOCOLATE, delivery=B_POST)
    orders = back_office
    expect(orders.tab(TO_SHIP)).to_have_attribute("aria-current", "page")
    orders.page.evaluate("window.stillTheSamePage = true")
    orders.search(number)
    expect(orders.row(number)).to_have_count(1)
    expect(orders.rows.filter(has_not_text=number)).to_have_count(0)  # (an e-mail address may hold the digits)
    expect(orders.row(number)).to_contain_text(address.email)
    expect(orders.row(number)).to_contain_text(chf("13.90"))  # 6.90 + B-Post 7.00
    expect(orders.row(number)).to_contain_text("Paid")
    expect(orders.order_link(number)).to_have_attribute("href", f"/admin/orders/{number}")
    expect(orders.search_field).to_have_value(number)
    expect(orders.page).to_have_url(re.compile(rf"/admin/orders\?tab=to-ship&q={number}$"))
    assert orders.page.evaluate("window.stillTheSamePage") is True  # htmx swapped the list alone
    orders.search(address.email)  # by the customer's e-mail address, too
    expect(orders.rows).to_have_count(1)
    expect(orders.order_link(number)).to_be_visible()
    orders.page.reload()  # the address pushed by htmx shows the same list
    expect(orders.search_field).to_have_value(address.email)
    expect(orders.rows).to_have_count(1)


def test_clicking_an_order_in_the_list_opens_its_page(page: Page, address, back_office: OrdersPage):
    """An order's number in the list, clicked: the order's page."""
    number = paid_order(page, address, CHOCOLATE, delivery=B_POST)
    order = back_office.search(number).open_order(number)
    expect(order.ship_button).to_be_visible()


def test_a_search_stays_on_the_chosen_tab(page: Page, address, back_office: OrdersPage):
    """ "All" chosen, then a search: the search looks through all orders and "All" stays the chosen tab."""
    number = paid_order(page, address, CHOCOLATE, delivery=B_POST)
    orders = back_office.show(ALL_ORDERS).search(number)
    expect(orders.page).to_have_url(re.compile(rf"\?tab=all&q={number}$"), timeout=5_000)
    expect(orders.tab(ALL_ORDERS)).to_have_attribute("aria-current", "page")


def test_ship_an_order_with_a_tracking_number(page: Page, address, back_office: OrdersPage, records):
    """ "Mark as shipped" with a Swiss Post number: the order moves to "Shipped", and the customer's e-mail
    links to Swiss Post's tracking page."""
    number = paid_order(page, address, CHOCOLATE, delivery=B_POST)
    order = AdminOrderPage(back_office.page).open(number)
    expect(order.states).to_contain_text("Not yet sent")
    order.ship(TRACKING)
    expect(order.message).to_have_text("Marked as shipped. The customer gets an e-mail with the tracking link.")
    expect(order.states).to_contain_text("Shipped")
    expect(order.tracking_link(TRACKING)).to_have_attribute("href", SWISS_POST + TRACKING)
    expect(order.ship_button).to_have_count(0)
    orders = OrdersPage(order.page).open(tab="shipped", query=number)
    expect(orders.tab(SHIPPED)).to_have_attribute("aria-current", "page")
    expect(orders.row(number)).to_contain_text("Shipped")
    if records:
        assert records.emails(number) == ["order_paid", "order_shipped"]
        email = records.sent_email(number, subject="has been shipped")
        assert SWISS_POST + TRACKING in email


def test_refund_one_of_two_units(page: Page, address, back_office: OrdersPage, records, new_product):
    """One of two units refunded and put back in stock: "Pending", then "Refunded" once Stripe has paid it out,
    without reloading the page; the customer gets an e-mail about it."""
    slug = new_product(name="QA Refund Lantern", price="25.00", stock=5)
    number = paid_order(page, address, slug, quantity=2, delivery=B_POST)  # 2 × 25.00 + 7.00
    assert records.stock(slug.upper()) == 3
    order = AdminOrderPage(back_office.page).open(number)
    expect(order.units_to_refund("QA Refund Lantern")).to_have_attribute("max", "2")
    order.refund_items({"QA Refund Lantern": 1}, "one arrived broken", restock=True)
    expect(order.message).to_contain_text("The refund was sent to Stripe.")
    expect(order.refunds()).to_have_count(1)
    expect(order.refunds()).to_contain_text(f"Refund {chf('25.00')} · {PENDING}")
    order.page.evaluate("window.stillTheSamePage = true")
    expect(order.refunds()).to_contain_text(f"Refund {chf('25.00')} · {REFUNDED}")  # the section polls
    assert order.page.evaluate("window.stillTheSamePage") is True
    assert records.stock(slug.upper()) == 4  # the unit is back on the shelf
    assert records.order(number).status == "paid"  # the rest of the order stands
    email = records.sent_email(number, subject="Refund for your order")
    assert "25.00" in email
    assert [kind for kind in records.emails(number) if kind.startswith("refund_")] != []
    order.page.reload()  # what is left to refund: one unit
    expect(order.states).to_contain_text(f"{chf('25.00')} refunded")
    expect(order.units_to_refund("QA Refund Lantern")).to_have_attribute("max", "1")


def test_a_second_payment_of_a_paid_order_is_refunded_with_one_click(
    page: Page, address, back_office: OrdersPage, records, sandbox, base_url, needs_local_shop
):
    """TWINT took the money twice (a second PaymentIntent for a paid order): the order needs attention, the
    second payment is "Due back to the customer", and one click on "Refund CHF …" gives it back."""
    number = paid_order(page, address, CHOCOLATE)
    stored = records.order(number)
    first = sandbox.intent(stored.payment_intent_id)
    second = sandbox.stripe.v1.payment_intents.create(
        params={
            "amount": stored.total,
            "currency": "chf",
            "allowed_payment_method_types": ["twint"],
            "metadata": first.metadata.to_dict(),
        }
    )
    confirmed = sandbox.stripe.v1.payment_intents.confirm(
        second.id, params={"payment_method_data": {"type": "twint"}, "return_url": f"{base_url}/"}
    )
    assert confirmed.next_action is not None and confirmed.next_action.redirect_to_url is not None
    page.goto(str(confirmed.next_action.redirect_to_url.url))
    TwintPage(page).wait().authorize()
    sandbox.wait_for_deliveries(second.id, "payment_intent.succeeded")
    assert records.order(number).needs_refund

    orders = back_office.show(NEEDS_ATTENTION)
    expect(orders.row(number)).to_contain_text("Needs attention")
    order = orders.open_order(number)
    expect(order.payment_state(order.payment(first.id))).to_contain_text(f"{chf('6.90')} · Succeeded")
    due = order.payment(second.id)
    expect(order.payment_state(due)).to_contain_text(f"{chf('6.90')} · {DUE_BACK}")
    expect(order.refund_due_button(due)).to_have_text(f"Refund {chf('6.90')}")
    order.refund_due(due)
    expect(order.refunds(due)).to_have_count(1)
    order.page.evaluate("window.stillTheSamePage = true")
    expect(order.refunds(due)).to_contain_text(f"Refund {chf('6.90')} · {REFUNDED}")  # the section polls
    expect(order.payment_state(due)).to_contain_text(f"{chf('6.90')} · {REFUNDED}")
    expect(order.refund_due_button()).to_have_count(0)
    assert order.page.evaluate("window.stillTheSamePage") is True
    expect(order.refunds(order.payment(first.id))).to_have_count(0)  # the order keeps its first payment
    after = records.order(number)
    assert (after.status, after.needs_refund) == ("paid", False)
    orders = OrdersPage(order.page).open(tab="attention")
    expect(orders.row(number)).to_have_count(0)


def test_cancel_an_unpaid_order_and_its_stock_comes_back(
    page: Page, address, back_office: OrdersPage, records, new_product
):
    """The customer left TWINT without paying: "Cancel order" calls the order off, its reserved units come back
    to stock, and the customer's order page says so by itself."""
    slug = new_product(name="QA Cancel Lantern", stock=5)
    sku = slug.upper()
    assert records.stock(sku) == 5
    review = check_out(page, address, slug, quantity=2)
    assert records.stock(sku) == 3  # reserved while the customer pays
    order_url = review.order_url
    review.pay_with_twint()  # … and leaves TWINT without paying
    customer = OrderPage(page).open(order_url)
    expect(customer.status).to_contain_text(WAITING)
    [waiting] = records.orders(address.email)
    assert waiting.status == "pending_payment"

    orders = back_office.search(waiting.number)  # not under "To ship" …
    expect(orders.row(waiting.number)).to_have_count(0)
    orders.show(WAITING_FOR_PAYMENT)  # … but under "Waiting for payment" (the tabs keep the search)
    expect(orders.row(waiting.number)).to_contain_text("Waiting for payment")
    order = orders.open_order(waiting.number)
    order.cancel()
    expect(order.message).to_have_text("The order is cancelled and its stock is back.")
    expect(order.states).to_contain_text("Cancelled")
    expect(order.cancel_button).to_have_count(0)
    assert records.stock(sku) == 5
    assert records.order(waiting.number).status == "cancelled"
    expect(customer.status).to_contain_text(CANCELLED)  # the customer's page polls
    assert records.emails(waiting.number) == []


def test_a_staff_account_cannot_refund(page: Page, address, new_context, staff_member, records):
    """Signed in as staff: the order's page has no refund form, and a refund posted anyway is refused (403)
    while the same session and form token are good for what staff may do."""
    number = paid_order(page, address, CHOCOLATE, delivery=B_POST)
    office = new_context().new_page()
    sign_in(office, staff_member)
    order = AdminOrderPage(office).open(number)
    expect(order.signed_in_as).to_have_text(f"{staff_member.email} (staff)")
    expect(order.payments).to_contain_text("Succeeded")
    expect(order.ship_button).to_be_visible()
    expect(order.refund_form).to_have_count(0)
    expect(office.get_by_role("button", name="Refund through Stripe")).to_have_count(0)
    [token] = [cookie["value"] for cookie in office.context.cookies() if cookie["name"] == "csrftoken"]
    english = {"Accept-Language": "en"}  # what the browser's requests say; Playwright's own do not
    allowed = office.request.post(
        f"/admin/orders/{number}/ship", form={"_csrf_token": token, "tracking": "hello"}, headers=english
    )
    assert allowed.status == 409, allowed.status  # staff may ship: only the tracking number was wrong
    assert "not a Swiss Post consignment number" in allowed.text()
    refused = office.request.post(
        f"/admin/orders/{number}/refunds",
        form={"_csrf_token": token, "what": "all", "reason": "trying", "key": "staff-refund"},
        headers=english,
    )
    assert refused.status == 403, refused.status
    assert "This form has expired" not in refused.text()  # refused for the role, not for the token
    order.open(number)
    expect(order.refunds()).to_have_count(0)
    expect(order.states).to_contain_text("Not yet sent")
    if records:
        assert records.emails(number) == ["order_paid"]
        assert records.order(number).status == "paid"


def test_sign_in_and_ship_with_the_keyboard_alone(page: Page, address, new_context, owner, records):
    """Tab, type and Enter only, each focused control visibly outlined: sign in, find the order and ship it with a
    tracking number."""
    number = paid_order(page, address, CHOCOLATE, delivery=B_POST)
    office = new_context().new_page()
    keys = office.keyboard
    sign_in_page = SignInPage(office).open()
    expect(sign_in_page.email).to_be_focused()  # the page starts there
    keys.type(owner.email)
    tab_to(office, sign_in_page.password)
    keys.type(owner.password)
    tab_to(office, sign_in_page.sign_in_button)
    keys.press("Enter")
    office.wait_for_url(re.compile(r"/admin/orders$"))
    orders = OrdersPage(office)
    tab_to(office, orders.search_field)
    keys.type(number)
    keys.press("Enter")
    expect(orders.order_link(number)).to_be_visible()
    tab_to(office, orders.order_link(number))
    keys.press("Enter")
    order = AdminOrderPage(office)
    expect(order.heading).to_have_text(f"Order {number}")
    tab_to(office, order.tracking_field)
    keys.type(TRACKING)
    tab_to(office, order.ship_button)
    keys.press("Enter")
    order.done("shipped")
    expect(order.tracking_link(TRACKING)).to_be_visible()
    if records:
        assert records.emails(number) == ["order_paid", "order_shipped"]


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_back_office_pages_have_no_serious_violations(page: Page, address, owner, viewport):
    """axe-core on the sign-in page, the orders list (also searched) and an order's page with the owner's refund
    form, before and after shipping: no serious or critical violation, on a desktop and a phone (390×844)."""
    if viewport:
        page.set_viewport_size(viewport)
    number = paid_order(page, address, CHOCOLATE, delivery=B_POST)
    found: dict[str, list[str]] = {}

    def check(step: str) -> None:
        found[step] = serious_violations(page)

    sign_in_page = SignInPage(page).open()
    check("sign-in")
    if viewport is None:  # once a run: failed sign-ins count towards the shop's throttle
        sign_in_page.sign_in_refused(owner.email, "not-the-password-at-all")
        check("sign-in, wrong password")
    orders = sign_in_page.sign_in(owner.email, owner.password)
    check("orders")
    orders.search(number)
    check("orders, searched")
    expect(orders.order_link(number)).to_be_visible()
    order = orders.open_order(number)
    expect(order.refund_form).to_be_visible()
    check("order, with the refund form")
    order.ship(TRACKING)
    check("order, shipped")
    assert {step: problems for step, problems in found.items() if problems} == {}


def test_change_a_variants_stock_and_see_the_product_page_change(page: Page, back_office: OrdersPage, new_product):
    """Staff count the shelf of a product with one unit left and find four more: "+4, found in the back room" in the
    back office, and the product page (already open in another tab) shows 5 in stock after a reload."""
    slug = new_product(name="QA Stock Lantern", stock=1)
    page.goto(f"/en/products/{slug}")
    expect(page.get_by_text("Only 1 left")).to_be_visible()
    office = back_office.page
    change_stock(office, slug.upper(), "+4", "found in the back room")
    expect(office.get_by_test_id(f"stock-{slug.upper()}")).to_have_text("5")
    expect(
        office.get_by_role("region", name="Latest stock changes").or_(
            office.locator("section", has_text="Latest stock changes")
        )
    ).to_contain_text(f"{slug.upper()}: +4 → 5")
    page.reload()
    expect(page.get_by_text("Only 5 left")).to_be_visible()
    assert serious_violations(office) == []


def test_upload_a_catalogue_file_with_a_bad_row_then_a_good_one(back_office: OrdersPage, needs_local_shop, tmp_path):
    """A catalogue file with one bad row: the report names the row and nothing changes; the file mended: the
    dry run's report, then "Apply this file", and the new product is in the shop."""
    office = back_office.page
    slug = f"qa-upload-{uuid.uuid4().hex[:8]}"
    good = f"product,name,sku,price,vat,stock\n{slug},QA Uploaded Lantern,{slug.upper()},25.00,standard,3\n"
    bad = good + "bad slug!,X,QA-BAD-1,1.00,standard,1\n"
    office.get_by_role("link", name="Catalogue file").click()
    (tmp_path / "bad.csv").write_text(bad)
    office.get_by_label("CSV file").set_input_files(tmp_path / "bad.csv")
    office.get_by_role("button", name="Check the file").click()
    expect(office.get_by_role("alert")).to_contain_text("line 3")
    expect(office.get_by_role("button", name="Apply this file")).to_have_count(0)
    (tmp_path / "good.csv").write_text(good)
    office.get_by_label("CSV file").set_input_files(tmp_path / "good.csv")
    office.get_by_role("button", name="Check the file").click()
    expect(office.get_by_test_id("catalogue-report")).to_contain_text(f"created variant {slug.upper()}")
    assert serious_violations(office) == []
    office.get_by_role("button", name="Apply this file").click()
    expect(office.get_by_role("heading", name="Applied: the shop shows the changes now")).to_be_visible()
    office.goto(f"/en/products/{slug}")
    expect(office.get_by_role("heading", level=1)).to_have_text("QA Uploaded Lantern")


def test_download_the_quarters_vat_summary_and_orders(page: Page, address, back_office: OrdersPage):
    """A paid order this quarter, then "VAT figures": its amount at 8.1 %, and both CSV files download with
    the order in them."""
    number = paid_order(page, address, CHOCOLATE, delivery=B_POST)
    office = back_office.page
    office.get_by_role("link", name="VAT figures").click()
    expect(office.get_by_role("table")).to_contain_text("8.1")
    assert serious_violations(office) == []
    with office.expect_download() as summary:
        office.get_by_role("link", name="VAT summary (CSV)").click()
    assert summary.value.suggested_filename.startswith("vat-")
    assert "total" in Path(summary.value.path()).read_text(encoding="utf-8-sig")
    with office.expect_download() as orders:
        office.get_by_role("link", name="Orders of the period, one row per line (CSV)").click()
    assert f"{number}," in Path(orders.value.path()).read_text(encoding="utf-8-sig")


def photo(path: Path) -> Path:
    """A 1600 × 1200 photo, as a phone might take it."""
    from PIL import Image

    Image.new("RGB", (1600, 1200), (96, 140, 72)).save(path, "JPEG")
    return path


def test_create_a_product_with_two_variants_and_a_picture_by_keyboard_and_buy_it(
    page: Page, address, back_office: OrdersPage, tmp_path
):
    """The owner opens "New product" and, by keyboard alone, types a name, two variants (250 g and
    500 g, reduced VAT, their stock) and a picture with its text; "Create the product" saves it. A
    customer finds it in the shop with its picture, chooses 500 g and pays with TWINT."""
    office = back_office.page
    office.get_by_role("link", name="Products", exact=True).click()
    office.get_by_role("link", name="New product").click()
    form = ProductFormPage(office)
    tag = uuid.uuid4().hex[:8]
    name, sku = f"QA Fir Honey {tag}", f"QA-FIR-{tag}".upper()
    keys = office.keyboard

    def type_into(field, text: str) -> None:
        tab_to(office, field, most=120)
        keys.type(text)

    type_into(form.field("Name"), name)
    type_into(form.field("Description"), "Dark honey from the fir forests of the Jura.")
    for number, (option, price, stock) in enumerate([("250 g", "12.50", "4"), ("500 g", "21.00", "2")], start=1):
        type_into(form.variant_field(number, "Option"), option)
        type_into(form.variant_field(number, "SKU"), f"{sku}-{option[:3]}")
        type_into(form.variant_field(number, "Price (CHF)"), price)
        tab_to(office, form.variant_field(number, "VAT"))
        form.variant_field(number, "VAT").select_option("reduced")  # a select's choice, as arrow keys make it
        type_into(form.variant_field(number, "Stock"), stock)
    tab_to(office, form.field("Add a picture"), most=120)  # a file is chosen in the system's dialog
    form.field("Add a picture").set_input_files(photo(tmp_path / "fir-honey.jpg"))
    type_into(form.field("What the new picture shows"), "A jar of dark fir honey")
    tab_to(office, form.save_button, most=120)
    keys.press("Enter")
    expect(form.message).to_contain_text("The product is saved")
    expect(form.pictures).to_have_count(1)
    assert serious_violations(office) == []

    slug = f"qa-fir-honey-{tag}"
    ProductPage(page).open(slug)
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    picture = page.get_by_role("img", name="A jar of dark fir honey")
    expect(picture).to_have_attribute("src", re.compile(r"^/media/[0-9a-f]{20}-640\.webp$"))
    assert picture.evaluate("img => img.complete && img.naturalWidth") > 0  # it loads
    number = paid_order(page, address, slug, option="500 g", delivery=B_POST)
    assert number


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_the_product_form_has_no_serious_violations(back_office: OrdersPage, viewport, tmp_path):
    """axe-core on the empty form, the form with its problems named (and a picture kept), the
    form of a saved product and the products list, on a desktop and a phone; the phone needs no
    sideways scrolling."""
    office = back_office.page
    if viewport:
        office.set_viewport_size(viewport)
    form = ProductFormPage(office).open_new()
    found = {"new": serious_violations(office)}
    form.field("Name").fill(f"QA Axe Candle {uuid.uuid4().hex[:8]}")
    form.variant_field(1, "Price (CHF)").fill("twelve")
    form.field("Add a picture").set_input_files(photo(tmp_path / "candle.jpg"))
    form.save_button.click()
    expect(form.problems).to_contain_text("Enter the price in CHF, such as 24.90.")
    expect(form.pictures).to_have_count(1)  # the picture waits for the next try
    found["with problems"] = serious_violations(office)
    form.variant_field(1, "SKU").fill(f"QA-AXE-{uuid.uuid4().hex[:8]}".upper())
    form.variant_field(1, "Price (CHF)").fill("12.00")
    form.field("Picture 1: what it shows").fill("A beeswax candle")
    form.save_button.click()
    expect(form.message).to_contain_text("The product is saved")
    found["saved"] = serious_violations(office)
    assert fits_the_screen(office)
    office.get_by_role("link", name="Products", exact=True).click()
    found["products and stock"] = serious_violations(office)
    # The list's three columns fit: a phone does not scroll it sideways to reach "Change stock".
    assert office.evaluate("(el => el.scrollWidth <= el.clientWidth)(document.querySelector('.table-scroll'))")
    assert {step: problems for step, problems in found.items() if problems} == {}
