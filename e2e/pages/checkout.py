from __future__ import annotations

from dataclasses import dataclass

from playwright.sync_api import Locator, Page

from e2e.pages.base import ShopPage


@dataclass(frozen=True)
class Address:
    email: str = "anna.muster@example.ch"
    name: str = "Anna Muster"
    street: str = "Bahnhofstrasse 1"
    postal_code: str = "8001"
    city: str = "Zürich"


class CheckoutPage(ShopPage):
    def open(self) -> CheckoutPage:
        self.page.goto("/checkout")
        return self

    def fill(
        self, address: Address = Address(), delivery: str = "Swiss Post B-Post (2-3 working days)"
    ) -> CheckoutPage:
        self.page.get_by_label("E-mail").fill(address.email)
        self.page.get_by_label("First and last name").fill(address.name)
        self.page.get_by_label("Street and number").fill(address.street)
        self.page.get_by_label("Postcode").fill(address.postal_code)
        self.page.get_by_label("Town").fill(address.city)
        self.page.get_by_role("radio", name=delivery).check()
        return self

    def continue_to_review(self) -> PayPage:
        self.page.get_by_test_id("to-review").click()
        return PayPage(self.page)

    def error_for(self, label: str) -> Locator:
        field_id = self.page.get_by_label(label).get_attribute("id")
        return self.page.locator(f"#{field_id}-error")


class PayPage(ShopPage):
    @property
    def total(self) -> Locator:
        return self.page.get_by_test_id("order-total")

    def pay_with_twint(self) -> TwintPage:
        self.page.get_by_test_id("pay-button").click()
        self.page.get_by_test_id("twint-page").wait_for()
        return TwintPage(self.page)


class TwintPage:
    """The sandbox's TWINT page (with Stripe test keys, Stripe's own test page has the same buttons)."""

    def __init__(self, page: Page) -> None:
        self.page = page

    def authorize(self) -> OrderPage:
        self.page.get_by_role("button", name="Authorize test payment").click()
        return OrderPage(self.page)

    def fail(self) -> OrderPage:
        self.page.get_by_role("button", name="Fail test payment").click()
        return OrderPage(self.page)


class OrderPage(ShopPage):
    @property
    def status(self) -> Locator:
        return self.page.get_by_test_id("payment-status")

    def try_again(self) -> PayPage:
        self.page.get_by_role("link", name="Try again with TWINT").click()
        return PayPage(self.page)
