"""Settings read from the environment, typed and validated once at start-up.

A bad value stops the start with one line that names the variable (`SettingsError`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NotRequired, TypedDict
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var"

LANGUAGES = ("de", "fr", "it", "en")  # the languages whose translations are complete; the first is the default


class SettingsError(ValueError):
    """A setting from the environment is missing or malformed."""


DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'storefront.sqlite'}"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_SHOP_NAME = "Storefront"
DEFAULT_PAGE_SIZE = 12
DEFAULT_MAX_LINE_QUANTITY = 99
STRIPE_API_BASE = "https://api.stripe.com"
STRIPE_JS_URL = "https://js.stripe.com/endive/stripe.js"  # Stripe.js must be loaded from Stripe itself


@dataclass(frozen=True, slots=True)
class Settings:
    env: str = "development"
    database_url: str = DEFAULT_DATABASE_URL
    base_url: str = DEFAULT_BASE_URL
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    debug: bool = False
    secure_cookies: bool = False
    stripe_secret_key: str | None = field(default=None, repr=False)
    stripe_publishable_key: str | None = None
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_api_base: str = STRIPE_API_BASE  # where "Stripe" is: real Stripe unless told otherwise
    stripe_js_url: str = STRIPE_JS_URL
    shop_name: str = DEFAULT_SHOP_NAME
    page_size: int = DEFAULT_PAGE_SIZE
    max_line_quantity: int = DEFAULT_MAX_LINE_QUANTITY
    company: str = "Storefront Demo GmbH"  # the imprint TWINT onboarding requires (docs/swiss.md)
    company_address: str = "Musterstrasse 1, 8000 Zürich, Switzerland"
    company_email: str = "shop@example.ch"
    company_phone: str | None = None
    company_uid: str | None = None  # CHE-123.456.789
    smtp_url: str | None = field(default=None, repr=False)  # smtp+starttls://user:pass@host:587; unset: .eml files
    outbox_dir: str = str(VAR_DIR / "outbox")
    twint_window_minutes: int = 15  # unpaid orders older than this are settled by the reconciler
    free_shipping_from: int = 100_00  # Rappen: orders of this much or more ship free
    order_email: str | None = None  # where the shop is told of each paid order; unset: company_email
    staff_session_hours: int = 12  # a back-office session ends after this long without a request
    media_dir: str = str(VAR_DIR / "media")  # product pictures uploaded in the back office
    # The language of the catalogue's own texts, shown where a text is not written in the visitor's
    # language; and the language of the root when the browser asks for none the shop speaks.
    default_language: str = LANGUAGES[0]
    pickup_hours: str | None = None  # when customers may pick up orders, shown with the shop's address
    stock_alert_interval_s: int = 60  # how often "back in stock" requests are checked against the stock
    pay_within_minutes: int = 10  # an order whose customer never pressed "Pay" gives its stock back after this
    unpaid_per_address: int = 3  # unpaid orders one client address may hold at a time
    orders_per_address_per_hour: int = 10  # orders one client address may place in an hour
    cart_days: int = 60  # a cart left unchanged this long is deleted with its lines
    # gzip pages in the shop's workers; off behind a proxy that compresses (Caddy's `encode`), which
    # does it on its own threads while the workers render the next page
    compress: bool = True

    @property
    def notify_address(self) -> str:
        return self.order_email or self.company_email

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        mode = reader.choice("STOREFRONT_ENV", ("development", "production"), "development")
        production = mode == "production"
        settings = cls(
            env=mode,
            database_url=reader.database_url("STOREFRONT_DATABASE_URL", DEFAULT_DATABASE_URL),
            base_url=reader.origin("STOREFRONT_BASE_URL", DEFAULT_BASE_URL),
            secret_key=reader.secret("STOREFRONT_SECRET_KEY", required=production),
            debug=reader.boolean("STOREFRONT_DEBUG", False),
            secure_cookies=reader.boolean("STOREFRONT_SECURE_COOKIES", production),
            stripe_secret_key=reader.optional("STRIPE_SECRET_KEY"),
            stripe_publishable_key=reader.optional("STRIPE_PUBLISHABLE_KEY"),
            stripe_webhook_secret=reader.optional("STRIPE_WEBHOOK_SECRET"),
            stripe_api_base=reader.url("STRIPE_API_BASE", STRIPE_API_BASE),
            stripe_js_url=reader.url("STRIPE_JS_URL", STRIPE_JS_URL, relative=True),
            shop_name=reader.optional("STOREFRONT_SHOP_NAME") or DEFAULT_SHOP_NAME,
            page_size=reader.integer("STOREFRONT_PAGE_SIZE", DEFAULT_PAGE_SIZE, low=1, high=100),
            max_line_quantity=reader.integer(
                "STOREFRONT_MAX_LINE_QUANTITY", DEFAULT_MAX_LINE_QUANTITY, low=1, high=10_000
            ),
            **reader.company(required=production),
            smtp_url=reader.optional("STOREFRONT_SMTP_URL"),
            outbox_dir=reader.optional("STOREFRONT_OUTBOX_DIR") or str(VAR_DIR / "outbox"),
            twint_window_minutes=reader.integer("STOREFRONT_TWINT_WINDOW_MINUTES", 15, low=1, high=7 * 24 * 60),
            free_shipping_from=reader.chf("STOREFRONT_FREE_SHIPPING_FROM", 100_00),
            order_email=reader.email("STOREFRONT_ORDER_EMAIL"),
            staff_session_hours=reader.integer("STOREFRONT_STAFF_SESSION_HOURS", 12, low=1, high=24 * 30),
            media_dir=reader.optional("STOREFRONT_MEDIA_DIR") or str(VAR_DIR / "media"),
            default_language=reader.choice("STOREFRONT_DEFAULT_LANGUAGE", LANGUAGES, LANGUAGES[0]),
            pickup_hours=reader.optional("STOREFRONT_PICKUP_HOURS"),
            stock_alert_interval_s=reader.integer("STOREFRONT_STOCK_ALERT_INTERVAL_S", 60, low=1, high=24 * 3600),
            pay_within_minutes=reader.integer("STOREFRONT_PAY_WITHIN_MINUTES", 10, low=1, high=24 * 60),
            unpaid_per_address=reader.integer("STOREFRONT_UNPAID_PER_ADDRESS", 3, low=1, high=100_000),
            orders_per_address_per_hour=reader.integer(
                "STOREFRONT_ORDERS_PER_ADDRESS_PER_HOUR", 10, low=1, high=100_000
            ),
            cart_days=reader.integer("STOREFRONT_CART_DAYS", 60, low=1, high=3650),
            compress=reader.boolean("STOREFRONT_COMPRESS", True),
        )
        if production:
            settings.refuse_insecure_production()
        else:
            settings.refuse_live_keys_outside_production()
        return settings

    def refuse_insecure_production(self) -> None:
        """Production must not run with development conveniences (docs/security.md, "Production settings")."""
        if self.debug:
            raise SettingsError("STOREFRONT_DEBUG: must be off when STOREFRONT_ENV=production")
        if not self.secure_cookies:
            raise SettingsError("STOREFRONT_SECURE_COOKIES: must be on when STOREFRONT_ENV=production")
        if not self.base_url.startswith("https://"):
            raise SettingsError("STOREFRONT_BASE_URL: must be an https:// origin when STOREFRONT_ENV=production")
        if self.stripe_secret_key is None:
            raise SettingsError(
                "STRIPE_SECRET_KEY: required when STOREFRONT_ENV=production "
                "(the offline Stripe sandbox is for development only)"
            )
        if not self.stripe_secret_key.startswith(("sk_live_", "rk_live_")):
            raise SettingsError("STRIPE_SECRET_KEY: production needs a live key (sk_live_… or rk_live_…)")
        if not self.stripe_publishable_key or not self.stripe_publishable_key.startswith("pk_live_"):
            raise SettingsError("STRIPE_PUBLISHABLE_KEY: production needs a live key (pk_live_…)")
        if not self.stripe_webhook_secret or not self.stripe_webhook_secret.startswith("whsec_"):
            raise SettingsError("STRIPE_WEBHOOK_SECRET: required when STOREFRONT_ENV=production (whsec_…)")
        for name, url in (("STRIPE_API_BASE", self.stripe_api_base), ("STRIPE_JS_URL", self.stripe_js_url)):
            if not url.startswith("https://"):
                raise SettingsError(f"{name}: must be an https:// address when STOREFRONT_ENV=production")
        if self.database_url.startswith("sqlite"):
            raise SettingsError(
                "STOREFRONT_DATABASE_URL: production needs PostgreSQL (postgresql://…); SQLite is for one laptop"
            )
        if not self.smtp_url:
            raise SettingsError(
                "STOREFRONT_SMTP_URL: required when STOREFRONT_ENV=production, or order confirmations "
                "are only written to files on the server"
            )

    def refuse_live_keys_outside_production(self) -> None:
        """Real money only with production's protections (secure cookies, HSTS, the checks above)."""
        live = (
            ("STRIPE_SECRET_KEY", self.stripe_secret_key, ("sk_live_", "rk_live_")),
            ("STRIPE_PUBLISHABLE_KEY", self.stripe_publishable_key, ("pk_live_",)),
        )
        for name, key, prefixes in live:
            if key and key.startswith(prefixes):
                raise SettingsError(
                    f"{name}: a live key needs STOREFRONT_ENV=production (secure cookies, HSTS and the "
                    "production checks); use a test key for development"
                )


