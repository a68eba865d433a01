"""The checkout form's rules: what a Swiss or Liechtenstein delivery address needs, with a message
per field, in the customer's language."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from storefront.i18n import gettext as _
from storefront.orders.placing import Customer
from storefront.shipping import COUNTRIES, ShippingMethod, shipping_method

FIELDS = ("email", "name", "phone", "street", "postal_code", "city", "country", "shipping")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[0-9 ()/.-]{7,20}")
LI_POSTCODES = range(9485, 9499)  # Liechtenstein's 4-digit postcodes, 9485-9498


@dataclass
class CheckoutForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> CheckoutForm:
        return cls({name: "" for name in FIELDS} | {"country": "CH", "shipping": "b_post"})

    @classmethod
    def read(cls, form: dict[str, str]) -> CheckoutForm:
        values = {name: " ".join(str(form.get(name) or "").split())[:254] for name in FIELDS}
        checked = cls(values)
        checked.check()
        return checked

    def check(self) -> None:
        v, errors = self.values, self.errors
        if not EMAIL_PATTERN.fullmatch(v["email"]):
            errors["email"] = _("Please enter your e-mail address, e.g. anna@example.ch.")
        if len(v["name"]) < 2:
            errors["name"] = _("Please enter your first and last name.")
        if v["phone"] and not _PHONE.fullmatch(v["phone"]):
            errors["phone"] = _("Please enter a phone number, e.g. 079 123 45 67, or leave it empty.")
        method = shipping_method(v["shipping"])
        if method is None:
            errors["shipping"] = _("Please choose how you want to receive your order.")
        elif not method.ships:  # picked up in the shop: no address is asked, none is kept
            v.update(street="", postal_code="", city="", country="CH")
            return
        if len(v["street"]) < 3:
            errors["street"] = _("Please enter the street and house number.")
        if v["country"] not in COUNTRIES:
            errors["country"] = _("We deliver to Switzerland and Liechtenstein.")
        if not re.fullmatch(r"[1-9][0-9]{3}", v["postal_code"]):
            errors["postal_code"] = _("Please enter the 4-digit postcode, e.g. 8001.")
        elif v["country"] == "LI" and int(v["postal_code"]) not in LI_POSTCODES:
            errors["postal_code"] = _("Liechtenstein postcodes run from 9485 to 9498.")
        elif v["country"] == "CH" and int(v["postal_code"]) in LI_POSTCODES:
            errors["postal_code"] = _("This postcode is in Liechtenstein; please choose Liechtenstein as the country.")
        if len(v["city"]) < 2:
            errors["city"] = _("Please enter the town.")

    @property
    def valid(self) -> bool:
        return not self.errors

    def customer(self) -> Customer:
        v = self.values
        return Customer(
            email=v["email"],
            name=v["name"],
            phone=v["phone"] or None,
            street=v["street"],
            postal_code=v["postal_code"],
            city=v["city"],
            country=v["country"],
        )

    def shipping(self) -> ShippingMethod:
        method = shipping_method(self.values["shipping"])
        assert method is not None
        return method
