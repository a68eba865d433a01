"""The go-live check against the offline Stripe sandbox, a mail server and the shop served over
HTTPS with its own certificate authority: every line ✓ when all is right, and each ✗ with what
to do when one thing is wrong."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from storefront.app import create_app
from storefront.doctor import NEEDED_EVENTS, check
from storefront.sandbox.app import create_sandbox_app
from storefront.sandbox.faults import set_switches
from tests.support.db import ROOT
from tests.support.http import serve
from tests.support.sandbox import SECRET_KEY, WEBHOOK_SECRET, Sandbox
from tests.support.smtp import mail_server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A certificate for 127.0.0.1, signed by itself: the shop's own certificate authority."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def stripe_sandbox() -> Iterator[Sandbox]:
    app = create_sandbox_app()
    with serve(app) as url:
        yield Sandbox(url=url, store=app.state.sandbox_store)


@pytest.fixture
def ready(settings, certificate, stripe_sandbox, tmp_path):
    """Everything right: the environment a shop owner would have set, and a shop that answers."""
    set_switches(stripe_sandbox.store, twint_capability="active", charges_enabled=True, account_country="CH",
                 account_currency="chf")  # fmt: skip
    production = dataclasses.replace(settings, env="production", secure_cookies=True)
    with serve(create_app(production), certificate) as shop_url, mail_server() as mail:
        stripe_sandbox.account.create_webhook_endpoint(
            {"url": f"{shop_url}/webhooks/stripe", "enabled_events": sorted(NEEDED_EVENTS)}
        )
        env = {
            "STOREFRONT_ENV": "development",
            "STOREFRONT_DATABASE_URL": settings.database_url,
            "STOREFRONT_BASE_URL": shop_url,
            "STOREFRONT_SECRET_KEY": "s" * 40,
            "STOREFRONT_SMTP_URL": mail.url,
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": "pk_test_sandbox",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": stripe_sandbox.url,
            "STOREFRONT_COMPANY": "Bergladen AG",
            "STOREFRONT_COMPANY_ADDRESS": "Dorfstrasse 3, 3818 Grindelwald",
            "STOREFRONT_COMPANY_EMAIL": "hallo@bergladen.ch",
        }
        yield env


def lines(env, certificate, **options):
    return [finding.line() for finding in check(env, test_mode=True, ca_file=certificate[0], **options)]


def test_everything_right_is_all_ticks_and_exit_0(ready, certificate):
    doctor = subprocess.run(
        [sys.executable, "-m", "storefront", "doctor", "--test-mode", "--ca-file", certificate[0]],
        cwd=ROOT,
        env={**os.environ, **ready},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    output = doctor.stdout.splitlines()
    assert all(line.startswith("✓") for line in output[:-1]), output
    assert [line.split(":")[0] for line in output[:-1]] == [
        "✓ settings", "✓ database", "✓ mail", "✓ address", "✓ Stripe", "✓ Stripe TWINT", "✓ Stripe charges",
        "✓ Stripe country", "✓ Stripe currency", "✓ Stripe webhook", "✓ legal pages",
    ]  # fmt: skip
    assert output[-1] == "11 of 11 checks passed: ready to open"


@pytest.mark.parametrize(
    ("wrong", "expected"),
    [
        # (the webhook endpoint is for the right address, so that line is ✗ too)
        ({"STOREFRONT_BASE_URL": "http://127.0.0.1:9"}, "✗ address: http://127.0.0.1:9 is not https://"),
        ({"STOREFRONT_SMTP_URL": "smtp://127.0.0.1:9"}, "✗ mail: 127.0.0.1:9 refused or unreachable"),
        ({"STOREFRONT_SMTP_URL": ""}, "✗ mail: STOREFRONT_SMTP_URL is not set"),
        ({"STRIPE_SECRET_KEY": "rk_test_not_this_accounts"}, "✗ Stripe: the key is refused"),
        (
            {"STOREFRONT_COMPANY": "Storefront Demo GmbH"},
            "✗ legal pages: the imprint still shows the demo's STOREFRONT_COMPANY",
        ),
        ({"STOREFRONT_DATABASE_URL": "sqlite:////nonexistent/folder/shop.sqlite"}, "✗ database: unreachable"),
        ({"STOREFRONT_PAGE_SIZE": "0"}, "✗ settings: STOREFRONT_PAGE_SIZE"),
    ],
)
def test_each_wrong_setting_is_a_cross_with_what_to_do(ready, certificate, wrong, expected):
    found = lines({**ready, **wrong}, certificate)
    assert any(line.startswith(expected) for line in found), found
    crosses = [line.split(":")[0] for line in found if line.startswith("✗")]
    assert crosses == [expected.split(":")[0]] + (["✗ Stripe webhook"] if "STOREFRONT_BASE_URL" in wrong else []), found


@pytest.mark.parametrize(
    ("switches", "expected"),
    [
        ({"twint_capability": "pending"}, "✗ Stripe TWINT: the twint_payments capability is pending"),
        ({"charges_enabled": False}, "✗ Stripe charges: charges are not enabled"),
        ({"account_country": "DE"}, "✗ Stripe country: the account's country is DE"),
        ({"account_currency": "eur"}, "✗ Stripe currency: the account's currency is EUR"),
    ],
)
def test_an_account_not_ready_for_twint_is_a_cross(ready, certificate, stripe_sandbox, switches, expected):
    set_switches(stripe_sandbox.store, **switches)
    found = lines(ready, certificate)
    assert expected in "\n".join(found), found
    assert sum(line.startswith("✗") for line in found) == 1, found


def test_a_missing_or_incomplete_webhook_endpoint_is_a_cross(ready, certificate, stripe_sandbox):
    elsewhere = {**ready, "STOREFRONT_BASE_URL": ready["STOREFRONT_BASE_URL"].replace("127.0.0.1", "localhost")}
    found = lines(elsewhere, certificate)
    assert any(line.startswith("✗ Stripe webhook: no endpoint for https://localhost") for line in found), found
    stripe_sandbox.account.create_webhook_endpoint(
        {"url": f"{elsewhere['STOREFRONT_BASE_URL']}/webhooks/stripe", "enabled_events": ["payment_intent.succeeded"]}
    )
    found = lines(elsewhere, certificate)
    assert any("lacks charge.refunded" in line for line in found), found


def test_an_unmigrated_database_and_development_without_test_mode_are_crosses(ready, certificate, tmp_path):
    empty = {**ready, "STOREFRONT_DATABASE_URL": f"sqlite:///{tmp_path}/empty.sqlite"}
    assert "✗ database: reachable but not migrated" in "\n".join(lines(empty, certificate))
    found = [finding.line() for finding in check(ready, ca_file=certificate[0])]
    assert found[0].startswith("✗ settings: STOREFRONT_ENV is not production"), found


def test_a_shop_without_its_security_headers_is_a_cross(ready, certificate, settings):
    """A proxy that drops them, or a shop started without production: here, without HSTS."""
    development = create_app(settings)
    with serve(development, certificate) as url:
        found = lines({**ready, "STOREFRONT_BASE_URL": url}, certificate)
    assert any(line.startswith("✗ address:") and "lacks strict-transport-security" in line for line in found), found


def test_an_untrusted_certificate_is_a_cross(ready):
    found = [finding.line() for finding in check(ready, test_mode=True)]
    assert any(line.startswith("✗ address:") and "does not answer over HTTPS" in line for line in found), found
