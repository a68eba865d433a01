"""The back office under `/admin`, as the shop's staff see it: signing in, the orders list with its
tabs and search, and an order's page with shipping, pick-up, cancelling and refunds."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from playwright.sync_api import Locator, Page, expect

# The orders list's tabs, as their links read (the first three are followed by their count).
TO_SHIP = "To ship"
WAITING_FOR_PAYMENT = "Waiting for payment"
NEEDS_ATTENTION = "Needs attention"
SHIPPED = "Shipped"
CANCELLED_ORDERS = "Cancelled"
ALL_ORDERS = "All"

# What a payment or a refund is, on an order's page ("Payments and refunds").
PENDING = "Pending"
REFUNDED = "Refunded"
DUE_BACK = "Due back to the customer"

WRONG_SIGN_IN = "The e-mail address or the password is wrong."


class AdminPage:
    """What every back-office page has: the header with who is signed in, and "Sign out"."""

    def __init__(self, page: Page) -> None:
        self.page = page

    @property
    def main(self) -> Locator:
        return self.page.get_by_role("main")

    @property
    def heading(self) -> Locator:
        return self.page.get_by_role("heading", level=1)

    @property
    def signed_in_as(self) -> Locator:
        """The signed-in account and its role, e.g. "anna@example.ch (owner)", beside "Sign out"."""
        return self.page.get_by_role("banner").get_by_text(re.compile(r"@.*\((owner|staff)\)"))

    @property
    def sign_out_button(self) -> Locator:
        return self.page.get_by_role("button", name="Sign out")

    def sign_out(self) -> SignInPage:
        self.sign_out_button.click()
        self.page.wait_for_url(re.compile(r"/admin/sign-in$"))
        return SignInPage(self.page)

    @property
    def message(self) -> Locator:
        """What a finished action says (e.g. "Marked as shipped. …"), at the top of the page."""
        return self.main.get_by_role("status")

    @property
    def error(self) -> Locator:
        """What went wrong with the last form, at the top of the page."""
        return self.main.get_by_role("alert")


class SignInPage(AdminPage):
    """`/admin/sign-in`: e-mail and password; afterwards the orders list (or where the person was going)."""

    def open(self) -> SignInPage:
        self.page.goto("/admin/sign-in")
        return self

    @property
    def email(self) -> Locator:
        return self.page.get_by_label("E-mail")

    @property
    def password(self) -> Locator:
        return self.page.get_by_label("Password")

    @property
    def sign_in_button(self) -> Locator:
        return self.page.get_by_role("button", name="Sign in")

    def fill(self, email: str, password: str) -> SignInPage:
        self.email.fill(email)
        self.password.fill(password)
        return self

    def sign_in(self, email: str, password: str) -> OrdersPage:
        """Sign in and arrive on the orders list; fails here, with the page's message, if refused."""
        self.fill(email, password).sign_in_button.click()
        orders = OrdersPage(self.page)
        expect(orders.heading.filter(has_text="Orders").or_(self.error)).to_be_visible()
        if self.error.count():
            raise AssertionError(f"signing in as {email} was refused: {self.error.inner_text()}")
        return orders

    def sign_in_refused(self, email: str, password: str) -> SignInPage:
        """Sign in with something wrong: the same page, with its message."""
        self.fill(email, password).sign_in_button.click()
        expect(self.error).to_be_visible()
        return self


