import pytest

from storefront.settings import Settings, SettingsError

LIVE = {
    "STOREFRONT_ENV": "production",
    "STOREFRONT_SECRET_KEY": "x" * 40,
    "STOREFRONT_BASE_URL": "https://shop.example.ch",
    "STOREFRONT_DATABASE_URL": "postgresql://shop@db/shop",
    "STRIPE_SECRET_KEY": "sk_live_" + "a" * 24,
    "STRIPE_PUBLISHABLE_KEY": "pk_live_" + "a" * 24,
    "STRIPE_WEBHOOK_SECRET": "whsec_" + "a" * 24,
    "STOREFRONT_COMPANY": "Bergladen AG",
    "STOREFRONT_COMPANY_ADDRESS": "Dorfstrasse 3, 3818 Grindelwald, Switzerland",
    "STOREFRONT_COMPANY_EMAIL": "hallo@bergladen.ch",
    "STOREFRONT_SMTP_URL": "smtp+starttls://shop:secret@mail.example.ch:587",
}


def test_development_defaults_need_nothing_set():
    settings = Settings.from_env({})
    assert settings.env == "development"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.stripe_secret_key is None  # no payments until keys (or the development sandbox) are given
    assert (settings.stripe_api_base, settings.stripe_js_url) == (
        "https://api.stripe.com",
        "https://js.stripe.com/endive/stripe.js",
    )
    assert not settings.secure_cookies
    assert len(settings.secret_key) >= 32


def test_new_orders_are_announced_to_the_company_address_unless_another_is_set():
    assert Settings.from_env(LIVE).notify_address == "hallo@bergladen.ch"
    chosen = Settings.from_env({**LIVE, "STOREFRONT_ORDER_EMAIL": "bestellungen@bergladen.ch"})
    assert chosen.notify_address == "bestellungen@bergladen.ch"
    assert (Settings.from_env({}).staff_session_hours, chosen.staff_session_hours) == (12, 12)


def test_a_complete_production_environment_is_accepted_with_secure_cookies():
    settings = Settings.from_env(LIVE)
    assert settings.production
    assert settings.secure_cookies
    assert settings.stripe_api_base == "https://api.stripe.com"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("STOREFRONT_ENV", "staging", "STOREFRONT_ENV: 'staging' is not one of development, production"),
        ("STOREFRONT_DEBUG", "maybe", "STOREFRONT_DEBUG: 'maybe' is not a boolean"),
        ("STOREFRONT_PAGE_SIZE", "ten", "STOREFRONT_PAGE_SIZE: 'ten' is not a whole number"),
        ("STOREFRONT_PAGE_SIZE", "0", "STOREFRONT_PAGE_SIZE: 0 is outside 1..100"),
        ("STOREFRONT_BASE_URL", "shop.example.ch", "STOREFRONT_BASE_URL: 'shop.example.ch' is not an origin"),
        ("STOREFRONT_BASE_URL", "https://shop.example.ch/path", "STOREFRONT_BASE_URL:"),
        ("STOREFRONT_DATABASE_URL", "mysql://u:secret@h/db", "STOREFRONT_DATABASE_URL: 'h/db' is not"),
        ("STOREFRONT_SECRET_KEY", "short", "STOREFRONT_SECRET_KEY: must be at least 32 characters"),
        ("STOREFRONT_FREE_SHIPPING_FROM", "100,00", "STOREFRONT_FREE_SHIPPING_FROM: '100,00' is not a CHF amount"),
        ("STRIPE_API_BASE", "api.stripe.com", "STRIPE_API_BASE: 'api.stripe.com' is not an http(s) address"),
        ("STRIPE_JS_URL", "//evil.example/stripe.js", "STRIPE_JS_URL: '//evil.example/stripe.js' is not"),
        ("STOREFRONT_ORDER_EMAIL", "orders at shop", "STOREFRONT_ORDER_EMAIL: 'orders at shop' is not an e-mail"),
        ("STOREFRONT_STAFF_SESSION_HOURS", "0", "STOREFRONT_STAFF_SESSION_HOURS: 0 is outside 1..720"),
    ],
)
def test_a_bad_value_names_its_variable_in_one_line(name, value, message):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_bad_database_url_is_named_without_its_password():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"STOREFRONT_DATABASE_URL": "mysql://shop:hunter2@db/shop"})
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"STOREFRONT_SECRET_KEY": ""}, "STOREFRONT_SECRET_KEY"),
        ({"STOREFRONT_DEBUG": "1"}, "STOREFRONT_DEBUG"),
        ({"STOREFRONT_SECURE_COOKIES": "0"}, "STOREFRONT_SECURE_COOKIES"),
        ({"STOREFRONT_BASE_URL": "http://shop.example.ch"}, "STOREFRONT_BASE_URL"),
        ({"STRIPE_SECRET_KEY": ""}, "STRIPE_SECRET_KEY"),
        ({"STRIPE_SECRET_KEY": "sk_test_abc"}, "STRIPE_SECRET_KEY"),
        ({"STRIPE_PUBLISHABLE_KEY": "pk_test_abc"}, "STRIPE_PUBLISHABLE_KEY"),
        ({"STRIPE_WEBHOOK_SECRET": ""}, "STRIPE_WEBHOOK_SECRET"),
        ({"STRIPE_API_BASE": "http://127.0.0.1:12111"}, "STRIPE_API_BASE"),
        ({"STRIPE_JS_URL": "/_sandbox/js/stripe.js"}, "STRIPE_JS_URL"),
        ({"STOREFRONT_COMPANY": ""}, "STOREFRONT_COMPANY"),
        ({"STOREFRONT_COMPANY_ADDRESS": ""}, "STOREFRONT_COMPANY_ADDRESS"),
        ({"STOREFRONT_COMPANY_EMAIL": "nobody"}, "STOREFRONT_COMPANY_EMAIL"),
        ({"STOREFRONT_SMTP_URL": ""}, "STOREFRONT_SMTP_URL"),
        ({"STOREFRONT_DATABASE_URL": ""}, "STOREFRONT_DATABASE_URL"),  # the default: SQLite
        ({"STOREFRONT_DATABASE_URL": "sqlite:////srv/shop/shop.sqlite"}, "STOREFRONT_DATABASE_URL"),
    ],
)
def test_production_refuses_insecure_defaults(change, variable):
    with pytest.raises(SettingsError, match=f"^{variable}:"):
        Settings.from_env({**LIVE, **change})


@pytest.mark.parametrize(
    ("keys", "variable"),
    [
        ({"STRIPE_SECRET_KEY": "sk_live_" + "a" * 24}, "STRIPE_SECRET_KEY"),
        ({"STRIPE_SECRET_KEY": "rk_live_" + "a" * 24}, "STRIPE_SECRET_KEY"),
        ({"STRIPE_PUBLISHABLE_KEY": "pk_live_" + "a" * 24}, "STRIPE_PUBLISHABLE_KEY"),
    ],
)
def test_live_keys_outside_production_refuse_to_start(keys, variable):
    """Real money would otherwise be taken with cookies that are not Secure and no HSTS."""
    with pytest.raises(SettingsError, match=f"^{variable}: a live key needs STOREFRONT_ENV=production"):
        Settings.from_env(keys)
    assert Settings.from_env({"STRIPE_SECRET_KEY": "sk_test_" + "a" * 24}).stripe_secret_key  # test keys are fine


def test_the_shop_compresses_pages_unless_told_that_a_proxy_does():
    assert Settings.from_env({}).compress is True
    assert Settings.from_env({"STOREFRONT_COMPRESS": "0"}).compress is False
