"""`make run` as a shop owner types it, on an empty database: migrations, the demo catalogue, and
a shop that answers. On PostgreSQL too when the tests have one (a fresh database of its own)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import URL, make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.db import BACKENDS, POSTGRES_URL, ROOT


@contextmanager
def empty_database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/shop.sqlite"
        return
    name = f"storefront_run_{uuid.uuid4().hex[:12]}"
    admin = make_url(POSTGRES_URL).set(drivername="postgresql+asyncpg")
    autocommit(admin, f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        autocommit(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def autocommit(url: URL, sql: str) -> None:
    """CREATE and DROP DATABASE cannot run inside a transaction."""

    async def run() -> None:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(run())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_make_run_starts_the_demo_shop_on_an_empty_database(backend, tmp_path):
    port = free_port()
    with empty_database(backend, tmp_path) as url:
        env = {
            **os.environ,
            "STOREFRONT_DATABASE_URL": url,
            "STOREFRONT_OUTBOX_DIR": str(tmp_path / "outbox"),
            "STOREFRONT_MEDIA_DIR": str(tmp_path / "media"),
            "STOREFRONT_SANDBOX_DB": ":memory:",
            "PORT": str(port),
        }
        env.pop("MAKEFLAGS", None)
        shop = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            home = wait_for(f"http://127.0.0.1:{port}/de/", shop)
        finally:
            os.killpg(shop.pid, signal.SIGTERM)
            output = shop.communicate(timeout=30)[0].decode(errors="replace")
    assert "demo catalogue: loaded" in output, output
    assert "Traceback" not in output, output
    assert home.count('<li class="card">') >= 10, home[:2000]


def wait_for(url: str, shop: subprocess.Popen[bytes], timeout_s: float = 120) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if shop.poll() is not None:
            pytest.fail(f"make run stopped with {shop.returncode}: {shop.communicate()[0].decode(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (http to the shop just started)
                return str(response.read().decode())
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"make run did not answer {url} within {timeout_s} s")
