"""`create_app(settings)`: the one place that wires the shop together."""

from __future__ import annotations

from pathlib import Path

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from jinja2 import Environment
from litestar import Litestar, Request, Response, get, post
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import Cookie, ResponseHeader, State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.logging import LoggingConfig
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.template.config import TemplateConfig
from sqlalchemy import text

from storefront.assets import AssetManifest, serve_asset
from storefront.cart.routes import add_line, cart_page, delete_line, update_line
from storefront.catalog.routes import catalog_page, product_page
from storefront.catalog.service import Catalog
from storefront.checkout.routes import checkout_page, place
from storefront.cli import StorefrontCLIPlugin
from storefront.db import Database, create_async_db_engine, make_alchemy_config
from storefront.errors import html_exception_handler
from storefront.i18n import (
    LANGUAGE_COOKIE,
    choose_language,
    current_language,
    gettext,
    ngettext,
    set_language,
)
from storefront.legal import legal_page
from storefront.logs import install_redaction
from storefront.money import format_chf, format_rate
from storefront.orders.emails import OutboxSender
from storefront.orders.routes import checkout_return, order_page, order_status, pay_page, retry_payment
from storefront.payments.gateway import Gateway
from storefront.payments.reconciler import reconciler
from storefront.payments.routes import stripe_webhook
from storefront.sandbox.app import MOUNT_PATH, sandbox_router
from storefront.sandbox.store import SandboxStore
from storefront.sandbox.webhooks import WebhookSender, configure_endpoint
from storefront.settings import LANGUAGES, ROOT, Settings
from storefront.web import Shop, provide_shop

TEMPLATES_DIR = ROOT / "templates"
MAX_BODY_BYTES = 64 * 1024  # forms here are small; anything larger is refused with 413
_SELECT_ONE = text("SELECT 1")


def content_security_policy() -> str:
    """Our origin only, plus Stripe.js for the TWINT hand-off (reference/stripe-twint.md §5.4)."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' https://js.stripe.com",
            "frame-src https://js.stripe.com",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _security_headers(settings: Settings) -> list[ResponseHeader]:
    headers = [
        ResponseHeader(name="Content-Security-Policy", value=content_security_policy()),
        ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
        ResponseHeader(name="Referrer-Policy", value="same-origin"),
        ResponseHeader(name="Cross-Origin-Opener-Policy", value="same-origin"),
        ResponseHeader(name="X-Frame-Options", value="DENY"),
    ]
    if settings.production:
        headers.append(ResponseHeader(name="Strict-Transport-Security", value="max-age=31536000; includeSubDomains"))
    return headers


def _configure_templates(assets: AssetManifest):
    def callback(engine: JinjaTemplateEngine) -> None:
        env: Environment = engine.engine
        env.add_extension("jinja2.ext.i18n")
        env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
        env.trim_blocks = True
        env.lstrip_blocks = True
        env.filters["chf"] = lambda rappen: format_chf(rappen, current_language())
        env.filters["rate"] = format_rate
        env.globals["asset_url"] = assets.url

    return callback


async def _choose_language(request: Request) -> None:
    set_language(choose_language(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")))


@post("/language", name="language", status_code=303)
async def change_language(request: Request, shop: NamedDependency[Shop]) -> Redirect:
    form = await request.form()
    language = form.get("language")
    if language not in LANGUAGES:
        raise ValidationException(detail="unknown language")
    target = str(form.get("next") or "/")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = "/"  # only back into this shop, never to another site
    return Redirect(
        target,
        status_code=303,
        cookies=[
            Cookie(
                key=LANGUAGE_COOKIE,
                value=language,
                max_age=365 * 24 * 3600,
                path="/",
                httponly=True,
                secure=shop.settings.secure_cookies,
                samesite="lax",
            )
        ],
    )


@get("/healthz", name="healthz", include_in_schema=False)
async def healthz(shop: NamedDependency[Shop]) -> Response[dict[str, str]]:
    try:
        async with shop.database.read() as connection:
            await connection.scalar(_SELECT_ONE)
    except Exception:
        return Response(
            {"status": "unavailable", "database": "unreachable"}, status_code=503, headers={"Cache-Control": "no-store"}
        )
    return Response({"status": "ok", "database": "ok"}, headers={"Cache-Control": "no-store"})


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    install_redaction()
    engine = create_async_db_engine(settings.database_url)
    database = Database(settings.database_url, async_engine=engine)
    assets = AssetManifest()
    alchemy = make_alchemy_config(engine)

    async def close_database() -> None:
        await database.dispose()

    extra_handlers = []
    on_startup = []
    on_shutdown = [close_database]
    sandbox_store = None
    if settings.uses_sandbox:
        # No Stripe keys: the shop talks to its own offline Stripe (storefront/sandbox), whose
        # webhooks come to the shop's endpoint (QA may point them elsewhere until the next start).
        sandbox_store = SandboxStore(settings.sandbox_db)
        configure_endpoint(sandbox_store, f"{settings.base_url}/webhooks/stripe")  # keeps its whsec_ secret
        sender = WebhookSender(sandbox_store)
        extra_handlers.append(sandbox_router(sandbox_store, MOUNT_PATH, merchant=settings.shop_name))
        on_startup.append(sender.start)
        on_shutdown[:0] = [sender.stop, sandbox_store.close]
    shop = Shop(
        settings=settings,
        database=database,
        catalog=Catalog(database),
        assets=assets,
        gateway=Gateway(settings),
        sandbox=sandbox_store,
    )
    outbox = OutboxSender(
        database, f"{settings.shop_name} <{settings.company_email}>", Path(settings.outbox_dir), settings.smtp_url
    ).periodic()
    reconciling = reconciler(shop)
    on_startup += [reconciling.start, outbox.start]
    on_shutdown[:0] = [reconciling.stop, outbox.stop]

    return Litestar(
        route_handlers=[
            *extra_handlers,
            catalog_page,
            product_page,
            cart_page,
            add_line,
            update_line,
            delete_line,
            change_language,
            stripe_webhook,
            legal_page,
            checkout_page,
            place,
            pay_page,
            retry_payment,
            checkout_return,
            order_page,
            order_status,
            healthz,
            serve_asset,
        ],
        plugins=[HTMXPlugin(), SQLAlchemyPlugin(config=alchemy), StorefrontCLIPlugin()],
        dependencies={"shop": Provide(provide_shop, sync_to_thread=False)},
        state=State({"shop": shop, "shop_alchemy": alchemy}),
        template_config=TemplateConfig(
            directory=Path(TEMPLATES_DIR), engine=JinjaTemplateEngine, engine_callback=_configure_templates(assets)
        ),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_secure=settings.secure_cookies,
            cookie_httponly=True,
            cookie_samesite="lax",
            exclude=["/healthz", "/assets/"],
        ),
        compression_config=CompressionConfig(backend="gzip", minimum_size=1024, exclude="^/assets/"),
        exception_handlers={HTTPException: html_exception_handler, Exception: html_exception_handler},
        before_request=_choose_language,
        response_headers=_security_headers(settings),
        request_max_body_size=MAX_BODY_BYTES,
        logging_config=LoggingConfig(
            log_exceptions="never", loggers={"storefront": {"level": "INFO", "propagate": True}}
        ),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        debug=settings.debug,
    )
