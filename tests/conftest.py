"""Shared fixtures: a migrated database per backend (SQLite always, PostgreSQL when
STOREFRONT_TEST_POSTGRES_URL is set), emptied and filled with a known catalogue for each test."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, make_url
from sqlalchemy.ext.asyncio import async_sessionmaker

from storefront.catalog.importer import apply_catalog, parse_catalog_csv
from storefront.db import create_async_db_engine
from storefront.models import metadata
from storefront.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
# Commands the tests start (migrations, imports) keep the Stripe sandbox's state in memory, not in var/.
os.environ.setdefault("STOREFRONT_SANDBOX_DB", ":memory:")
os.environ.setdefault("STOREFRONT_OUTBOX_DIR", str(Path(tempfile.gettempdir()) / "storefront-test-outbox"))
POSTGRES_URL = os.environ.get("STOREFRONT_TEST_POSTGRES_URL", "").strip()
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
CATALOG_CSV = ROOT / "tests" / "catalog.csv"
EMPTIED_TABLES = (
    "processed_event",
    "order_line",
    "shop_order",
    "cart_line",
    "cart",
    "product_image",
    "variant",
    "product",
)


def migrate(url: str) -> None:
    """Through the operator's own command, so the migrations themselves are under test."""
    env = {**os.environ, "STOREFRONT_DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, "-m", "storefront", "database", "upgrade", "--no-prompt"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def _postgres_admin(url: str, statement: str) -> None:
    import asyncpg

    parsed = make_url(url)
    connection = await asyncpg.connect(
        user=parsed.username,
        password=parsed.password,
        host=parsed.host,
        port=parsed.port or 5432,
        database=parsed.database,
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'shop.sqlite'}"
        migrate(url)
        yield url
        return
    # A database of its own per run, so parallel runs and leftovers never meet.
    name = f"storefront_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_postgres_admin(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        asyncio.run(_postgres_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def import_catalog(url: str, csv_text: bytes) -> list[str]:
    """What `python -m storefront catalog import` does, in-process."""
    engine = create_async_db_engine(url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            return await apply_catalog(session, parse_catalog_csv(csv_text))
    finally:
        await engine.dispose()


async def reset_shop(url: str, catalog_csv: Path = CATALOG_CSV) -> None:
    engine = create_async_db_engine(url)
    try:
        async with engine.begin() as connection:
            for name in EMPTIED_TABLES:
                await connection.execute(delete(metadata.tables[name]))
    finally:
        await engine.dispose()
    await import_catalog(url, catalog_csv.read_bytes())


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    asyncio.run(reset_shop(database_url))
    return Settings(
        database_url=database_url,
        secret_key="test-secret-" + "x" * 32,
        sandbox_db=":memory:",
        outbox_dir=str(tmp_path / "outbox"),
    )
