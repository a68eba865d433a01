"""`python -m storefront doctor`: the go-live check a shop owner runs before opening. Each line is
✓ or ✗ with what to do; the exit status is 1 if any line is ✗. Nothing is changed and no e-mail
or payment is made: the settings are read, the database, the mail server, the shop's own address
and Stripe are asked.

`--test-mode` rehearses with Stripe test keys outside production (and is how the check is tested
against the offline sandbox); `--ca-file` trusts a private certificate authority for the shop's
address (a proxy with an internal CA on a test machine)."""

from __future__ import annotations

import argparse
import asyncio
import smtplib
import ssl
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import stripe
from alembic.script import ScriptDirectory
from sqlalchemy import text

from storefront import twint
from storefront.db import MIGRATIONS_DIR, create_async_db_engine
from storefront.payments.webhooks import PAYMENT_EVENTS, REFUND_EVENTS
from storefront.settings import Settings, SettingsError

WEBHOOK_PATH = "/webhooks/stripe"
NEEDED_EVENTS = frozenset(PAYMENT_EVENTS | REFUND_EVENTS | {"charge.refunded"})
SECURITY_HEADERS = ("content-security-policy", "strict-transport-security", "x-content-type-options", "x-frame-options")
TIMEOUT_S = 10.0
_DEMO = {f.name: f.default for f in fields(Settings) if f.name in ("company", "company_address", "company_email")}


@dataclass(frozen=True, slots=True)
class Finding:
    ok: bool
    what: str
    detail: str

    def line(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.what}: {self.detail}"


def _settings(env: Mapping[str, str], test_mode: bool) -> tuple[Settings | None, Finding]:
    try:
        settings = Settings.from_env(env)
    except SettingsError as error:
        return None, Finding(False, "settings", str(error))
    if settings.production:
        return settings, Finding(True, "settings", "production, complete")
    if test_mode:
        return settings, Finding(True, "settings", "complete for a rehearsal with Stripe test keys (--test-mode)")
    return settings, Finding(
        False,
        "settings",
        "STOREFRONT_ENV is not production: set STOREFRONT_ENV=production (or rehearse with --test-mode)",
    )


async def _database(settings: Settings) -> Finding:
    heads = set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())
    engine = create_async_db_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            try:
                current = set((await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars())
            except Exception:
                current = set()
    except Exception as error:
        reason = str(error).splitlines()[0][:200]
        return Finding(False, "database", f"unreachable ({reason}): check STOREFRONT_DATABASE_URL")
    finally:
        await engine.dispose()
    if current != heads:
        return Finding(
            False, "database", "reachable but not migrated: run python -m storefront database upgrade --no-prompt"
        )
    return Finding(True, "database", "reachable and migrated")


def _smtp(settings: Settings) -> Finding:
    if not settings.smtp_url:
        return Finding(False, "mail", "STOREFRONT_SMTP_URL is not set: confirmations would only be written to files")
    parts = urlsplit(settings.smtp_url)
    host = parts.hostname or "localhost"
    port = parts.port or (465 if parts.scheme == "smtps" else 587)
    try:
        smtp_class = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        with smtp_class(host, port, timeout=TIMEOUT_S) as smtp:
            smtp.ehlo()
            if parts.scheme == "smtp+starttls":
                smtp.starttls()
                smtp.ehlo()
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.noop()
    except (OSError, smtplib.SMTPException) as error:
        return Finding(False, "mail", f"{host}:{port} refused or unreachable ({error}): check STOREFRONT_SMTP_URL")
    login = ", login accepted" if parts.username else ""
    return Finding(True, "mail", f"{host}:{port} answers{login} (nothing sent)")


def _address(settings: Settings, ca_file: str | None) -> Finding:
    url = f"{settings.base_url}/healthz"
    if not url.startswith("https://"):
        return Finding(
            False,
            "address",
            f"{settings.base_url} is not https://: set STOREFRONT_BASE_URL to the shop's https address",
        )
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
    try:
        response = httpx.get(url, timeout=TIMEOUT_S, verify=verify, follow_redirects=False)
    except httpx.HTTPError as error:
        return Finding(
            False, "address", f"{url} does not answer over HTTPS ({error}): check the proxy and its certificate"
        )
    missing = [name for name in SECURITY_HEADERS if name not in response.headers]
    if response.status_code != 200:
        return Finding(False, "address", f"{url} answers {response.status_code}: is the shop running behind the proxy?")
    if missing:
        return Finding(
            False,
            "address",
            f"{url} lacks {', '.join(missing)}: start the shop with STOREFRONT_ENV=production"
            " and let the proxy pass them",
        )
    return Finding(True, "address", f"{settings.base_url} answers over HTTPS with the security headers")


def _stripe(settings: Settings) -> list[Finding]:
    if not settings.stripe_secret_key:
        return [Finding(False, "Stripe", "STRIPE_SECRET_KEY is not set")]
    client = stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses={"api": settings.stripe_api_base},
        http_client=stripe.HTTPXClient(timeout=TIMEOUT_S, allow_sync_methods=True),
    )
    try:
        account = client.v1.accounts.retrieve_current().to_dict()
        endpoints = [endpoint.to_dict() for endpoint in client.v1.webhook_endpoints.list({"limit": 100}).data]
    except stripe.AuthenticationError:
        return [Finding(False, "Stripe", "the key is refused: check STRIPE_SECRET_KEY")]
    except stripe.StripeError as error:
        return [Finding(False, "Stripe", f"unreachable ({type(error).__name__}): try again, or check STRIPE_API_BASE")]
    found = [Finding(True, "Stripe", f"reachable with the key (account {account.get('id')})")]
    found += _account(account)
    found.append(_webhook_endpoint(settings, endpoints))
    return found