class OrdersPage(AdminPage):
    """`/admin/orders`: a tab per state (with its count where it asks for action), a search, and
    a row per order. htmx swaps the list (`#orders`) and pushes the address; the rest of the page
    stays."""

    def open(self, tab: str | None = None, query: str | None = None) -> OrdersPage:
        """The list at its address: `tab` as the address names it ("to-ship", "waiting", "attention",
        "shipped", "cancelled", "all"), `query` a search."""
        params = urlencode({key: value for key, value in (("tab", tab), ("q", query)) if value})
        self.page.goto("/admin/orders" + (f"?{params}" if params else ""))
        return self

    @property
    def tabs(self) -> Locator:
        return self.page.get_by_role("navigation", name="Order tabs")

    def tab(self, name: str) -> Locator:
        """A tab's link, e.g. `tab("To ship")`, whose text is its name and, on the tabs that ask
        for action, its count."""
        return self.tabs.get_by_role("link", name=re.compile(rf"^{re.escape(name)}(\s+\d+)?$"))

    def show(self, name: str) -> OrdersPage:
        self.tab(name).click()
        expect(self.tab(name)).to_have_attribute("aria-current", "page")
        return self

    @property
    def search_field(self) -> Locator:
        return self.page.get_by_label("Find an order by number, name or e-mail")

    @property
    def search_button(self) -> Locator:
        return self.page.get_by_role("search").get_by_role("button", name="Search")

    def search(self, text: str) -> OrdersPage:
        self.search_field.fill(text)
        self.search_button.click()
        expect(self.list.get_by_text(f"Orders matching “{text}”")).to_be_visible()
        return self

    @property
    def list(self) -> Locator:
        """The swapped part: tabs, the table of orders (or "No orders here.")."""
        return self.page.locator("#orders")

    @property
    def rows(self) -> Locator:
        """One row per order (the table's header row not counted)."""
        return self.list.get_by_role("row").filter(has=self.page.get_by_role("rowheader"))

    def row(self, number: str) -> Locator:
        return self.rows.filter(has=self.page.get_by_role("link", name=number, exact=True))

    def order_link(self, number: str) -> Locator:
        """An order's number in its row, linking to the order's page."""
        return self.list.get_by_role("link", name=number, exact=True)

    def open_order(self, number: str) -> AdminOrderPage:
        """Click an order's number in the list: its page."""
        self.order_link(number).click()
        order = AdminOrderPage(self.page)
        expect(order.heading).to_have_text(f"Order {number}")
        return order


