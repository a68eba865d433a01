"""Shop commands for `python -m storefront …`, beside Litestar's own (`run`, `database …`)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click import Group
from litestar.plugins import CLIPluginProtocol
from sqlalchemy import func, select

from storefront.settings import ROOT

if TYPE_CHECKING:
    from litestar import Litestar

    from storefront.db import Database

DEMO_CATALOG = ROOT / "storefront" / "catalog" / "demo.csv"


async def import_catalog(app: Litestar, data: bytes, *, dry_run: bool = False) -> list[str]:
    from storefront.catalog.importer import apply_catalog, parse_catalog_csv

    shop = app.state.shop
    products = parse_catalog_csv(
        data, media_dir=Path(shop.settings.media_dir), default_language=shop.settings.default_language
    )
    async with shop.database.writing_session(app.state.shop_alchemy) as session:
        return await apply_catalog(session, products, commit=not dry_run)


async def catalog_is_empty(app: Litestar) -> bool:
    from storefront.catalog.models import Product

    async with app.state.shop_alchemy.get_session() as session:
        count = await session.scalar(select(func.count()).select_from(Product))
        return bool(count == 0)


class StorefrontCLIPlugin(CLIPluginProtocol):
    def on_cli_init(self, cli: Group) -> None:
        @cli.group(help="The product catalogue.")
        def catalog() -> None:
            pass

        @catalog.command(name="import", help="Create and update products from a CSV file (all rows or none).")
        @click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
        @click.option("--dry-run", is_flag=True, help="Check the file and report, but change nothing.")
        def import_command(app: Litestar, csv_file: Path, dry_run: bool) -> None:
            from storefront.catalog.importer import CatalogImportError

            try:
                report = asyncio.run(import_catalog(app, csv_file.read_bytes(), dry_run=dry_run))
            except CatalogImportError as error:
                click.echo(f"{csv_file}: rejected, nothing was imported:", err=True)
                for problem in error.problems:
                    click.echo(f"  {problem}", err=True)
                raise SystemExit(1) from None
            for line in report:
                click.echo(line)
            click.echo("dry run: nothing was changed" if dry_run else f"{csv_file}: imported")

        @cli.group(help="Payments.")
        def payments() -> None:
            pass

        @payments.command(name="reconcile", help="Settle orders still unpaid after the TWINT window with Stripe.")
        @click.option(
            "--older-than-minutes",
            default=None,
            type=click.IntRange(0, 7 * 24 * 60),
            help="Default: STOREFRONT_TWINT_WINDOW_MINUTES (15).",
        )
        @click.option("--order", "order_number", default=None, help="Settle only this unpaid order, whatever its age.")
        def reconcile_command(app: Litestar, older_than_minutes: int | None, order_number: str | None) -> None:
            import datetime as dt

            from storefront.orders.reconciler import reconcile

            shop = app.state.shop
            if older_than_minutes is None:
                older_than_minutes = shop.settings.twint_window_minutes
            window = dt.timedelta(minutes=older_than_minutes)
            report = asyncio.run(reconcile(shop.database, shop.payments, window, order_number=order_number))
            for number, outcome in report.outcomes.items():
                click.echo(f"order {number}: {outcome}")
            if order_number is not None and not report.checked:
                raise click.ClickException(f"order {order_number} is not an unpaid order of this shop")
            if order_number is None:
                click.echo(f"{report.checked} unpaid order(s) older than {older_than_minutes} min checked")

        @cli.group(help="Back-office accounts (owner: everything; staff: orders, shipping and stock).")
        def staff() -> None:
            pass

        def read_password(password_stdin: bool) -> str:
            if password_stdin:
                return sys.stdin.readline().rstrip("\r\n")
            return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))

        def run_account_command(app: Litestar, work: Callable[[Database], Awaitable[str]]) -> None:
            from storefront.admin.accounts import AccountError

            database = app.state.shop.database

            async def run() -> str:
                try:
                    return await work(database)
                finally:
                    await database.dispose()

            try:
                click.echo(asyncio.run(run()))
            except AccountError as error:
                raise click.ClickException(str(error)) from None

        @staff.command(name="add", help="Create an account; the password is asked for (or read from stdin).")
        @click.argument("email")
        @click.option("--role", type=click.Choice(["owner", "staff"]), required=True)
        @click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
        def staff_add(app: Litestar, email: str, role: str, password_stdin: bool) -> None:
            from storefront.admin.accounts import add_account
            from storefront.admin.models import Role

            password = read_password(password_stdin)

            async def work(database: Database) -> str:
                member = await add_account(database, email, Role(role), password)
                return f"{member.email}: {member.role.value} account created; sign in at /admin"

            run_account_command(app, work)

        @staff.command(name="list", help="Every account with its role and open sessions.")
        def staff_list(app: Litestar) -> None:
            from storefront.admin.accounts import list_accounts

            async def work(database: Database) -> str:
                rows = await list_accounts(database)
                if not rows:
                    return "no accounts yet: python -m storefront staff add EMAIL --role owner"
                return "\n".join(
                    f"{email}  {role.value:<5}  added {added:%Y-%m-%d}  {sessions} open session(s)"
                    for email, role, added, sessions in rows
                )

            run_account_command(app, work)

        @staff.command(name="remove", help="Remove an account and end its sessions (never the last owner).")
        @click.argument("email")
        def staff_remove(app: Litestar, email: str) -> None:
            from storefront.admin.accounts import remove_account

            async def work(database: Database) -> str:
                await remove_account(database, email)
                return f"{email}: removed"

            run_account_command(app, work)

        @staff.command(name="password", help="Set a new password; every session of the account ends.")
        @click.argument("email")
        @click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
        def staff_password(app: Litestar, email: str, password_stdin: bool) -> None:
            from storefront.admin.accounts import set_password

            password = read_password(password_stdin)

            async def work(database: Database) -> str:
                ended = await set_password(database, email, password)
                return f"{email}: password changed, {ended} session(s) ended"

            run_account_command(app, work)

        @cli.group(help="The demo shop.")
        def demo() -> None:
            pass

        @demo.command(name="load", help="Load the demo catalogue into an empty shop (never overwrites).")
        def load_demo(app: Litestar) -> None:
            async def load() -> list[str] | None:
                # One event loop for the whole command: asyncpg's pooled connections belong to the
                # loop that opened them, so a second asyncio.run could not use them.
                try:
                    if not await catalog_is_empty(app):
                        return None
                    return await import_catalog(app, DEMO_CATALOG.read_bytes())
                finally:
                    await app.state.shop_alchemy.get_engine().dispose()

            report = asyncio.run(load())
            if report is None:
                click.echo("demo catalogue: the shop already has products; left as they are")
                return
            click.echo(f"demo catalogue: loaded ({sum('created product' in line for line in report)} products)")
