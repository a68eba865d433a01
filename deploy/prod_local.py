"""`make prod-local`: the production layout on one machine, to test it rather than only describe
it. PostgreSQL (a fresh database on the server `PROD_LOCAL_POSTGRES` names), two workers started as
in production (`storefront.serving`) behind Caddy (Debian's package) that terminates HTTPS with its
own certificate authority, the demo catalogue and two back-office accounts. Then, with
`--journeys`, QA's Playwright journeys run against it over HTTPS; otherwise it serves until Ctrl+C.

One difference from production, said out loud: there are no live Stripe keys offline, so the
workers run the development server with its Stripe sandbox (`STOREFRONT_ENV=development`), with
Secure cookies on as in production."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DATABASE = "storefront_prod_local"
OWNER = ("owner@example.ch", "Velo-Kaffee-Zug-42")
STAFF = ("staff@example.ch", "Velo-Kaffee-Zug-43")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fresh_database(server: str) -> str:
    admin = make_url(server).set(drivername="postgresql+asyncpg")

    async def run() -> None:
        engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
                await connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
        finally:
            await engine.dispose()

    asyncio.run(run())
    return make_url(server).set(database=DATABASE).render_as_string(hide_password=False)


def caddy() -> str:
    found = shutil.which("caddy")
    if found:
        return found
    if os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "caddy"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        return shutil.which("caddy") or "caddy"
    raise SystemExit("Caddy is missing: sudo apt-get install caddy")


def wait_for(
    url: str, context: ssl.SSLContext | None, processes: list[subprocess.Popen[bytes]], timeout_s: float = 90
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise SystemExit(f"{process.args!r} stopped with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310 (our own address)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout_s} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--journeys", action="store_true", help="run the Playwright journeys through it, then stop")
    parser.add_argument("--pytest-args", default="", help="more arguments for the journeys' pytest")
    options = parser.parse_args()
    server = os.environ.get("PROD_LOCAL_POSTGRES") or os.environ.get("STOREFRONT_TEST_POSTGRES_URL")
    if not server:
        raise SystemExit("name a PostgreSQL server: PROD_LOCAL_POSTGRES=postgresql://user@127.0.0.1:5432/postgres")
    caddy_binary = caddy()
    work = Path(tempfile.mkdtemp(prefix="storefront-prod-local-"))
    https_port, app_port = free_port(), free_port()
    base_url = f"https://localhost:{https_port}"
    env = {
        **os.environ,
        "STOREFRONT_ENV": "development",
        "STOREFRONT_SECURE_COOKIES": "1",
        "STOREFRONT_COMPRESS": "0",  # Caddy compresses
        "STOREFRONT_DATABASE_URL": fresh_database(server),
        "STOREFRONT_BASE_URL": base_url,
        "STOREFRONT_SECRET_KEY": "prod-local-" + "k" * 40,
        "STOREFRONT_SANDBOX_DB": str(work / "sandbox.sqlite"),
        "STOREFRONT_OUTBOX_DIR": str(work / "outbox"),
        "STOREFRONT_MEDIA_DIR": str(work / "media"),
        # every journey's customer comes from this machine
        "STOREFRONT_UNPAID_PER_ADDRESS": "1000",
        "STOREFRONT_ORDERS_PER_ADDRESS_PER_HOUR": "1000",
        "STOREFRONT_SANDBOX_INTERNAL_URL": f"http://127.0.0.1:{app_port}",
        "XDG_DATA_HOME": str(work / "caddy-data"),
        "XDG_CONFIG_HOME": str(work / "caddy-config"),
    }
    shop = [PYTHON, "-m", "storefront"]
    subprocess.run([*shop, "database", "upgrade", "--no-prompt"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*shop, "demo", "load"], cwd=ROOT, env=env, check=True)
    for email, password in (OWNER, STAFF):
        role = "owner" if email == OWNER[0] else "staff"
        subprocess.run(
            [*shop, "staff", "add", email, "--role", role, "--password-stdin"],
            cwd=ROOT, env=env, input=password.encode(), check=True, capture_output=True,
        )  # fmt: skip
    caddyfile = work / "Caddyfile"
    caddyfile.write_text(
        "{\n\tadmin off\n\tlocal_certs\n\tskip_install_trust\n\thttp_port " + str(free_port()) + "\n}\n"
        f"localhost:{https_port} {{\n\ttls internal\n\tencode zstd gzip\n\treverse_proxy 127.0.0.1:{app_port}\n}}\n"
    )
    processes = [
        subprocess.Popen(
            [PYTHON, "-m", "storefront.serving", "storefront.devserver:create_app", "--host", "127.0.0.1",
             "--port", str(app_port), "--workers", "2", "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"],
            cwd=ROOT, env=env, start_new_session=True,
        ),
        subprocess.Popen(
            [caddy_binary, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ),
    ]  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{app_port}/healthz", None, processes)
        root_ca = work / "caddy-data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        deadline = time.monotonic() + 30
        while not root_ca.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        wait_for(f"{base_url}/healthz", ssl.create_default_context(cafile=str(root_ca)), processes)
        print(f"Storefront behind Caddy: {base_url}/  (certificate authority: {root_ca})", flush=True)
        print(f"Back office: {OWNER[0]} / {OWNER[1]}", flush=True)
        if not options.journeys:
            try:
                while all(process.poll() is None for process in processes):
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
            return 0
        journeys = subprocess.run(
            [PYTHON, "-m", "pytest", "e2e", "--base-url", base_url, *options.pytest_args.split()],
            cwd=ROOT,
            env={
                **env,
                "STOREFRONT_E2E_CA_FILE": str(root_ca),
                "STOREFRONT_E2E_OWNER_EMAIL": OWNER[0],
                "STOREFRONT_E2E_OWNER_PASSWORD": OWNER[1],
                "STOREFRONT_E2E_STAFF_EMAIL": STAFF[0],
                "STOREFRONT_E2E_STAFF_PASSWORD": STAFF[1],
            },
        )
        return journeys.returncode
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
