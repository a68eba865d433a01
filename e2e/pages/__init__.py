"""Page objects: what a customer sees and does on each page, named as the customer would."""

from e2e.pages.cart import CartPage
from e2e.pages.catalog import CatalogPage
from e2e.pages.checkout import B_POST, PICK_UP, Address, CheckoutPage
from e2e.pages.order import CANCELLED, FAILED, PAID, WAITING, OrderPage
from e2e.pages.product import ProductPage
from e2e.pages.review import ReviewPage
from e2e.pages.twint import TwintPage

__all__ = [
    "B_POST",
    "CANCELLED",
    "FAILED",
    "PAID",
    "PICK_UP",
    "WAITING",
    "Address",
    "CartPage",
    "CatalogPage",
    "CheckoutPage",
    "OrderPage",
    "ProductPage",
    "ReviewPage",
    "TwintPage",
]
