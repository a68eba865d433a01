"""`make bench`: the shop served as in production, loaded over loopback by wrk, beside two ceilings.

For every page three figures, in requests/s with p50/p99 latency:
- the bare ceiling: the page's template rendered from memory by a bare Litestar app (no
  middleware, no plugins; `bench/bare.py`) — what the framework and Jinja2 can do;
- the in-shop ceiling: the same route inside the shop, behind its whole request pipeline
  (`bench/app.py`) — the gap to the bare ceiling is what the pipeline costs;
- the real page, with its database work — the gap to the in-shop ceiling is what the data costs;
  measured in a shop of 15 products and 130 orders and, in the same rounds, in one with 10,000
  products more and 10,000 orders. Both back offices fill their first page of orders to ship (130
  orders hold 26 to ship, one more than a page), so that comparison measures the number of orders
  and not a longer table.
`/healthz` is measured against the bare app's plain-text answer. The htmx add-to-cart and the
order-status poll answer a part of a page; their bare ceilings are the same parts rendered from
memory, while their budgets are shares of the product page's bare ceiling. Figures vary by
machine; the ratios are what count, each the median of the per-round ratios.

Configurations: SQLite with one worker; with BENCH_DATABASE_URL (a postgresql:// URL whose server
gets two databases named after it with _small and _large) PostgreSQL with one and two workers too.
With one worker the server runs on one core and wrk on the other; with two they share both.

Environment: BENCH_DURATION (seconds per run, default 5), BENCH_CONNECTIONS (default 32),
BENCH_ROUNDS (default 3), BENCH_DATABASE_URL, BENCH_ONLY (sqlite or postgresql: one backend only),
BENCH_LOOP (uvicorn's event loop; default asyncio, as in production).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any, TypedDict

import stripe

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DURATION = int(os.environ.get("BENCH_DURATION", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
# The event loop production runs (deploy/storefront.service); BENCH_LOOP=uvloop compares another.
LOOP = os.environ.get("BENCH_LOOP", "asyncio")
PRODUCT = "alpine-honey"
HX_SCRIPT = 'wrk.headers["HX-Request"] = "true"\n'
CEILING_PATH = "/_bench/ceiling"
ORDERS = 10_000
SMALL_ORDERS = 130  # a fifth of them paid and not shipped: a full first page of orders to ship
OWNER, OWNER_PASSWORD = "bench-owner@example.ch", "Bench-Velo-Kaffee-42"
# The four figures of a page: bare ceiling, in-shop ceiling, real page with 15 and 10,000 products.
BARE, IN_SHOP, SMALL, LARGE = "bare", "in-shop", "15", "10,000"


class Figures(TypedDict):
    """One wrk run: requests/s, median and 99th-percentile latency (ms), non-2xx/3xx answers."""

    rps: float
    p50: float
    p99: float
    failures: int


# The server on one core, wrk on the other, so they do not take turns on the same one.
SERVER_CPU, LOAD_CPU = ("1", "0") if (os.cpu_count() or 1) > 1 else (None, None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _search(pattern: str, text: str) -> re.Match[str]:
    """`re.search` for what is certainly there (a form field of the shop's page, a figure of wrk's report)."""
    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not found in {text[:200]!r}"
    return match


def _cookie(jar: CookieJar, name: str) -> str:
    value = next(c.value for c in jar if c.name == name)
    assert value is not None, f"the {name} cookie has no value"
    return value


class Server:
    """One server of `factory` (the shop, or the bare framework) with `workers` workers, started
    as production starts the shop (`python -m storefront.serving`)."""

    def __init__(self, env: dict[str, str], factory: str, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.factory = factory
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        from storefront.serving import listening_on

        command = [
            sys.executable, "-m", "storefront.serving", self.factory, "--host", "127.0.0.1",
            "--port", str(self.port), "--workers", str(self.workers), "--loop", LOOP, "--log-level", "warning",
        ]  # fmt: skip
        if self.workers == 1 and SERVER_CPU and shutil.which("taskset"):
            command = ["taskset", "-c", SERVER_CPU, *command]
        # The shop reaches its own sandbox (and the sandbox its webhook endpoint) at this address.
        # The server's own log (the purchase through the sandbox, sign-ins) goes to a file, so the
        # report stays readable; it is printed if the server does not start.
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**self.env, "STOREFRONT_BASE_URL": self.url},
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,  # a process group of its own, paused and resumed as one
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}{CEILING_PATH}/plain", timeout=1):
                    pass
            except OSError:
                time.sleep(0.1)
                continue
            if listening_on(self.port) >= self.workers:  # every worker up, not only the first
                return self
            time.sleep(0.1)
        self.log.seek(0)
        raise RuntimeError(f"{self.factory} did not start:\n{self.log.read().decode(errors='replace')}")

    def paused(self, paused: bool) -> None:
        """Stop (or resume) the server and its workers: their periodic jobs (the outbox, the
        reconciler, stock alerts) and the database work they cause then take no core from the
        server being measured."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP if paused else signal.SIGCONT)

    def __exit__(self, *_exc: object) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):  # (it ended already)
            self.paused(False)
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


