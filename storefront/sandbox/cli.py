"""The sandbox's command line: `python -m storefront.sandbox serve` (or `python -m storefront
sandbox serve`) runs it on its own port, for a shop elsewhere."""

from __future__ import annotations

from pathlib import Path

import click

from storefront.sandbox.app import create_sandbox_app
from storefront.sandbox.webhooks import endpoint

DEFAULT_DB = Path.cwd() / "var" / "sandbox-standalone.sqlite"


@click.group(help="The offline Stripe sandbox.")
def sandbox() -> None:
    pass


@sandbox.command(name="serve", help="Serve the sandbox on its own port.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=12111, show_default=True, type=int)
@click.option(
    "--db",
    "store_path",
    default=str(DEFAULT_DB),
    show_default=True,
    help="Where the sandbox keeps its state (':memory:' for none).",
)
@click.option("--webhook-url", default=None, help="Where to send webhooks, e.g. http://127.0.0.1:8000/webhooks/stripe")
@click.option("--webhook-secret", default=None, help="The endpoint's whsec_… secret (default: one is made).")
@click.option("--merchant", default="Storefront", show_default=True, help="The name the TWINT page shows.")
def serve(
    host: str, port: int, store_path: str, webhook_url: str | None, webhook_secret: str | None, merchant: str
) -> None:
    import uvicorn

    if store_path != ":memory:":
        Path(store_path).parent.mkdir(parents=True, exist_ok=True)
    app = create_sandbox_app(store_path, merchant=merchant, webhook_url=webhook_url, webhook_secret=webhook_secret)
    configured = endpoint(app.state.sandbox_store)
    click.echo(
        f"Stripe sandbox: API http://{host}:{port} (sk_test_… / pk_test_… keys), "
        f"Stripe.js http://{host}:{port}/js/stripe.js, control http://{host}:{port}/control"
    )
    if configured:
        click.echo(f"webhooks to {configured['url']}, signed with {configured['secret']}")
        click.echo(
            f"for the shop: STRIPE_API_BASE=http://{host}:{port} STRIPE_JS_URL=http://{host}:{port}/js/stripe.js "
            f"STRIPE_SECRET_KEY=sk_test_… STRIPE_PUBLISHABLE_KEY=pk_test_… STRIPE_WEBHOOK_SECRET={configured['secret']}"
        )
    uvicorn.run(app, host=host, port=port, log_level="warning")
