"""`make bench`: the shop served as in production (one uvicorn worker), loaded over loopback by wrk.

Reports requests/s and p50/p99 latency for the product page of a visitor with 2 cart lines, the
htmx add-to-cart, the first listing page and, as the ceiling, the same product template rendered
from memory in the same server. Then seeds 10,000 products and measures the pages again. Targets
(issue #2): product page >= 50 % of the ceiling, add-to-cart >= 25 %, 10,000 products slow the
product page and the first listing page by <= 20 %. Figures vary by machine; ratios are what count.

Environment: BENCH_DURATION (seconds per run, default 8), BENCH_CONNECTIONS (default 32),
BENCH_DATABASE_URL (default a fresh SQLite file; a postgresql:// URL measures PostgreSQL).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DURATION = int(os.environ.get("BENCH_DURATION", "8"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
PRODUCT = "alpine-honey"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.app:create_bench_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the shop did not start")

    def __exit__(self, *_exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)


def storefront(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "storefront", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )


def visitor_with_two_lines(url: str) -> tuple[str, str]:
    """A real visitor: GET a page (CSRF cookie), add two products. Returns (cookie header, csrf token)."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{url}/products/{PRODUCT}").read().decode()
    token = next(c.value for c in jar if c.name == "csrftoken")
    for slug in (PRODUCT, "enamel-mug"):
        html = page if slug == PRODUCT else opener.open(f"{url}/products/{slug}").read().decode()
        variant = re.search(r'name="variant_id" value="(\d+)"', html)[1]
        body = urllib.parse.urlencode({"_csrf_token": token, "variant_id": variant, "quantity": "1"}).encode()
        opener.open(urllib.request.Request(f"{url}/cart/lines", data=body, method="POST"))
    cart = next(c.value for c in jar if c.name == "cart")
    return f"csrftoken={token}; cart={cart}", token


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
  return wrk.format("POST", "/cart/lines", headers, body)
end
variants = {%(variants)s}
"""


def wrk(url: str, *, cookie: str | None = None, script: str | None = None, duration: int = DURATION) -> dict:
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        if script:
            handle.write(script)
            command[1:1] = ["-s", handle.name]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    os.unlink(handle.name)
    failures = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", output)[1]),
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", output)[1]),
        "failures": int(failures[1]) if failures else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def measure(server: Server, cookie: str, token: str, variants: list[str], *, include_add: bool) -> dict:
    runs = {
        "ceiling (same template, in memory)": (f"{server.url}/_bench/ceiling/{PRODUCT}", None),
        "product page, 2 lines in cart": (f"{server.url}/products/{PRODUCT}", None),
        "first listing page, 2 lines in cart": (f"{server.url}/", None),
    }
    if include_add:
        runs["htmx add-to-cart"] = (
            f"{server.url}/cart/lines",
            ADD_SCRIPT % {"token": token, "variants": ", ".join(variants)},
        )
    results = {}
    for name, (url, script) in runs.items():
        wrk(url, cookie=cookie, script=script, duration=2)  # warm-up
        results[name] = wrk(url, cookie=cookie, script=script)
    return results


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


def main() -> int:
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="storefront-bench-"))
    database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'bench.sqlite'}"
    env = {
        **os.environ,
        "STOREFRONT_DATABASE_URL": database_url,
        "STOREFRONT_DEBUG": "0",
        "STOREFRONT_MAX_LINE_QUANTITY": "10000",
        "PYTHONPATH": str(ROOT),
    }
    storefront(env, "database", "upgrade", "--no-prompt")
    storefront(env, "demo", "load")
    # Enough stock that the add-to-cart run measures adding, not "sold out" answers.
    seed_env_stock(env)
    print(
        f"Storefront benchmark: 1 uvicorn worker (uvloop, httptools), wrk -t1 -c{CONNECTIONS} -d{DURATION}s, "
        f"{_backend(database_url)}, {os.cpu_count()} cores\n"
    )
    with Server(env) as server:
        cookie, token = visitor_with_two_lines(server.url)
        variants = variant_ids(env)
        small = measure(server, cookie, token, variants, include_add=True)
    seed_products(env, 10_000)
    with Server(env) as server:
        cookie, token = visitor_with_two_lines(server.url)
        large = measure(server, cookie, token, variants, include_add=False)

    ceiling = small["ceiling (same template, in memory)"]["rps"]
    print(f"{'route':42} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'of ceiling':>11} {'errors':>7}")
    for label, results in (("", small), (" [10,000 products]", large)):
        for name, figures in results.items():
            print(
                f"{name + label:42} {figures['rps']:9.0f} {figures['p50']:8.2f} {figures['p99']:8.2f} "
                f"{figures['rps'] / ceiling:10.0%} {figures['failures']:7d}"
            )
    checks = [
        ("product page >= 50 % of ceiling", small["product page, 2 lines in cart"]["rps"] / ceiling, 0.50),
        ("htmx add-to-cart >= 25 % of ceiling", small["htmx add-to-cart"]["rps"] / ceiling, 0.25),
        (
            "product page with 10,000 products >= 80 % of with 15",
            large["product page, 2 lines in cart"]["rps"] / small["product page, 2 lines in cart"]["rps"],
            0.80,
        ),
        (
            "listing with 10,000 products >= 80 % of with 15",
            large["first listing page, 2 lines in cart"]["rps"] / small["first listing page, 2 lines in cart"]["rps"],
            0.80,
        ),
        ("no failed requests", 1.0 if all(f["failures"] == 0 for r in (small, large) for f in r.values()) else 0, 1),
    ]
    print()
    for name, value, target in checks:
        print(f"{'meets' if value >= target else 'MISSES':6}  {name}: {value:.0%}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(value >= target for _name, value, target in checks) else 1


def _backend(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgres") else "SQLite"


def seed_env_stock(env: dict[str, str]) -> None:
    _sql(env, "UPDATE variant SET stock = 1000000 WHERE sku IN ('HONEY-250', 'HONEY-500', 'MUG-350')")


def variant_ids(env: dict[str, str]) -> list[str]:
    rows = _sql(env, "SELECT id FROM variant WHERE sku IN ('HONEY-250', 'HONEY-500')")
    return [str(row[0]) for row in rows]


def _sql(env: dict[str, str], statement: str) -> list[tuple]:
    from sqlalchemy import text

    from storefront.db import create_async_db_engine

    async def run() -> list[tuple]:
        engine = create_async_db_engine(env["STOREFRONT_DATABASE_URL"])
        async with engine.begin() as connection:
            result = await connection.execute(text(statement))
            rows = [tuple(row) for row in result] if result.returns_rows else []
        await engine.dispose()
        return rows

    return asyncio.run(run())


if __name__ == "__main__":
    raise SystemExit(main())
