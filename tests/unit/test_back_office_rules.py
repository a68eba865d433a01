"""Rules of the back office that need no database: passwords, sign-in delays, Swiss Post
tracking numbers, the session cookie."""

import datetime as dt

import pytest

from storefront.admin.accounts import AccountError, check_password, delay_after
from storefront.admin.auth import safe_next, session_cookie
from storefront.orders.fulfilment import FulfilmentError, tracking_number
from storefront.settings import Settings


@pytest.mark.parametrize(
    "password",
    [
        "short-1",  # too short
        "password1234",  # among the most common
        "qwertyuiop123",  # common, with digits after it
        "aaaaaaaaaaaaaaaa",  # too few different characters
        "anna.muster@example.ch",  # the e-mail address itself
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password):
    with pytest.raises(AccountError) as refused:
        check_password(password, "anna.muster@example.ch")
    assert refused.value.translated()


def test_a_long_uncommon_password_is_accepted():
    check_password("Velo-Kaffee-Zug-42", "anna@example.ch")


def test_five_failures_are_free_then_each_doubles_the_wait_up_to_fifteen_minutes():
    assert [delay_after(n) for n in (0, 4)] == [dt.timedelta(0)] * 2
    assert [delay_after(n).total_seconds() for n in (5, 6, 7, 8)] == [30, 60, 120, 240]
    assert delay_after(50) == dt.timedelta(minutes=15)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("99.00.123456.12345678", "99.00.123456.12345678"),
        (" 99.00.123456.12345678 ", "99.00.123456.12345678"),
        ("99 00 123456 12345678", "990012345612345678"),
        ("rr123456789ch", "RR123456789CH"),
        ("97.00.00123456", "97.00.00123456"),
        ("", None),
    ],
)
def test_swiss_post_tracking_numbers(typed, stored):
    assert tracking_number(typed) == stored


@pytest.mark.parametrize("typed", ["hello", "12345", "99.00.12<script>", "https://evil.example/99001234567890"])
def test_what_is_not_a_tracking_number_is_refused(typed):
    with pytest.raises(FulfilmentError):
        tracking_number(typed)


def test_the_session_cookie_is_strict_for_the_back_office_only_and_secure_in_production():
    cookie = session_cookie(Settings(secure_cookies=True, secret_key="x" * 32), "token")
    assert (cookie.path, cookie.httponly, cookie.samesite, cookie.secure) == ("/admin", True, "strict", True)
    assert session_cookie(Settings(secret_key="x" * 32), "token").secure is False


@pytest.mark.parametrize(
    ("wanted", "safe"),
    [
        ("/admin/orders/1001", "/admin/orders/1001"),
        ("https://evil.example/admin", "/admin"),
        ("//evil.example/admin", "/admin"),
        ("/en/checkout", "/admin"),
        ("/admin/sign-in", "/admin"),
        (None, "/admin"),
        ("/admin\\@evil.example", "/admin"),
    ],
)
def test_after_signing_in_only_back_office_pages_are_gone_to(wanted, safe):
    assert safe_next(wanted) == safe