class AdminOrderPage(AdminPage):
    """`/admin/orders/<number>`: the next step (ship, pick-up, cancel), the items, "Payments and
    refunds" (which polls by itself while a refund is on its way) and, for owners, "Refund"."""

    def open(self, number: str) -> AdminOrderPage:
        self.page.goto(f"/admin/orders/{number}")
        return self

    @property
    def number(self) -> str:
        return self.heading.inner_text().split()[-1]

    @property
    def states(self) -> Locator:
        """The order's state, its fulfilment and what was refunded, under the heading."""
        return self.main.locator(".order-states")

    # --- the next step ---------------------------------------------------------------------------

    @property
    def tracking_field(self) -> Locator:
        return self.page.get_by_label("Swiss Post tracking number")

    @property
    def ship_button(self) -> Locator:
        return self.page.get_by_role("button", name="Mark as shipped")

    def ship(self, tracking: str = "") -> AdminOrderPage:
        self.tracking_field.fill(tracking)
        return self._submit(self.ship_button, "shipped")

    def tracking_link(self, tracking: str) -> Locator:
        """The tracking number, once shipped, linking to Swiss Post's tracking page."""
        return self.main.get_by_role("link", name=tracking, exact=True)

    def ready_for_pickup(self) -> AdminOrderPage:
        return self._submit(self.page.get_by_role("button", name="Ready for pick-up"), "ready")

    def picked_up(self) -> AdminOrderPage:
        return self._submit(self.page.get_by_role("button", name="Picked up"), "picked-up")

    @property
    def cancel_button(self) -> Locator:
        return self.page.get_by_role("button", name="Cancel order")

    def cancel(self) -> AdminOrderPage:
        return self._submit(self.cancel_button, "cancelled")

    def _submit(self, button: Locator, what: str) -> AdminOrderPage:
        with self.page.expect_navigation():
            button.click()
        return self.done(what)

    def done(self, what: str) -> AdminOrderPage:
        """After an action's form was sent: back on the order's page with what was done (the address
        ends in `?done=<what>`, the page says it), or fail with the message the shop answered with."""
        self.page.wait_for_url(re.compile(rf"\?done={what}$|/admin/orders/[^/?]+/[\w/-]+$"))
        if self.error.count():
            raise AssertionError(f"the shop refused it ({self.page.url}): {self.error.inner_text()}")
        expect(self.page).to_have_url(re.compile(rf"\?done={what}$"))
        expect(self.message).to_be_visible()
        return self

    # --- payments and refunds --------------------------------------------------------------------

    @property
    def payments(self) -> Locator:
        """The section "Payments and refunds": each payment with its state and its refunds."""
        return self.page.get_by_role("region", name="Payments and refunds")

    def payment(self, intent_id: str) -> Locator:
        """One payment of the order (a box without a role of its own), found by its PaymentIntent's id."""
        return self.payments.locator(".payment").filter(has=self.page.get_by_text(intent_id, exact=True))

    def payment_state(self, payment: Locator) -> Locator:
        """A payment's first line: its amount and its state (e.g. "CHF 6.90 · Refunded"), its id and time."""
        return payment.get_by_role("paragraph").first

    def refunds(self, within: Locator | None = None) -> Locator:
        """The refunds listed under the payments (or under one payment), each with its state."""
        return (within or self.payments).get_by_role("listitem")

    def refund_due_button(self, within: Locator | None = None) -> Locator:
        """ "Refund CHF …": gives back a payment that came in but is due back (e.g. paid twice)."""
        return (within or self.payments).get_by_role("button", name=re.compile(r"^Refund CHF"))

    def refund_due(self, within: Locator | None = None) -> AdminOrderPage:
        return self._submit(self.refund_due_button(within), "refund")

    @property
    def refund_form(self) -> Locator:
        """The section "Refund" (only for owners, while something is left to refund)."""
        return self.page.get_by_role("region", name="Refund", exact=True)

    def units_to_refund(self, item: str) -> Locator:
        """The number of units to refund of a line, labelled e.g. "Enamel Mountain Mug, CHF 22.00"."""
        return self.refund_form.get_by_role("spinbutton", name=item)

    def refund_items(
        self, units: dict[str, int], reason: str, *, delivery: bool = False, restock: bool = False
    ) -> AdminOrderPage:
        """Refund units of lines (named as their labels start), perhaps with the delivery fee and
        putting the units back in stock."""
        form = self.refund_form
        form.get_by_role("radio", name="Items", exact=True).check()
        for item, count in units.items():
            self.units_to_refund(item).fill(str(count))
        fee = form.get_by_role("checkbox", name=re.compile(r"^and the delivery fee"))
        if delivery or fee.count():  # only orders with a delivery fee have the box
            fee.set_checked(delivery)
        form.get_by_role("checkbox", name="Put these units back in stock").set_checked(restock)
        return self._send_refund(reason)

    def refund_amount(self, amount: str, reason: str) -> AdminOrderPage:
        form = self.refund_form
        form.get_by_role("radio", name="An amount").check()
        form.get_by_label("Amount in CHF").fill(amount)
        return self._send_refund(reason)

    def refund_everything(self, reason: str) -> AdminOrderPage:
        self.refund_form.get_by_role("radio", name=re.compile(r"^Everything left")).check()
        return self._send_refund(reason)

    def _send_refund(self, reason: str) -> AdminOrderPage:
        self.refund_form.get_by_label("Reason").fill(reason)
        return self._submit(self.refund_form.get_by_role("button", name="Refund through Stripe"), "refund")


class ProductFormPage(AdminPage):
    """`/admin/products/new` and `/admin/products/<id>/edit` (owners): the product's texts, a group
    of fields per variant ("Variant 1", …), its pictures with their texts, and "Create the product"
    or "Save the product"."""

    def open_new(self) -> ProductFormPage:
        self.page.goto("/admin/products/new")
        return self

    def field(self, label: str) -> Locator:
        return self.main.get_by_label(label, exact=True)

    def variant(self, number: int) -> Locator:
        return self.main.get_by_role("group", name=f"Variant {number}", exact=True)

    def variant_field(self, number: int, label: str) -> Locator:
        return self.variant(number).get_by_label(label, exact=True)

    @property
    def save_button(self) -> Locator:
        return self.main.get_by_role("button", name=re.compile(r"^(Create|Save) the product$"))

    @property
    def problems(self) -> Locator:
        """The list of problems above the form after a refused save, each linking to its field."""
        return self.main.get_by_role("alert")

    @property
    def pictures(self) -> Locator:
        """The product's pictures, each with its text and "Remove this picture"."""
        return self.main.locator(".picture-list > li")
