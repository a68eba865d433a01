from __future__ import annotations

import re
from typing import TYPE_CHECKING

from playwright.sync_api import Locator

from e2e.pages.base import ShopPage

if TYPE_CHECKING:
    from e2e.pages.review import ReviewPage

PAID = "Paid. Thank you!"
FAILED = "The payment did not go through"
CANCELLED = "The order was cancelled"
WAITING = "Waiting for TWINT"


class OrderPage(ShopPage):
    """Step 3: the order's page; its status updates by itself until the payment is final."""

    def open(self, url: str) -> OrderPage:
        self.page.goto(url)
        return self

    @property
    def status(self) -> Locator:
        return self.page.get_by_test_id("payment-status")

    @property
    def number(self) -> str:
        self.page.wait_for_url(re.compile(r"/orders/[\w-]+$"))
        return self.page.get_by_role("heading", level=1).inner_text().split()[-1]

    @property
    def lines(self) -> Locator:
        return self.page.get_by_test_id("order-lines")

    def try_again(self) -> ReviewPage:
        from e2e.pages.review import ReviewPage  # the review page leads here, and back

        self.page.get_by_role("link", name="Try again with TWINT").click()
        return ReviewPage(self.page)