def _account(account: Mapping[str, Any]) -> list[Finding]:
    checks: list[tuple[str, Callable[[], bool], str, str]] = [
        (
            "TWINT",
            lambda: (account.get("capabilities") or {}).get("twint_payments") == "active",
            "the twint_payments capability is active",
            "the twint_payments capability is {state}: request TWINT under Settings → Payment methods"
            " in Stripe's dashboard",
        ),
        (
            "charges",
            lambda: account.get("charges_enabled") is True,
            "the account can take payments",
            "charges are not enabled: finish the account's details in Stripe's dashboard",
        ),
        (
            "country",
            lambda: account.get("country") == "CH",
            "the account is Swiss (TWINT needs a Swiss account)",
            "the account's country is {country}: TWINT needs an account in Switzerland",
        ),
        (
            "currency",
            lambda: account.get("default_currency") == twint.CURRENCY,
            "the account's currency is CHF",
            "the account's currency is {currency}: TWINT pays in CHF; set CHF as the default currency",
        ),
    ]
    values = {
        "state": (account.get("capabilities") or {}).get("twint_payments", "missing"),
        "country": account.get("country"),
        "currency": str(account.get("default_currency")).upper(),
    }
    return [
        Finding(good(), f"Stripe {what}", (yes if good() else no.format(**values))) for what, good, yes, no in checks
    ]


def _webhook_endpoint(settings: Settings, endpoints: list[dict[str, Any]]) -> Finding:
    url = f"{settings.base_url}{WEBHOOK_PATH}"
    mine = [endpoint for endpoint in endpoints if endpoint.get("url") == url]
    if not mine:
        return Finding(
            False, "Stripe webhook", f"no endpoint for {url}: add one in Stripe's dashboard (Developers → Webhooks)"
        )
    endpoint = mine[0]
    if endpoint.get("status") != "enabled":
        return Finding(False, "Stripe webhook", f"the endpoint for {url} is {endpoint.get('status')}: enable it")
    enabled = set(endpoint.get("enabled_events") or [])
    missing = sorted(NEEDED_EVENTS - enabled) if "*" not in enabled else []
    if missing:
        return Finding(False, "Stripe webhook", f"the endpoint for {url} lacks {', '.join(missing)}: add these events")
    return Finding(True, "Stripe webhook", f"{url} receives the events the shop needs")


def _legal(settings: Settings) -> Finding:
    demo = [name for name, value in _DEMO.items() if getattr(settings, name) == value]
    if demo:
        variables = ", ".join(f"STOREFRONT_{name.upper()}" for name in demo)
        return Finding(False, "legal pages", f"the imprint still shows the demo's {variables}: set your own")
    return Finding(True, "legal pages", f"the imprint names {settings.company}, {settings.company_email}")


def check(env: Mapping[str, str], *, test_mode: bool = False, ca_file: str | None = None) -> list[Finding]:
    settings, finding = _settings(env, test_mode)
    if settings is None:
        return [finding]
    return [
        finding,
        asyncio.run(_database(settings)),
        _smtp(settings),
        _address(settings, ca_file),
        *_stripe(settings),
        _legal(settings),
    ]


def main(argv: list[str], env: Mapping[str, str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m storefront doctor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--test-mode", action="store_true", help="rehearse with Stripe test keys outside production")
    parser.add_argument("--ca-file", help="a certificate authority to trust for the shop's address")
    options = parser.parse_args(argv)
    findings = check(env, test_mode=options.test_mode, ca_file=options.ca_file)
    for finding in findings:
        print(finding.line())
    failed = sum(not finding.ok for finding in findings)
    print(f"{len(findings) - failed} of {len(findings)} checks passed" + ("" if failed else ": ready to open"))
    sys.stdout.flush()
    return 1 if failed else 0
