"""Starts the shop for the browser tests (unless --base-url points at one that is running) and
launches Debian's Chromium when Playwright has no browser of its own."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from e2e.backstage import LocalShop, Sandbox, ShopRecords, StaffAccount
from e2e.pages import Address, OrdersPage
from e2e.steps import sign_in

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]


# Waits are on what the page shows; a payment's status may take a poll or two (1 s each) to turn.
expect.set_options(timeout=15_000)


JOURNEYS: list[tuple[str, str, float, str]] = []  # (outcome, node id, seconds, what it shows), as they finish


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(ROOT / "e2e"):
            item.add_marker(pytest.mark.e2e)
            doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
            # Travels with the test's reports (also from parallel workers) to the summary below.
            item.user_properties.append(("journey", " ".join(doc.strip().split("\n\n")[0].split())))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    about = dict(report.user_properties).get("journey")
    if not isinstance(about, str):  # None: not a journey (the collection hook above sets a str)
        return
    reason = (
        report.longrepr[2].removeprefix("Skipped: ") if report.skipped and isinstance(report.longrepr, tuple) else ""
    )
    expected_failure = getattr(report, "wasxfail", None)  # a journey marked xfail: a known fault of the shop
    if report.when == "call" and expected_failure is not None and report.skipped:
        JOURNEYS.append(("xfailed", report.nodeid, report.duration, f"{about} Fails as expected: {expected_failure}"))
    elif report.when == "call" or (report.when == "setup" and not report.passed):
        JOURNEYS.append((report.outcome, report.nodeid, report.duration, f"skipped: {reason}" if reason else about))
    elif report.when == "teardown" and report.failed:
        JOURNEYS.append(("error", report.nodeid, report.duration, about))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """One line per journey: outcome, time, name and what it shows; where the evidence of failures is."""
    if not JOURNEYS:
        return
    terminalreporter.write_sep("-", "journeys")
    for outcome, nodeid, seconds, about in JOURNEYS:
        name = nodeid.removeprefix("e2e/").replace("[chromium]", "")
        terminalreporter.write_line(f"{outcome.upper():7} {seconds:5.1f} s  {name}" + (f"  ({about})" if about else ""))
    if any(outcome in {"failed", "error"} for outcome, *_rest in JOURNEYS):
        output = config.getoption("output", "test-results")
        terminalreporter.write_line(f"trace and screenshot of each failed journey: {output}/<journey>/")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
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
def local_shop(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalShop | None]:
    """Starts a shop with its sandbox on a free port, a throw-away database and e-mail folder;
    stops it afterwards, also on failure. None when --base-url points at a running shop."""
    if pytestconfig.getoption("base_url", None):
        yield None
        return
    workdir = tmp_path_factory.mktemp("shop")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "STOREFRONT_SANDBOX_DB": str(workdir / "sandbox.sqlite"),
        "STOREFRONT_OUTBOX_DIR": str(workdir / "outbox"),
        "STOREFRONT_MEDIA_DIR": str(workdir / "media"),
        "STOREFRONT_DATABASE_URL": f"sqlite:///{workdir / 'shop.sqlite'}",
        "STOREFRONT_BASE_URL": url,
        "STOREFRONT_ENV": "development",
        "STOREFRONT_STOCK_ALERT_INTERVAL_S": "1",  # "back in stock" e-mails within a second
        # every journey's customer comes from this machine's address; the limits have their own tests
        "STOREFRONT_UNPAID_PER_ADDRESS": "1000",
        "STOREFRONT_ORDERS_PER_ADDRESS_PER_HOUR": "1000",
    }
    for name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET"):
        env.pop(name, None)  # this shop pays through its own sandbox
    shop = LocalShop(url, env, workdir / "shop.sqlite", workdir / "shop.log", workdir / "outbox")
    shop.command("database", "upgrade", "--no-prompt")
    shop.command("demo", "load")
    log = shop.log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "storefront", "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        try:
            _wait_until_healthy(url, process)
        except RuntimeError as failure:
            log.flush()
            raise RuntimeError(f"{failure}; the end of its log:\n{shop.log.read_text()[-3000:]}") from None
        yield shop
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def base_url(pytestconfig: pytest.Config, local_shop: LocalShop | None) -> str:
    return local_shop.url if local_shop else pytestconfig.getoption("base_url").rstrip("/")


@pytest.fixture
def records(local_shop: LocalShop | None) -> ShopRecords | None:
    """The shop's own records, when the suite started the shop (None against --base-url)."""
    return ShopRecords(local_shop) if local_shop else None


@pytest.fixture(scope="session")
def _sandbox(base_url: str) -> Iterator[Sandbox | None]:
    sandbox = Sandbox(base_url)
    yield sandbox if sandbox.available() else None
    sandbox.http.close()


