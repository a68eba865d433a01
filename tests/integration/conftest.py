from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from storefront.app import create_app
from storefront.db import create_async_db_engine
from storefront.settings import Settings

HTMX = {"HX-Request": "true"}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(app=create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def server_errors(client: TestClient, caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """What the shop logs as errors while a test runs (attached after the app configured logging)."""
    logger = logging.getLogger("storefront")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="storefront")
    yield caplog.records  # the live list: read it after the requests
    logger.removeHandler(caplog.handler)


def errors_in(records: list[logging.LogRecord]) -> list[str]:
    return [record.getMessage() for record in records if record.levelno >= logging.ERROR]


def query(url: str, sql: str, **params: Any) -> list[tuple]:
    async def run() -> list[tuple]:
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


def variant_id(settings: Settings, sku: str) -> int:
    return query(settings.database_url, "SELECT id FROM variant WHERE sku = :sku", sku=sku)[0][0]


def cart_lines(settings: Settings) -> list[tuple[str, int]]:
    """Every cart line in the shop as (sku, quantity): what a test must find unchanged."""
    return query(
        settings.database_url,
        "SELECT v.sku, l.quantity FROM cart_line l JOIN variant v ON v.id = l.variant_id ORDER BY l.id",
    )


def csrf(client: TestClient) -> str:
    if "csrftoken" not in client.cookies:
        client.get("/")
    return client.cookies["csrftoken"]


def form(client: TestClient, **fields: Any) -> dict[str, Any]:
    return {"_csrf_token": csrf(client), **fields}


def text_of(html: str) -> str:
    """The visible words of some HTML, with whitespace folded (for asserting on what people read)."""
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", html)).strip()