def storefront(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "storefront", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        input=stdin.encode() if stdin is not None else None,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"storefront {' '.join(args)} failed:\n{done.stderr.decode()}")


def signed_in(url: str) -> str:
    """The cookies of an owner signed in to the back office (session and CSRF)."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{url}/admin/sign-in").read()
    token = _cookie(jar, "csrftoken")
    fields = {"_csrf_token": token, "email": OWNER, "password": OWNER_PASSWORD, "next": "/admin/orders"}
    opener.open(urllib.request.Request(f"{url}/admin/sign-in", data=urllib.parse.urlencode(fields).encode())).read()
    assert any(c.name == "storefront_staff" for c in jar), "the benchmark's owner could not sign in"
    return f"csrftoken={token}; storefront_staff={_cookie(jar, 'storefront_staff')}"


def seed_orders(env: dict[str, str], count: int) -> None:
    """`count` orders as a busy shop has them after a while: most paid and shipped, some to ship,
    some waiting or cancelled, each with its payment and its e-mail; a few paid twice."""
    import datetime as dt

    from sqlalchemy import insert

    from storefront.db import create_async_db_engine
    from storefront.orders.emails import outbox_t
    from storefront.orders.views import order_t, payment_t

    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=200)
    kinds = ["paid-shipped"] * 6 + ["paid"] * 2 + ["cancelled"] * 2  # none waiting: the reconciler stays idle
    orders, pays, emails = [], [], []
    for n in range(count):
        kind = kinds[n % len(kinds)]
        at = start + dt.timedelta(minutes=25 * n)
        status = "paid" if kind.startswith("paid") else kind
        orders.append(
            {
                "id": 1_000_000 + n,
                "number": str(2_000_000 + n),
                "public_token": f"bench-{n}",
                "status": status,
                "email": f"customer{n}@example.ch",
                "name": f"Customer {n}",
                "street": "Weg 1",
                "postal_code": "8001",
                "city": "Zürich",
                "country": "CH",
                "shipping_method": "b_post",
                "shipping_price": 700,
                "subtotal": 4990,
                "total": 5690,
                "currency": "chf",
                "language": "de",
                "fulfilment": "shipped" if kind == "paid-shipped" else "open",
                "created_at": at,
                "updated_at": at,
            }
        )
        payment_status = {"paid": "succeeded", "pending_payment": "pending", "cancelled": "canceled"}[status]
        pays.append(
            {
                "order_id": 1_000_000 + n,
                "intent_id": f"pi_bench_{n}",
                "amount": 5690,
                "currency": "chf",
                "status": payment_status,
                "created_at": at,
            }
        )
        if n % 997 == 0 and status == "paid":
            pays.append({**pays[-1], "intent_id": f"pi_bench_{n}_again", "status": "refund_due"})
        if status == "paid":
            emails.append(
                {
                    "order_id": 1_000_000 + n,
                    "kind": "order_paid",
                    "recipient": f"customer{n}@example.ch",
                    "subject": "Ihre Bestellung",
                    "body": "…",
                    "created_at": at,
                    "sent_at": at,
                    "attempts": 1,
                }
            )

    async def run() -> None:
        engine = create_async_db_engine(env["STOREFRONT_DATABASE_URL"])
        async with engine.begin() as connection:
            await connection.execute(insert(order_t), orders)
            await connection.execute(insert(payment_t), pays)
            await connection.execute(insert(outbox_t), emails)
        await engine.dispose()

    asyncio.run(run())


def visitor_with_two_lines(url: str) -> tuple[str, str]:
    """A real visitor: GET a page (CSRF and language cookies), add two products. Returns (cookie
    header, csrf token)."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{url}/en/products/{PRODUCT}").read().decode()
    token = _cookie(jar, "csrftoken")
    for slug in (PRODUCT, "enamel-mug"):
        html = page if slug == PRODUCT else opener.open(f"{url}/en/products/{slug}").read().decode()
        variant = _search(r'name="variant_id" value="(\d+)"', html)[1]
        body = urllib.parse.urlencode({"_csrf_token": token, "variant_id": variant, "quantity": "1"}).encode()
        opener.open(urllib.request.Request(f"{url}/en/cart/lines", data=body, method="POST"))
    _cookie(jar, "cart")  # (fails unless the adds gave the visitor a cart)
    # Every cookie the shop set, as a browser sends them back (the language's too: without it each
    # page would answer with a Set-Cookie no real visitor gets).
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar), token


