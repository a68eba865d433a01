import datetime as dt
from decimal import Decimal

import pytest

from storefront.money import (
    NARROW_NBSP,
    NBSP,
    format_chf,
    format_rate,
    parse_chf,
    plain_chf,
    vat_breakdown,
    vat_in_gross,
    vat_rate,
)

# Expected strings are what Intl.NumberFormat(locale, {style: "currency", currency: "CHF"}) writes
# in current browsers (CLDR), written with explicit no-break spaces.


@pytest.mark.parametrize(
    ("rappen", "expected"),
    [
        (123450, f"CHF{NBSP}1'234.50"),
        (50, f"CHF{NBSP}0.50"),
        (1234550, f"CHF{NBSP}12'345.50"),
        (123456789, f"CHF{NBSP}1'234'567.89"),
        (-123450, "CHF-1'234.50"),
        (0, f"CHF{NBSP}0.00"),
    ],
)
@pytest.mark.parametrize("locale", ["de", "de_CH", "en", "en-CH"])
def test_german_and_english_swiss_format_groups_with_apostrophes(locale, rappen, expected):
    assert format_chf(rappen, locale) == expected


@pytest.mark.parametrize(
    ("rappen", "expected"),
    [
        (123450, f"1{NARROW_NBSP}234.50{NBSP}CHF"),
        (50, f"0.50{NBSP}CHF"),
        (123456789, f"1{NARROW_NBSP}234{NARROW_NBSP}567.89{NBSP}CHF"),
        (-123450, f"-1{NARROW_NBSP}234.50{NBSP}CHF"),
    ],
)
def test_french_swiss_format_puts_chf_last_with_narrow_spaces_and_a_point(rappen, expected):
    assert format_chf(rappen, "fr_CH") == expected


@pytest.mark.parametrize(
    ("rappen", "expected"),
    [
        (123450, f"CHF{NBSP}1234.50"),
        (999999, f"CHF{NBSP}9999.99"),
        (1234550, f"CHF{NBSP}12'345.50"),
        (-123450, "CHF-1234.50"),
    ],
)
def test_italian_swiss_format_groups_only_from_five_digits(rappen, expected):
    assert format_chf(rappen, "it") == expected


@pytest.mark.parametrize(
    ("locale", "rappen", "expected"),
    [
        ("de", 500000, f"CHF{NBSP}5'000"),
        ("en", 500000, f"CHF{NBSP}5'000"),
        ("fr", 500000, f"5{NARROW_NBSP}000{NBSP}CHF"),
        ("it", 500000, f"CHF{NBSP}5000"),
        ("de", 50, f"CHF{NBSP}0.50"),  # Rappen are never dropped when there are any
        ("fr", 1234550, f"12{NARROW_NBSP}345.50{NBSP}CHF"),
    ],
)
def test_a_round_amount_in_a_sentence_can_leave_out_its_rappen(locale, rappen, expected):
    assert format_chf(rappen, locale, whole=True) == expected


@pytest.mark.parametrize(("text", "rappen"), [("49.90", 4990), ("12", 1200), (" 0.05 ", 5), ("5000.00", 500000)])
def test_parse_chf_reads_francs_and_two_decimals(text, rappen):
    assert parse_chf(text) == rappen


@pytest.mark.parametrize("text", ["49,90", "49.9", "1e3", "-1.00", "", "abc", "1'000.00", "49.905"])
def test_parse_chf_refuses_anything_else(text):
    with pytest.raises(ValueError, match="CHF amount"):
        parse_chf(text)


def test_rates_are_dated_and_change_on_the_first_of_january_2024():
    assert vat_rate("standard", dt.date(2023, 12, 31)) == Decimal("7.7")
    assert vat_rate("standard", dt.date(2024, 1, 1)) == Decimal("8.1")
    assert vat_rate("reduced", dt.date(2024, 1, 1)) == Decimal("2.6")
    assert vat_rate("accommodation", dt.date(2024, 1, 1)) == Decimal("3.8")
    assert vat_rate("reduced", dt.date(2018, 6, 1)) == Decimal("2.5")
    assert vat_rate("accommodation", dt.date(2018, 6, 1)) == Decimal("3.7")


def test_no_rate_before_the_earliest_era():
    with pytest.raises(ValueError, match="no Swiss VAT rates"):
        vat_rate("standard", dt.date(2000, 1, 1))


@pytest.mark.parametrize(
    ("gross", "rate", "vat"),
    [
        (10810, "8.1", 810),
        (4990, "8.1", 374),  # 373.91 → 374
        (2500, "2.6", 63),  # 63.35 → 63
        (1081, "8.1", 81),  # exactly 81.00
        (5, "8.1", 0),  # 0.37 → 0
        (7, "8.1", 1),
    ],  # 0.52 → 1
)
def test_vat_in_gross_rounds_half_up_to_the_rappen(gross, rate, vat):
    assert vat_in_gross(gross, Decimal(rate)) == vat


def test_vat_is_rounded_once_per_rate_on_the_sum_not_per_line():
    # Per line: 3 × round(0.37) = 0; on the sum of 15 Rappen: 1.12 → 1.
    lines = vat_breakdown([(5, "standard")] * 3, dt.date(2026, 1, 1))
    assert [(line.rate, line.gross, line.vat) for line in lines] == [(Decimal("8.1"), 15, 1)]


def test_breakdown_groups_by_rate_highest_first():
    lines = vat_breakdown(
        [(1000, "reduced"), (4990, "standard"), (14000, "accommodation"), (1000, "standard")], dt.date(2026, 1, 1)
    )
    assert [(line.rate, line.gross, line.vat) for line in lines] == [
        (Decimal("8.1"), 5990, 449),
        (Decimal("3.8"), 14000, 513),
        (Decimal("2.6"), 1000, 25),
    ]


def test_rate_is_written_with_a_point_and_a_no_break_space():
    assert format_rate(Decimal("8.1")) == f"8.1{NBSP}%"
    assert format_rate(Decimal("8.0")) == f"8{NBSP}%"


@pytest.mark.parametrize(("rappen", "text"), [(4990, "49.90"), (5, "0.05"), (0, "0.00"), (-1250, "-12.50")])
def test_the_plain_form_is_read_back_by_parse_chf(rappen, text):
    assert plain_chf(rappen) == text
    if rappen >= 0:
        assert parse_chf(text) == rappen