class _Company(TypedDict):
    """The imprint's settings as `Settings` takes them; a name left out keeps its default."""

    company: NotRequired[str]
    company_address: NotRequired[str]
    company_email: NotRequired[str]
    company_phone: str | None
    company_uid: str | None


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def optional(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def email(self, name: str) -> str | None:
        value = self.optional(name)
        if value is not None and ("@" not in value or any(c.isspace() for c in value)):
            raise SettingsError(f"{name}: {value!r} is not an e-mail address")
        return value

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.optional(name) or default
        if value not in allowed:
            raise SettingsError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.optional(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{name}: {value!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        value = self.optional(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise SettingsError(f"{name}: {value!r} is not a whole number") from None
        if not low <= number <= high:
            raise SettingsError(f"{name}: {number} is outside {low}..{high}")
        return number

    def chf(self, name: str, default: int) -> int:
        from storefront.money import parse_chf

        value = self.optional(name)
        if value is None:
            return default
        try:
            return parse_chf(value)
        except ValueError:
            raise SettingsError(f"{name}: {value!r} is not a CHF amount such as 100.00") from None

    def secret(self, name: str, *, required: bool) -> str:
        value = self.optional(name)
        if value is None:
            if required:
                raise SettingsError(f"{name}: required when STOREFRONT_ENV=production")
            return _development_secret()
        if len(value) < 32:
            raise SettingsError(f"{name}: must be at least 32 characters long")
        return value

    def origin(self, name: str, default: str) -> str:
        value = self.optional(name) or default
        parts = urlsplit(value)
        if (
            parts.scheme not in {"http", "https"}
            or not parts.netloc
            or parts.path not in {"", "/"}
            or parts.query
            or parts.fragment
        ):
            raise SettingsError(f"{name}: {value!r} is not an origin such as https://shop.example.ch")
        return f"{parts.scheme}://{parts.netloc}"

    def company(self, *, required: bool) -> _Company:
        """Who runs the shop, for the imprint; the demo's placeholders only outside production."""
        values = {
            "company": self.optional("STOREFRONT_COMPANY"),
            "company_address": self.optional("STOREFRONT_COMPANY_ADDRESS"),
            "company_email": self.optional("STOREFRONT_COMPANY_EMAIL"),
        }
        for key, value in values.items():
            if value is None and required:
                raise SettingsError(
                    f"STOREFRONT_{key.upper()}: required when STOREFRONT_ENV=production "
                    "(the imprint names the company, its address and an e-mail)"
                )
        if values["company_email"] is not None and "@" not in values["company_email"]:
            raise SettingsError(f"STOREFRONT_COMPANY_EMAIL: {values['company_email']!r} is not an e-mail address")
        chosen: _Company = {
            "company_phone": self.optional("STOREFRONT_COMPANY_PHONE"),
            "company_uid": self.optional("STOREFRONT_COMPANY_UID"),
        }
        if values["company"] is not None:
            chosen["company"] = values["company"]
        if values["company_address"] is not None:
            chosen["company_address"] = values["company_address"]
        if values["company_email"] is not None:
            chosen["company_email"] = values["company_email"]
        return chosen

    def url(self, name: str, default: str, *, relative: bool = False) -> str:
        """An http(s) address without query or fragment; with `relative`, a path on this shop too."""
        value = (self.optional(name) or default).rstrip("/")
        parts = urlsplit(value)
        absolute = parts.scheme in {"http", "https"} and bool(parts.netloc)
        on_this_shop = relative and value.startswith("/") and not value.startswith("//")
        if not (absolute or on_this_shop) or parts.query or parts.fragment:
            raise SettingsError(f"{name}: {value!r} is not an http(s) address such as {default}")
        return value

    def database_url(self, name: str, default: str) -> str:
        value = self.optional(name) or default
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme.split("+", 1)[0] not in {"sqlite", "postgresql", "postgres"}:
            raise SettingsError(f"{name}: {value.split('@')[-1]!r} is not a sqlite:/// or postgresql:// URL")
        return value


def _development_secret() -> str:
    """A random key kept under var/, so CSRF tokens survive restarts and agree across workers
    on a laptop. Production must set STOREFRONT_SECRET_KEY."""
    path = VAR_DIR / "secret_key"
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if len(existing) >= 32:
        return existing
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key
