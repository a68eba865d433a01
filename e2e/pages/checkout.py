from __future__ import annotations

from dataclasses import dataclass

from playwright.sync_api import Locator

from e2e.pages.base import ShopPage
from e2e.pages.review import ReviewPage


@dataclass(frozen=True)
class Address:
    email: str = "anna.muster@example.ch"
    name: str = "Anna Muster"
    street: str = "Bahnhofstrasse 1"
    postal_code: str = "8001"
    city: str = "Zürich"


B_POST = "Swiss Post B-Post (2-3 working days)"
PICK_UP = "Pick-up in our shop"


class CheckoutPage(ShopPage):
    """Step 1: the delivery address and how the parcel travels."""

    def open(self) -> CheckoutPage:
        self.page.goto(self.address("/checkout"))
        return self

    def fill(self, address: Address = Address(), delivery: str = B_POST) -> CheckoutPage:
        self.page.get_by_label("E-mail").fill(address.email)
        self.page.get_by_label("First and last name").fill(address.name)
        self.page.get_by_label("Street and number").fill(address.street)
        self.page.get_by_label("Postcode").fill(address.postal_code)
        self.page.get_by_label("Town").fill(address.city)
        self.page.get_by_role("radio", name=delivery).check()
        return self

    def continue_to_review(self) -> ReviewPage:
        """Places the order (stock is reserved now) and shows the review page, or this form with a message."""
        self.page.get_by_test_id("to-review").click()
        self.page.wait_for_load_state()
        return ReviewPage(self.page)

    @property
    def error(self) -> Locator:
        """The message above the form when the order could not be placed (e.g. sold out meanwhile)."""
        return self.page.get_by_test_id("checkout-error")

    def error_for(self, label: str) -> Locator:
        field_id = self.page.get_by_label(label).get_attribute("id")
        return self.page.locator(f"#{field_id}-error")
