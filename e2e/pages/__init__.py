"""Page objects: what a customer sees and does on each page, named as the customer would."""

from e2e.pages.cart import CartPage
from e2e.pages.catalog import CatalogPage
from e2e.pages.checkout import Address, CheckoutPage, OrderPage, PayPage, TwintPage
from e2e.pages.product import ProductPage

__all__ = ["Address", "CartPage", "CatalogPage", "CheckoutPage", "OrderPage", "PayPage", "ProductPage", "TwintPage"]
