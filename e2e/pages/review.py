from __future__ import annotations

from playwright.sync_api import Locator

from e2e.pages.base import ShopPage
from e2e.pages.twint import TwintPage


class ReviewPage(ShopPage):
    """Step 2: the placed order, its total, and the binding "Pay … with TWINT"."""

    @property
    def total(self) -> Locator:
        return self.page.get_by_test_id("order-total")

    @property
    def lines(self) -> Locator:
        return self.page.get_by_test_id("order-lines")

    @property
    def vat_lines(self) -> Locator:
        return self.page.get_by_test_id("vat-line")

    @property
    def pay_button(self) -> Locator:
        return self.page.get_by_test_id("pay-button")

    @property
    def unavailable(self) -> Locator:
        """Shown instead of the pay button while Stripe cannot be reached."""
        return self.page.get_by_test_id("payment-unavailable")

    @property
    def order_url(self) -> str:
        """The order's status page (the review page's address without its last step); read it while
        the review page is shown."""
        assert self.page.url.endswith("/pay"), f"not on the review page but on {self.page.url}"
        return self.page.url.removesuffix("/pay")

    @property
    def payment_intent_id(self) -> str:
        """The order's PaymentIntent, as Stripe.js gets it from the page (its id starts the client secret)."""
        secret = self.pay_button.get_attribute("data-client-secret")
        assert secret is not None, "the pay button carries no client secret"
        return secret.split("_secret_")[0]

    def pay_with_twint(self) -> TwintPage:
        self.pay_button.click()
        return TwintPage(self.page).wait()

    def try_again_after_outage(self) -> ReviewPage:
        self.unavailable.get_by_role("button", name="Try again").click()
        self.page.wait_for_load_state()
        return self
