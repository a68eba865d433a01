"""Shared fixtures: a migrated database per backend (SQLite always, PostgreSQL when
STOREFRONT_TEST_POSTGRES_URL is set), emptied and filled with a known catalogue for each test."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from storefront.i18n import set_language
from storefront.settings import LANGUAGES, Settings
from tests.support.db import BACKENDS, POSTGRES_URL, migrate, postgres_admin, reset_shop
from tests.support.sandbox import WEBHOOK_SECRET

# Commands the tests start (migrations, imports) keep the Stripe sandbox's state in memory, not in var/.
os.environ.setdefault("STOREFRONT_SANDBOX_DB", ":memory:")
for _name in (
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
    "STRIPE_JS_URL",
):
    os.environ.pop(_name, None)  # the tests choose where "Stripe" is
os.environ.setdefault("STOREFRONT_OUTBOX_DIR", str(Path(tempfile.gettempdir()) / "storefront-test-outbox"))


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'shop.sqlite'}"
        migrate(url)
        yield url
        return
    # A database of its own per run, so parallel runs and leftovers never meet.
    name = f"storefront_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(postgres_admin(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        asyncio.run(postgres_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    asyncio.run(reset_shop(database_url))
    return Settings(
        database_url=database_url,
        secret_key="test-secret-" + "x" * 32,
        outbox_dir=str(tmp_path / "outbox"),
        media_dir=str(tmp_path / "media"),
        stripe_webhook_secret=WEBHOOK_SECRET,
        default_language="en",  # the test catalogue's own texts are English
    )


@pytest.fixture(autouse=True)
def _shop_language() -> None:
    """Each test starts in the shop's first language, whatever language an earlier test chose."""
    set_language(LANGUAGES[0])
