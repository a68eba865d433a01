"""Ways to get an order, with their price incl. VAT (shipping carries the standard rate)."""

from __future__ import annotations

from dataclasses import dataclass

from storefront.i18n import N_

COUNTRIES = {"CH": N_("Switzerland"), "LI": N_("Liechtenstein")}  # where the shop delivers, by ISO code


@dataclass(frozen=True, slots=True)
class ShippingMethod:
    code: str
    label: str  # a message id, translated where it is shown
    price: int
    ships: bool  # False: picked up in the shop


SHIPPING_METHODS = (
    ShippingMethod("a_post", N_("Swiss Post A-Post (next working day)"), 9_00, ships=True),
    ShippingMethod("b_post", N_("Swiss Post B-Post (2-3 working days)"), 7_00, ships=True),
    ShippingMethod("pickup", N_("Pick-up in our shop"), 0, ships=False),
)


def shipping_method(code: str) -> ShippingMethod | None:
    return next((method for method in SHIPPING_METHODS if method.code == code), None)


def shipping_price(method: ShippingMethod, subtotal: int, free_from: int) -> int:
    """Free from `free_from` Rappen of goods (STOREFRONT_FREE_SHIPPING_FROM)."""
    return 0 if subtotal >= free_from else method.price
