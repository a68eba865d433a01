from __future__ import annotations

import re

from playwright.sync_api import Locator, Page

from e2e.pages.order import OrderPage

AUTHORIZE = re.compile(r"^\s*authori[sz]e test payment\s*$", re.IGNORECASE)
FAIL = re.compile(r"^\s*fail test payment\s*$", re.IGNORECASE)
OPEN_APP = "Open the TWINT app"


class TwintPage:
    """TWINT's test page: the sandbox's, or with Stripe test keys Stripe's own, which has the same
    "Authorize test payment" and "Fail test payment" buttons (only the sandbox's has Cancel and
    "Close without returning"). On a phone the sandbox's shows no QR code but "Open the TWINT app",
    and the app's buttons once the customer has taken that step."""

    def __init__(self, page: Page) -> None:
        self.page = page

    def wait(self) -> TwintPage:
        """Wait for the page; on a phone, open the TWINT app first, as the customer would."""
        self.authorize_button.or_(self.open_app_link).first.wait_for()
        self.page.wait_for_load_state()  # its stylesheet decides which of the two the screen shows
        if self.open_app_link.is_visible():
            self.open_app()
        return self

    @property
    def authorize_button(self) -> Locator:
        return self.page.get_by_role("button", name=AUTHORIZE)

    @property
    def open_app_link(self) -> Locator:
        """The phone's first step: the link that switches to the TWINT app."""
        return self.page.get_by_role("link", name=OPEN_APP)

    @property
    def is_sandbox(self) -> bool:
        return self.page.get_by_test_id("twint-page").count() == 1

    def open_app(self) -> TwintPage:
        self.open_app_link.click()
        self.authorize_button.wait_for()
        return self

    def authorize(self) -> OrderPage:
        self.authorize_button.click()
        return OrderPage(self.page)

    def fail(self) -> OrderPage:
        self.page.get_by_role("button", name=FAIL).click()
        return OrderPage(self.page)

    def cancel(self) -> OrderPage:
        self.page.get_by_role("button", name="Cancel", exact=True).click()
        return OrderPage(self.page)

    def close_without_returning(self) -> TwintPage:
        self.page.get_by_role("button", name="Close without returning").click()
        self.page.get_by_test_id("closed").wait_for()
        return self

    def authorize_without_returning(self) -> TwintPage:
        """Authorize while the sandbox's "customer never returns" switch is on: TWINT stays open."""
        self.authorize_button.click()
        self.page.get_by_test_id("closed").wait_for()
        return self