def paid_order_status_path(url: str) -> str:
    """A real purchase in the sandbox: checkout, TWINT confirm and authorize; the webhook marks it paid."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    html = opener.open(f"{url}/en/products/enamel-mug").read().decode()
    token = _cookie(jar, "csrftoken")
    variant = _search(r'name="variant_id" value="(\d+)"', html)[1]

    def post(path: str, fields: dict[str, str]) -> str:
        """POST and return the Location of the 303 that answers it."""
        request = urllib.request.Request(url + path, data=urllib.parse.urlencode(fields).encode(), method="POST")
        try:
            opener.open(request)
        except urllib.error.HTTPError as answer:
            if answer.code in (302, 303):
                return answer.headers["Location"]
            raise
        raise RuntimeError(f"POST {path} did not redirect")

    post("/en/cart/lines", {"_csrf_token": token, "variant_id": variant, "quantity": "1"})
    location = post(
        "/en/checkout",
        {
            "_csrf_token": token,
            "email": "bench@example.ch",
            "name": "Bench Mark",
            "street": "Weg 1",
            "postal_code": "8001",
            "city": "Zürich",
            "country": "CH",
            "shipping": "pickup",
        },
    )
    order_path = location.removesuffix("/pay")
    secret = _search(r'data-client-secret="([^"]+)"', opener.open(url + location).read().decode())[1]
    client = stripe.StripeClient("sk_test_bench", base_addresses={"api": f"{url}/_sandbox"})
    intent = client.v1.payment_intents.confirm(
        secret.split("_secret_")[0],
        params={"payment_method_data": {"type": "twint"}, "return_url": f"{url}/en/checkout/return"},
    )
    redirect = intent.next_action.redirect_to_url if intent.next_action else None
    assert redirect is not None and redirect.url is not None, "a TWINT payment sends the customer to TWINT's page"
    twint = urllib.parse.urlsplit(redirect.url)
    post(twint.path, {"token": urllib.parse.parse_qs(twint.query)["token"][0], "action": "authorize"})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if "status-paid" in opener.open(url + order_path).read().decode():
            return f"{order_path}/status"
        time.sleep(0.2)
    raise RuntimeError("the benchmark's order was not paid")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


ADD_SCRIPT = """
local counter = 0
request = function()
  counter = counter + 1
  -- 1000 visitors in turn, each adding one unit of one of the product's variants
  local headers = {}
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  headers["HX-Request"] = "true"
  headers["Cookie"] = "csrftoken=%(token)s; cart=bench-visitor-" .. (counter %% 1000)
  local body = "_csrf_token=%(token)s&quantity=1&variant_id=" .. variants[(counter %% #variants) + 1]
  return wrk.format("POST", "/en/cart/lines", headers, body)
end
variants = {%(variants)s}
"""


def wrk(
    url: str, *, cookie: str | None = None, script: str | None = None, duration: int = DURATION, pin: bool = True
) -> Figures:
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency", url]
    if pin and LOAD_CPU and shutil.which("taskset"):
        command = ["taskset", "-c", LOAD_CPU, *command]
    if cookie:
        command[-1:-1] = ["-H", f"Cookie: {cookie}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        if script:
            handle.write(script)
            command[-1:-1] = ["-s", handle.name]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    os.unlink(handle.name)
    failures = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(_search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        "p50": _ms(_search(r"50%\s+([\d.]+\w+)", output)[1]),
        "p99": _ms(_search(r"99%\s+([\d.]+\w+)", output)[1]),
        "failures": int(failures[1]) if failures else 0,
    }


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(\w+)", text)
    assert match is not None, f"wrk wrote the latency {text!r}"
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


@dataclass(frozen=True)
class Run:
    """One figure of a page: which server, which address, with which cookie and wrk script."""

    server: str  # "bare-small", "bare-large", "small" or "large"
    path: str
    cookie: str = ""  # "visitor" or "staff": that server's visitor with 2 cart lines, or its owner
    script: str | None = None


@dataclass(frozen=True)
class Page:
    name: str
    runs: dict[str, Run]  # by figure: BARE, IN_SHOP, SMALL, LARGE
    of_bare: float | None = None  # budget: the real page (15 products) as a share of this bare ceiling
    bare_of: str | None = None  # whose bare ceiling the budget is a share of (default: its own)
    large_budget: float | None = None  # budget: the real page with 10,000 as a share of with 15


def pages(status_path: str, add_script: str) -> list[Page]:
    ceiling = CEILING_PATH
    return [
        Page(
            "/healthz (SELECT 1); ceilings: plain text",
            {
                BARE: Run("bare-small", f"{ceiling}/plain"),
                IN_SHOP: Run("small", f"{ceiling}/plain"),
                SMALL: Run("small", "/healthz"),
            },
            of_bare=0.50,
        ),
        Page(
            "product page, 2 lines in cart",
            {
                BARE: Run("bare-small", f"{ceiling}/product/{PRODUCT}", "visitor"),
                IN_SHOP: Run("small", f"{ceiling}/product/{PRODUCT}", "visitor"),
                SMALL: Run("small", f"/en/products/{PRODUCT}", "visitor"),
                LARGE: Run("large", f"/en/products/{PRODUCT}", "visitor"),
            },
            of_bare=0.50,
            large_budget=0.80,
        ),
        Page(
            "catalogue, first page, 2 lines in cart",
            {
                BARE: Run("bare-small", f"{ceiling}/catalog", "visitor"),
                IN_SHOP: Run("small", f"{ceiling}/catalog", "visitor"),
                SMALL: Run("small", "/en/", "visitor"),
                LARGE: Run("large", "/en/", "visitor"),
            },
            of_bare=0.40,
            large_budget=0.80,
        ),
        Page(
            "htmx add-to-cart",
            {
                BARE: Run("bare-small", f"{ceiling}/add-form/{PRODUCT}", "visitor", HX_SCRIPT),
                IN_SHOP: Run("small", f"{ceiling}/add-form/{PRODUCT}", "visitor", HX_SCRIPT),
                SMALL: Run("small", "/en/cart/lines", "", add_script),
            },
            of_bare=0.30,
            bare_of="product page, 2 lines in cart",
        ),
        Page(
            "order status poll (htmx, paid)",
            {
                BARE: Run("bare-small", f"{ceiling}/status", "visitor", HX_SCRIPT),
                IN_SHOP: Run("small", f"{ceiling}/status", "visitor", HX_SCRIPT),
                SMALL: Run("small", status_path, "visitor", HX_SCRIPT),
            },
            of_bare=0.50,
            bare_of="product page, 2 lines in cart",
        ),
        Page(
            "back office: orders to ship, first page",
            {
                BARE: Run("bare-large", f"{ceiling}/admin-orders", "staff"),
                IN_SHOP: Run("large", f"{ceiling}/admin-orders", "staff"),
                SMALL: Run("small", "/admin/orders", "staff"),
                LARGE: Run("large", "/admin/orders", "staff"),
            },
            large_budget=0.80,
        ),
    ]


Table = dict[tuple[str, str], Figures]  # (page, figure) -> medians over the rounds


def measure(
    servers: dict[str, Server], cookies: dict[tuple[str, str], str], plan: list[Page], pin: bool
) -> tuple[Table, dict[str, float]]:
    """Every figure ROUNDS times, interleaved (a page's figures back to back), so a slow spell of the
    machine hits every figure alike, with the other servers paused meanwhile. Returns the medians
    and the median per-round ratios by name."""
    raw: dict[tuple[str, str], list[Figures]] = {}
    for round_number in range(ROUNDS + 1):  # round 0 warms up
        for page in plan:
            for figure, run in page.runs.items():
                for name, server in servers.items():
                    server.paused(name != run.server)
                result = wrk(
                    servers[run.server].url + run.path,
                    cookie=cookies.get((run.server.removeprefix("bare-"), run.cookie)),
                    script=run.script,
                    duration=2 if round_number == 0 else DURATION,
                    pin=pin,
                )
                if round_number:
                    raw.setdefault((page.name, figure), []).append(result)
    for server in servers.values():
        server.paused(False)
    table: Table = {
        key: {
            "rps": statistics.median(f["rps"] for f in runs),
            "p50": statistics.median(f["p50"] for f in runs),
            "p99": statistics.median(f["p99"] for f in runs),
            "failures": sum(f["failures"] for f in runs),
        }
        for key, runs in raw.items()
    }

    def ratio(top: tuple[str, str], bottom: tuple[str, str]) -> float:
        return statistics.median(a["rps"] / b["rps"] for a, b in zip(raw[top], raw[bottom], strict=True))

    ratios: dict[str, float] = {}
    for page in plan:
        for figure in page.runs:
            if figure != BARE:
                ratios[f"{page.name}|{figure}/bare"] = ratio((page.name, figure), (page.name, BARE))
        if LARGE in page.runs:
            ratios[f"{page.name}|large/small"] = ratio((page.name, LARGE), (page.name, SMALL))
        if page.bare_of:
            ratios[f"{page.name}|{SMALL}/{page.bare_of}"] = ratio((page.name, SMALL), (page.bare_of, BARE))
    return table, ratios


def report(title: str, plan: list[Page], table: Table, ratios: dict[str, float], first_load: int) -> bool:
    """Prints the table and the budgets; True when every budget is met."""
    print(f"\n{title}\n")
    print(f"{'page':42} {'figure':8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'of bare':>7} {'errors':>6}")
    for page in plan:
        for figure in page.runs:
            figures = table[(page.name, figure)]
            share = "" if figure == BARE else f"{ratios[f'{page.name}|{figure}/bare']:7.0%}"
            print(
                f"{page.name if figure == next(iter(page.runs)) else '':42} {figure:8} {figures['rps']:7.0f} "
                f"{figures['p50']:7.2f} {figures['p99']:7.2f} {share:>7} {figures['failures']:6d}"
            )
    checks: list[tuple[str, float, float]] = []
    for page in plan:
        if page.of_bare is not None:
            key = f"{page.name}|{SMALL}/{page.bare_of}" if page.bare_of else f"{page.name}|{SMALL}/bare"
            whose = f"the {page.bare_of.split(',')[0]}'s" if page.bare_of else "its"
            checks.append((f"{page.name} >= {page.of_bare:.0%} of {whose} bare ceiling", ratios[key], page.of_bare))
        if page.large_budget is not None:
            more, fewer = ("orders", SMALL_ORDERS) if page.name.startswith("back office") else ("products", 15)
            checks.append(
                (
                    f"{page.name}: with 10,000 {more} >= {page.large_budget:.0%} of with {fewer}",
                    ratios[f"{page.name}|large/small"],
                    page.large_budget,
                )
            )
    for page in plan:
        for figure in (SMALL, LARGE):
            if figure in page.runs:
                figures = table[(page.name, figure)]
                checks.append(
                    (
                        f"{page.name} [{figure}]: p99 <= 4 x p50 ({figures['p99']:.1f} / {figures['p50']:.1f} ms)",
                        4 * figures["p50"] / figures["p99"],
                        1.0,
                    )
                )
    checks.append((f"first product page <= 30 KB compressed ({first_load / 1024:.1f} KB)", 30 * 1024 / first_load, 1.0))
    checks.append(("no failed requests", 1.0 if all(f["failures"] == 0 for f in table.values()) else 0.0, 1.0))
    print()
    for name, value, target in checks:
        shown = f": {value:.0%}" if "%" in name.split(">=")[-1] else ""
        print(f"{'meets' if value >= target else 'MISSES':6}  {name}{shown}")
    return all(value >= target for _name, value, target in checks)


def first_load_bytes(url: str) -> int:
    """Bytes on the wire for a first visit of a product page: HTML, CSS and JS, gzip-compressed."""

    def fetch(path: str) -> bytes:
        request = urllib.request.Request(url + path, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request) as response:
            body: bytes = response.read()
            return body

    html = fetch(f"/en/products/{PRODUCT}")
    text = gzip.decompress(html).decode() if html[:2] == b"\x1f\x8b" else html.decode()
    assets = re.findall(r'(?:href|src)="(/assets/[^"]+\.(?:css|js))"', text)
    return len(html) + sum(len(fetch(path)) for path in assets)


def seed_products(env: dict[str, str], count: int) -> None:
    from storefront.catalog.importer import apply_catalog, parse_catalog_csv
    from storefront.db import create_async_db_engine, make_alchemy_config

    rows = ["product,name,description,image,image_alt,sku,option,price,vat,stock"]
    for n in range(count):
        rows.append(
            f"seeded-{n},Seeded product {n},A product to fill the catalogue.,img/products/enamel-mug.svg,"
            f"A mug,SEED-{n}-S,S,{10 + n % 90}.90,standard,{n % 7}"
        )
        rows.append(f"seeded-{n},,,,,SEED-{n}-L,L,{20 + n % 90}.90,standard,5")

    async def run() -> None:
        engine = create_async_db_engine(env["STOREFRONT_DATABASE_URL"])
        async with make_alchemy_config(engine).get_session() as session:
            await apply_catalog(session, parse_catalog_csv("\n".join(rows).encode()))
        await engine.dispose()

    asyncio.run(run())


def prepare(workdir: Path, base: str | None, names: tuple[str, ...] = ("small", "large")) -> dict[str, dict[str, str]]:
    """The two shops' settings and databases: 15 products and 130 orders; 10,000 products and orders more."""
    envs: dict[str, dict[str, str]] = {}
    for name, products, orders in (("small", 0, SMALL_ORDERS), ("large", 10_000, ORDERS)):
        if name not in names:
            continue
        url = f"{base.rstrip('/')}_{name}" if base else f"sqlite:///{workdir / name}.sqlite"
        if base:
            create_postgres_database(base, url)
        env = {
            **os.environ,
            "STOREFRONT_DATABASE_URL": url,
            "STOREFRONT_DEBUG": "0",
            "STOREFRONT_SANDBOX_DB": str(workdir / f"{name}-sandbox.sqlite"),
            "STOREFRONT_OUTBOX_DIR": str(workdir / f"{name}-outbox"),
            "STOREFRONT_MAX_LINE_QUANTITY": "10000",
            # every measured purchase comes from this machine's address
            "STOREFRONT_UNPAID_PER_ADDRESS": "100000",
            "STOREFRONT_ORDERS_PER_ADDRESS_PER_HOUR": "100000",
            "PYTHONPATH": str(ROOT),
        }
        storefront(env, "database", "upgrade", "--no-prompt")
        storefront(env, "demo", "load")
        # Enough stock that the add-to-cart run measures adding, not "sold out" answers.
        _sql(env, "UPDATE variant SET stock = 1000000 WHERE sku IN ('HONEY-250', 'HONEY-500', 'MUG-350')")
        if products:
            seed_products(env, products)
        seed_orders(env, orders)
        storefront(env, "staff", "add", OWNER, "--role", "owner", "--password-stdin", stdin=OWNER_PASSWORD)
        envs[name] = env
    return envs


def bench(envs: dict[str, dict[str, str]], workers: int) -> bool:
    backend = _backend(envs["small"]["STOREFRONT_DATABASE_URL"])
    pin = workers == 1
    with (
        Server(envs["small"], "bench.app:create_bench_app", workers) as small,
        Server(envs["large"], "bench.app:create_bench_app", workers) as large,
    ):
        status_path = paid_order_status_path(small.url)
        # The bare app loads its memory on its first request, so after the purchase it renders.
        with (
            Server(envs["small"], "bench.bare:create_bare_app", workers) as bare_small,
            Server(envs["large"], "bench.bare:create_bare_app", workers) as bare_large,
        ):
            servers = {"small": small, "large": large, "bare-small": bare_small, "bare-large": bare_large}
            cookies: dict[tuple[str, str], str] = {}
            for name in ("small", "large"):
                cookies[(name, "visitor")] = visitor_with_two_lines(servers[name].url)[0]
                cookies[(name, "staff")] = signed_in(servers[name].url)
            add_script = ADD_SCRIPT % {
                "token": token_of(cookies[("small", "visitor")]),
                "variants": ", ".join(variant_ids(envs["small"])),
            }
            plan = pages(status_path, add_script)
            table, ratios = measure(servers, cookies, plan, pin)
            first_load = first_load_bytes(small.url)
    title = (
        f"{backend}, {workers} uvicorn worker{'s' if workers > 1 else ''} per server "
        f"({LOOP} loop, httptools with TCP_NODELAY)"
        f"{', server and wrk on one core each' if pin and SERVER_CPU else ''}; wrk -t1 -c{CONNECTIONS} "
        f"-d{DURATION}s, {ROUNDS} interleaved rounds; {os.cpu_count()} cores"
    )
    return report(title, plan, table, ratios, first_load)


def token_of(cookie: str) -> str:
    return _search(r"csrftoken=([^;]+)", cookie)[1]


def main() -> int:
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    only = os.environ.get("BENCH_ONLY", "").lower()
    postgres = os.environ.get("BENCH_DATABASE_URL")
    # (database server or None for SQLite files, worker counts measured on it)
    configurations: list[tuple[str | None, tuple[int, ...]]] = []
    if only != "postgresql":
        configurations.append((None, (1,)))
    if postgres and only != "sqlite":
        configurations.append((postgres, (1, 2)))
    print("Storefront benchmark: bare ceiling / in-shop ceiling / real page (15 and 10,000 products)")
    results = []
    for base, worker_counts in configurations:
        workdir = Path(tempfile.mkdtemp(prefix="storefront-bench-"))
        try:
            envs = prepare(workdir, base)
            results += [bench(envs, workers) for workers in worker_counts]
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(results) else 1


def create_postgres_database(admin_url: str, url: str) -> None:
    from sqlalchemy import make_url

    name = make_url(url).database
    admin = make_url(admin_url).set(drivername="postgresql+asyncpg")

    async def run() -> None:
        import asyncpg

        connection = await asyncpg.connect(
            user=admin.username,
            password=admin.password,
            host=admin.host,
            port=admin.port or 5432,
            database="postgres",  # the maintenance database: the named one need not exist
        )
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
        await connection.close()

    asyncio.run(run())


def _backend(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgres") else "SQLite"


def variant_ids(env: dict[str, str]) -> list[str]:
    rows = _sql(env, "SELECT id FROM variant WHERE sku IN ('HONEY-250', 'HONEY-500')")
    return [str(row[0]) for row in rows]


def _sql(env: dict[str, str], statement: str) -> list[tuple[Any, ...]]:
    from sqlalchemy import text

    from storefront.db import create_async_db_engine

    async def run() -> list[tuple[Any, ...]]:
        engine = create_async_db_engine(env["STOREFRONT_DATABASE_URL"])
        async with engine.begin() as connection:
            result = await connection.execute(text(statement))
            rows = [tuple(row) for row in result] if result.returns_rows else []
        await engine.dispose()
        return rows

    return asyncio.run(run())


if __name__ == "__main__":
    raise SystemExit(main())
