"""Reading and changing a test's database directly, as a shop owner's SQL console would."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import delete, event, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from storefront.catalog.importer import apply_catalog, parse_catalog_csv
from storefront.catalog.service import Catalog
from storefront.db import Database, create_async_db_engine
from storefront.models import metadata
from storefront.settings import LANGUAGES, Settings

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
CATALOG_CSV = ROOT / "tests" / "catalog.csv"
# Every test runs on SQLite, and on PostgreSQL too when STOREFRONT_TEST_POSTGRES_URL names one.
POSTGRES_URL = os.environ.get("STOREFRONT_TEST_POSTGRES_URL", "").strip()
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
# Every table a test may fill, children before their parents.
EMPTIED_TABLES = (
    "processed_event",
    "outbox_email",
    "order_event",
    "refund_line",
    "refund",
    "payment",
    "order_line",
    "shop_order",
    "cart_line",
    "cart",
    "product_image",
    "stock_movement",
    "variant",
    "product",
    "staff_session",
    "sign_in_failure",
    "staff_account",
)


def query(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async def run() -> list[tuple[Any, ...]]:
        engine = create_async_db_engine(url)
        try:
            async with engine.connect() as connection:
                return [tuple(row) for row in await connection.execute(text(sql), params)]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def execute(url: str, sql: str, **params: Any) -> None:
    async def run() -> None:
        engine = create_async_db_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(sql), params)
        finally:
            await engine.dispose()

    asyncio.run(run())


def write_meanwhile(engine: AsyncEngine, url: str, sql: str) -> list[str]:
    """Another writer (a customer's checkout, say) runs `sql` and commits just before `engine`
    first writes, after its reads. The returned list says how that went: "wrote", or SQLite's
    refusal when `engine` already holds the write lock (a writer with time to wait would wait)."""
    outcome: list[str] = []

    def elsewhere() -> None:
        if make_url(url).get_backend_name() == "sqlite":
            other = sqlite3.connect(make_url(url).database or "", timeout=0, isolation_level=None)
            try:
                other.execute(sql)
                outcome.append("wrote")
            except sqlite3.OperationalError as error:
                outcome.append(str(error))
            finally:
                other.close()
        else:  # from a thread of its own: the engine's event loop is busy with the first write

            def write() -> None:
                execute(url, sql)
                outcome.append("wrote")

            worker = threading.Thread(target=write)
            worker.start()
            worker.join()

    def before_first_write(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not outcome and statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            elsewhere()

    event.listen(engine.sync_engine, "before_cursor_execute", before_first_write)
    return outcome


def with_database(settings: Settings, work: Callable[[Database, Catalog], Awaitable[T]]) -> T:
    """Run `work` against the shop's database, as the shop's services see it."""

    async def go() -> T:
        database = Database(settings.database_url)
        try:
            return await work(database, Catalog(database, LANGUAGES, "en"))
        finally:
            await database.dispose()

    return asyncio.run(go())


def variant_id(settings: Settings, sku: str) -> int:
    found: int = query(settings.database_url, "SELECT id FROM variant WHERE sku = :sku", sku=sku)[0][0]
    return found


def stock(settings: Settings, sku: str) -> int:
    found: int = query(settings.database_url, "SELECT stock FROM variant WHERE sku = :sku", sku=sku)[0][0]
    return found


def cart_lines(settings: Settings) -> list[tuple[Any, ...]]:
    """Every cart line in the shop as (sku, quantity): what a test must find unchanged."""
    return query(
        settings.database_url,
        "SELECT v.sku, l.quantity FROM cart_line l JOIN variant v ON v.id = l.variant_id ORDER BY l.id",
    )


def order_status(settings: Settings, order_id: int) -> str:
    found: str = query(settings.database_url, "SELECT status FROM shop_order WHERE id = :id", id=order_id)[0][0]
    return found


def payments(settings: Settings, order_id: int) -> list[tuple[Any, ...]]:
    """An order's payments as (intent id, status), oldest first."""
    return query(
        settings.database_url,
        "SELECT intent_id, status FROM payment WHERE order_id = :id ORDER BY id",
        id=order_id,
    )


def count(settings: Settings, table: str) -> int:
    assert table.isidentifier()
    found: int = query(settings.database_url, f"SELECT count(*) FROM {table}")[0][0]  # noqa: S608 - a table name
    return found


def migrate(url: str, revision: str = "head", *, down: bool = False) -> None:
    """Through the operator's own command, so the migrations themselves are under test."""
    env = {**os.environ, "STOREFRONT_DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, "-m", "storefront", "database", "downgrade" if down else "upgrade", revision, "--no-prompt"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def postgres_admin(url: str, statement: str) -> None:
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


async def import_catalog(url: str, csv_text: bytes) -> list[str]:
    """What `python -m storefront catalog import` does, in-process."""
    engine = create_async_db_engine(url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            # The test catalogue's own texts are English, as the tests' settings say.
            return await apply_catalog(session, parse_catalog_csv(csv_text, default_language="en"))
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
    # Each test starts from the catalogue with no history: the import's first stock is not a change it made.
    engine = create_async_db_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(delete(metadata.tables["stock_movement"]))
    finally:
        await engine.dispose()
