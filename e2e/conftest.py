"""Starts the shop for the browser tests (unless --base-url points at one that is running) and
launches Debian's Chromium when Playwright has no browser of its own."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(ROOT / "e2e"):
            item.add_marker(pytest.mark.e2e)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_healthy(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the shop stopped while starting (exit {process.returncode})")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the shop did not answer on {url} within {seconds} s")


@pytest.fixture(scope="session")
def base_url(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = pytestconfig.getoption("base_url", None)
    if configured:
        yield configured.rstrip("/")
        return
    workdir = tmp_path_factory.mktemp("shop")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "STOREFRONT_SANDBOX_DB": str(workdir / "sandbox.sqlite"),
        "STOREFRONT_OUTBOX_DIR": str(workdir / "outbox"),
        "STOREFRONT_DATABASE_URL": f"sqlite:///{workdir / 'shop.sqlite'}",
        "STOREFRONT_BASE_URL": url,
        "STOREFRONT_ENV": "development",
    }
    run = [sys.executable, "-m", "storefront"]
    for command in (["database", "upgrade", "--no-prompt"], ["demo", "load"]):
        subprocess.run(run + command, cwd=ROOT, env=env, check=True, capture_output=True)
    SHOP_LOG.append(workdir / "shop.log")
    SHOP_OUTBOX.append(workdir / "outbox")
    log = (workdir / "shop.log").open("w")
    process = subprocess.Popen(
        [*run, "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


SHOP_LOG: list[Path] = []  # where the shop started here writes its log
SHOP_OUTBOX: list[Path] = []  # and its e-mails


@pytest.fixture(scope="session")
def shop_outbox(base_url: str) -> Path | None:
    """The folder the shop started here writes its e-mails to (None when --base-url points elsewhere)."""
    return SHOP_OUTBOX[0] if SHOP_OUTBOX else None


@pytest.fixture(scope="session")
def shop_log(base_url: str) -> Path | None:
    """The log of the shop these tests started (None when --base-url points elsewhere)."""
    return SHOP_LOG[0] if SHOP_LOG else None


def _system_chromium() -> str | None:
    return os.environ.get("STOREFRONT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    args = {**browser_type_launch_args}
    chromium = _system_chromium()
    if chromium and not args.get("channel"):
        args["executable_path"] = chromium
        args["args"] = [*args.get("args", []), *CHROMIUM_FLAGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    return args


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "locale": "en-US"}
