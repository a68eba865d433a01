"""Money is an `int` of Rappen everywhere. This module parses it, splits VAT out of gross
prices and writes CHF the way each Swiss locale does (docs/swiss.md)."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

NBSP = "\u00a0"
NARROW_NBSP = "\u202f"

# TWINT settles any Rappen amount, so nothing here rounds to 5 Rappen (docs/swiss.md, "Rounding").

_CHF_INPUT = re.compile(r"(?P<francs>\d{1,7})(?:\.(?P<rappen>\d{2}))?")


def parse_chf(text: str) -> int:
    """`"49.90"` → 4990. Accepts whole francs or exactly two decimals; nothing else."""
    match = _CHF_INPUT.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a CHF amount such as 49.90")
    return int(match["francs"]) * 100 + int(match["rappen"] or 0)


def plain_chf(rappen: int) -> str:
    """4990 → `"49.90"`: the plain form that forms, files and spreadsheets read (`parse_chf` reads it back)."""
    sign = "-" if rappen < 0 else ""
    return f"{sign}{abs(rappen) // 100}.{abs(rappen) % 100:02d}"


def _group(digits: str, separator: str) -> str:
    groups: list[str] = []
    while len(digits) > 3:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    groups.insert(0, digits)
    return separator.join(groups)


def format_chf(rappen: int, locale: str = "de", *, whole: bool = False) -> str:
    """CLDR's CHF patterns as browsers write them (`Intl.NumberFormat`); Babel's fr_CH is wrong.

    de-CH / en-CH: `CHF 1'234.50`, negative `CHF-1'234.50`
    fr-CH: `1 234.50 CHF`, groups by a narrow no-break space, negative `-1 234.50 CHF`
    it-CH: `CHF 1234.50`, grouped only from five digits: `CHF 12'345.50`
    The space between amount and `CHF` is a no-break space everywhere. With `whole`, a round
    amount in a sentence leaves out its Rappen: "up to CHF 5'000".
    """
    sign = "-" if rappen < 0 else ""
    francs, cents = divmod(abs(rappen), 100)
    digits = str(francs)
    fraction = "" if whole and cents == 0 else f".{cents:02d}"
    language = locale.replace("-", "_").split("_")[0]
    if language == "fr":
        return f"{sign}{_group(digits, NARROW_NBSP)}{fraction}{NBSP}CHF"
    grouped = digits if language == "it" and len(digits) < 5 else _group(digits, "'")
    return f"CHF{'' if sign else NBSP}{sign}{grouped}{fraction}"


# --- VAT -----------------------------------------------------------------------------------------
#
# Prices are gross (incl. VAT). The VAT in a gross amount G at rate r % is G * r / (100 + r).
# Rounding rule, one for the whole shop: VAT is computed per rate on the sum of the gross line
# totals of that rate, rounded half up to the Rappen. It is never rounded to 5 Rappen, and no line
# is rounded on its own, so the VAT lines always add up with the total (nopCommerce#3949).

_RATES_FILE = Path(__file__).with_name("vat_rates.toml")
SWISS_TIME = ZoneInfo("Europe/Zurich")


def swiss_today() -> dt.date:
    """The date in Switzerland, which decides the VAT rates, whatever the server's time zone."""
    return dt.datetime.now(SWISS_TIME).date()


class VatClass(StrEnum):
    """Swiss VAT categories; their rates are dated data in `storefront/vat_rates.toml`."""

    STANDARD = "standard"
    REDUCED = "reduced"
    ACCOMMODATION = "accommodation"


@dataclass(frozen=True, slots=True)
class VatEra:
    valid_from: dt.date
    source: str
    rates: dict[VatClass, Decimal]


def _load_eras() -> tuple[VatEra, ...]:
    with _RATES_FILE.open("rb") as handle:
        data = tomllib.load(handle)
    eras = [
        VatEra(
            valid_from=era["valid_from"],
            source=era["source"],
            rates={vat_class: Decimal(era[vat_class.value]) for vat_class in VatClass},
        )
        for era in data["era"]
    ]
    return tuple(sorted(eras, key=lambda era: era.valid_from))


VAT_ERAS = _load_eras()


def vat_rate(vat_class: VatClass | str, on: dt.date) -> Decimal:
    """The rate in per cent in force on `on` for a VAT class."""
    in_force = [era for era in VAT_ERAS if era.valid_from <= on]
    if not in_force:
        raise ValueError(f"no Swiss VAT rates are known for {on.isoformat()}")
    return in_force[-1].rates[VatClass(vat_class)]


def vat_in_gross(gross: int, rate: Decimal) -> int:
    """The VAT contained in a gross amount of Rappen, rounded half up to the Rappen."""
    numerator = gross * rate
    denominator = 100 + rate
    whole, remainder = divmod(numerator, denominator)
    return int(whole) + (1 if remainder * 2 >= denominator else 0)


@dataclass(frozen=True, slots=True)
class VatLine:
    rate: Decimal
    gross: int
    vat: int


def vat_breakdown(lines: Iterable[tuple[int, VatClass | str]], on: dt.date) -> list[VatLine]:
    """(gross line total, VAT class) pairs → one `VatLine` per rate, highest rate first."""
    gross_per_rate: dict[Decimal, int] = {}
    for gross, vat_class in lines:
        rate = vat_rate(vat_class, on)
        gross_per_rate[rate] = gross_per_rate.get(rate, 0) + gross
    return [
        VatLine(rate=rate, gross=gross, vat=vat_in_gross(gross, rate))
        for rate, gross in sorted(gross_per_rate.items(), reverse=True)
    ]


def format_rate(rate: Decimal) -> str:
    """8.1 → `8.1 %`: CLDR's Swiss locales all write the point, and a no-break space before `%`."""
    return f"{rate.normalize():f}{NBSP}%"