@pytest.fixture
def sandbox(_sandbox: Sandbox | None, base_url: str) -> Iterator[Sandbox]:
    """The shop's offline Stripe sandbox, its switches back to normal after the test."""
    if _sandbox is None:
        pytest.skip(f"needs the offline Stripe sandbox; the shop at {base_url} pays through Stripe itself")
    _sandbox.reset()
    try:
        yield _sandbox
    finally:
        _sandbox.reset()


@pytest.fixture
def needs_local_shop(local_shop: LocalShop | None) -> LocalShop:
    """For journeys that need the shop's command line (e.g. the reconciler) or its e-mails."""
    if local_shop is None:
        pytest.skip("needs the shop's command line (catalogue import, reconciler): only without --base-url")
    return local_shop


@pytest.fixture
def new_product(needs_local_shop: LocalShop, tmp_path: Path) -> Callable[..., str]:
    """Adds a product of the journey's own to the shop (through its CSV import), so what the journey
    buys or sells out touches no other journey; gives back its slug (its one variant's SKU is the
    slug in capitals)."""

    def add(name: str = "QA Test Lantern", price: str = "25.00", stock: int = 1) -> str:
        slug = f"qa-{uuid.uuid4().hex[:10]}"
        csv = tmp_path / f"{slug}.csv"
        csv.write_text(
            "product,name,description,sku,price,vat,stock\n"
            f"{slug},{name},Added by a browser test.,{slug.upper()},{price},standard,{stock}\n"
        )
        needs_local_shop.command("catalog", "import", str(csv))
        return slug

    return add


ACCOUNTS_FROM_ENV = {
    "owner": ("STOREFRONT_E2E_OWNER_EMAIL", "STOREFRONT_E2E_OWNER_PASSWORD"),
    "staff": ("STOREFRONT_E2E_STAFF_EMAIL", "STOREFRONT_E2E_STAFF_PASSWORD"),
}


@pytest.fixture(scope="session")
def staff_accounts(local_shop: LocalShop | None) -> dict[str, StaffAccount]:
    """One owner and one staff account of the back office, by role. On the started shop they are
    made once for the run through its command line (`staff add … --password-stdin`); against
    --base-url they are what STOREFRONT_E2E_OWNER_EMAIL/_PASSWORD and STOREFRONT_E2E_STAFF_EMAIL/
    _PASSWORD name, if set."""
    accounts = {}
    if local_shop is None:
        for role, (email, password) in ACCOUNTS_FROM_ENV.items():
            if os.environ.get(email) and os.environ.get(password):
                accounts[role] = StaffAccount(os.environ[email], os.environ[password], role)
        return accounts
    for role in ACCOUNTS_FROM_ENV:
        account = StaffAccount(f"qa-{role}-{uuid.uuid4().hex[:8]}@example.ch", f"qa-{secrets.token_urlsafe(18)}", role)
        local_shop.command(
            "staff", "add", account.email, "--role", role, "--password-stdin", input=f"{account.password}\n"
        )
        accounts[role] = account
    return accounts


def _account(staff_accounts: dict[str, StaffAccount], role: str) -> StaffAccount:
    if role not in staff_accounts:
        email, password = ACCOUNTS_FROM_ENV[role]
        pytest.skip(f"needs a back-office {role} account: only without --base-url, or with {email} and {password}")
    return staff_accounts[role]


@pytest.fixture
def owner(staff_accounts: dict[str, StaffAccount]) -> StaffAccount:
    """The back office's owner account (everything, refunds included)."""
    return _account(staff_accounts, "owner")


@pytest.fixture
def staff_member(staff_accounts: dict[str, StaffAccount]) -> StaffAccount:
    """The back office's staff account (orders, shipping; no refunds)."""
    return _account(staff_accounts, "staff")


@pytest.fixture
def back_office(new_context: Callable[..., Any], owner: StaffAccount) -> OrdersPage:
    """The back office in a browser context of its own (the shop's, not the customer's), signed in
    as the owner: the orders list."""
    return sign_in(new_context().new_page(), owner)


@pytest.fixture
def address(request: pytest.FixtureRequest) -> Address:
    """A customer with an e-mail address of their own, so a journey finds its orders and no other."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))[:40].strip("-")
    return Address(email=f"qa-{name}-{uuid.uuid4().hex[:8]}@example.ch")


def _system_chromium() -> str | None:
    return os.environ.get("STOREFRONT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any], browser_name: str) -> dict[str, Any]:
    args = {**browser_type_launch_args}
    chromium = _system_chromium()
    if chromium and browser_name == "chromium" and not args.get("channel"):
        args["executable_path"] = chromium
        args["args"] = [*args.get("args", []), *CHROMIUM_FLAGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    return args


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    # A shop behind a proxy with its own certificate authority (make prod-local): the browser is
    # told to accept its certificate, which the other clients check against STOREFRONT_E2E_CA_FILE.
    private_ca = bool(os.environ.get("STOREFRONT_E2E_CA_FILE"))
    return {**browser_context_args, "locale": "en-US", **({"ignore_https_errors": True} if private_ca else {})}
