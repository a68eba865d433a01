"""The back office under `/admin`: sign-in, the orders list and an order's page with its actions
(ship, pick-up, cancel, refund). Pages are server-rendered and every action is a form that posts
and redirects; htmx only spares page loads in the orders list."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import anyio
from litestar import Request, Response, Router, get, post
from litestar.datastructures import FormMultiDict, UploadFile
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from storefront.admin import accounts
from storefront.admin.accounts import AccountError, SignedIn, StaffMember, Throttled
from storefront.admin.auth import (
    ADMIN_PATH,
    SESSION_COOKIE,
    expired_cookie,
    owner_only,
    provide_staff,
    safe_next,
    session_cookie,
    signed_in,
    to_sign_in,
)
from storefront.catalog.backoffice import StockError, change_offer, change_stock, list_variants, recent_movements
from storefront.catalog.editor import (
    PictureFields,
    ProductFields,
    blank_form,
    check,
    fields_of,
    read_form,
    save_product,
)
from storefront.catalog.importer import CatalogImportError, apply_catalog, export_catalog, parse_catalog_csv
from storefront.catalog.models import Product
from storefront.catalog.pictures import MAX_BYTES as MAX_PICTURE_BYTES
from storefront.catalog.pictures import PictureError, store_picture
from storefront.i18n import LANGUAGE_NAMES, N_
from storefront.i18n import gettext as _
from storefront.money import VatClass, format_rate, parse_chf, swiss_today, vat_rate
from storefront.orders.accounting import Period, PeriodError, orders_csv, vat_summary, vat_summary_csv
from storefront.orders.backoffice import OrderDetail, Tab, list_orders, order_detail
from storefront.orders.emails import send_again
from storefront.orders.fulfilment import FulfilmentError, fulfil, tracking_number
from storefront.orders.lifecycle import CancelRefused, cancel_order
from storefront.orders.models import Fulfilment
from storefront.orders.refunds import RefundError, request_refund
from storefront.rendering import NO_STORE, render
from storefront.settings import LANGUAGES
from storefront.shop import Shop
from storefront.tables import RowId
from storefront.tokens import new_token

logger = logging.getLogger("storefront.admin")
HEADERS = {**NO_STORE, "X-Robots-Tag": "noindex"}
# What a finished action says on the page it leads back to (only these; never text from the address).
DONE = {
    "shipped": N_("Marked as shipped. The customer gets an e-mail with the tracking link."),
    "ready": N_("Marked as ready for pick-up. The customer gets an e-mail."),
    "picked-up": N_("Marked as picked up."),
    "cancelled": N_("The order is cancelled and its stock is back."),
    "refund": N_("The refund was sent to Stripe. It shows as pending until Stripe has paid it out."),
    "refund-retry": N_("Stripe could not be reached. The refund is kept and will be sent again within minutes."),
    "refund-failed": N_("Stripe refused the refund. See the payment below."),
    "password": N_("Your password is changed. Every other session of your account has ended."),
    "stock": N_("The stock is changed; the shop shows it at once."),
    "offer": N_("The price and sale are changed; the shop shows them at once."),
    "product": N_("The product is saved; the shop shows it at once."),
    "email-again": N_("The e-mail is queued again and goes out within a minute."),
}


def _page(shop: Shop, request: Request[Any, Any, Any], template: str, **context: Any) -> Template:
    context.setdefault("headers", HEADERS)
    context.setdefault("staff", getattr(request.state, "staff", None))
    return render(shop.settings, request, template, cart=None, **context)


def _address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


# --- signing in ------------------------------------------------------------------------------------


@get("/sign-in", name="admin_sign_in", opt={"anonymous": True})
async def sign_in_page(
    request: Request[Any, Any, Any],
    shop: NamedDependency[Shop],
    next_page: Annotated[str | None, QueryParameter(name="next")] = None,
) -> Template:
    return _page(shop, request, "admin/sign_in.html", next_page=safe_next(next_page), email="")


@post("/sign-in", name="admin_sign_in_post", status_code=303, opt={"anonymous": True})
async def sign_in(request: Request[Any, Any, Any], shop: NamedDependency[Shop]) -> Template | Redirect:
    form = await request.form()
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    next_page = safe_next(str(form.get("next") or ""))
    outcome = await accounts.sign_in(shop.database, email, password, _address(request))
    if isinstance(outcome, SignedIn):
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            await accounts.end_session(shop.database, old)
        return Redirect(next_page, status_code=303, cookies=[session_cookie(shop.settings, outcome.token)])
    if isinstance(outcome, Throttled):
        minutes = max(1, round(outcome.retry_after.total_seconds() / 60))
        error = _("Too many failed sign-ins. Please wait %(minutes)s min and try again.") % {"minutes": minutes}
        status, extra = 429, {"Retry-After": str(int(outcome.retry_after.total_seconds()) + 1)}
    else:
        error, status, extra = _("The e-mail address or the password is wrong."), 400, {}
    return _page(
        shop,
        request,
        "admin/sign_in.html",
        status_code=status,
        headers={**HEADERS, **extra},
        next_page=next_page,
        email=email,
        error=error,
    )


@post("/sign-out", name="admin_sign_out", status_code=303)
async def sign_out(request: Request[Any, Any, Any], shop: NamedDependency[Shop]) -> Redirect:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await accounts.end_session(shop.database, token)
    return Redirect("/admin/sign-in", status_code=303, cookies=[expired_cookie(shop.settings)])


@get("/", name="admin_home")
async def admin_home() -> Redirect:
    return Redirect("/admin/orders", status_code=303)


@get("/account", name="admin_account")
async def account_page(
    request: Request[Any, Any, Any], shop: NamedDependency[Shop], done: FromQuery[str | None] = None
) -> Template:
    return _page(shop, request, "admin/account.html", done=_(DONE[done]) if done in DONE else None)


@post("/account/password", name="admin_password", status_code=303)
async def change_password(
    request: Request[Any, Any, Any], shop: NamedDependency[Shop], staff: NamedDependency[StaffMember]
) -> Template | Redirect:
    form = await request.form()
    current, new, repeated = (str(form.get(name) or "") for name in ("current", "new", "repeat"))
    error = None
    if not await accounts.verify_password(shop.database, staff, current):
        error = _("Your current password is wrong.")
    elif new != repeated:
        error = _("The two new passwords differ.")
    else:
        try:
            await accounts.set_password(shop.database, staff.email, new, keep_session=staff.session_hash)
        except AccountError as problem:
            error = problem.translated()
    if error:
        return _page(shop, request, "admin/account.html", status_code=400, error=error)
    return Redirect("/admin/account?done=password", status_code=303)


# --- orders ----------------------------------------------------------------------------------------


@get("/orders", name="admin_orders")
async def orders_page(
    request: Request[Any, Any, Any],
    shop: NamedDependency[Shop],
    tab: FromQuery[str] = Tab.TO_SHIP.value,
    q: FromQuery[str] = "",
    page: FromQuery[int] = 1,
) -> Template:
    chosen = Tab(tab) if tab in Tab._value2member_map_ else Tab.TO_SHIP
    listing = await list_orders(shop.database, chosen, q[:100], max(1, min(page, 10_000)))
    return _page(shop, request, "admin/orders.html", listing=listing, tabs=TABS)


TABS = (
    (Tab.TO_SHIP, N_("To ship")),
    (Tab.WAITING, N_("Waiting for payment")),
    (Tab.ATTENTION, N_("Needs attention")),
    (Tab.SHIPPED, N_("Shipped")),
    (Tab.CANCELLED, N_("Cancelled")),
    (Tab.ALL, N_("All")),
)


async def _order(shop: Shop, number: str) -> OrderDetail:
    order = await order_detail(shop.database, number, shop.settings.notify_address)
    if order is None:
        raise NotFoundException()
    return order


def _order_page(
    shop: Shop, request: Request[Any, Any, Any], order: OrderDetail, *, status_code: int = 200, **context: Any
) -> Template:
    return _page(
        shop,
        request,
        "admin/order.html",
        status_code=status_code,
        order=order,
        refund_key=new_token(),
        pickup_address=f"{shop.settings.company}, {shop.settings.company_address}",
        **context,
    )


@get("/orders/{number:str}", name="admin_order")
async def order_page(
    request: Request[Any, Any, Any],
    shop: NamedDependency[Shop],
    number: FromPath[str],
    done: FromQuery[str | None] = None,
) -> Template:
    order = await _order(shop, number)
    return _order_page(shop, request, order, done=_(DONE[done]) if done in DONE else None)


def _back(number: str, done: str) -> Redirect:
    return Redirect(f"/admin/orders/{number}?done={done}", status_code=303)


async def _refused(shop: Shop, request: Request[Any, Any, Any], number: str, message: str, **context: Any) -> Template:
    """The order page again with what went wrong (already translated) and what was typed."""
    return _order_page(shop, request, await _order(shop, number), status_code=409, error=message, **context)


async def _take_step(
    shop: Shop, request: Request[Any, Any, Any], staff: StaffMember, number: str, step: Fulfilment, done: str
) -> Template | Redirect:
    """Ship, make ready for pick-up, or mark as picked up; refused steps show the order again with
    the reason and what was typed."""
    order = await _order(shop, number)
    typed = str((await request.form()).get("tracking") or "") if step == Fulfilment.SHIPPED else ""
    try:
        await fulfil(
            shop.database,
            order.id,
            step,
            staff.email,
            tracking=tracking_number(typed),
            pickup_address=f"{shop.settings.company}, {shop.settings.company_address}",
        )
    except FulfilmentError as error:
        return await _refused(shop, request, number, error.translated(), tracking=typed)
    return _back(number, done)


@post("/orders/{number:str}/ship", name="admin_ship", status_code=303)
async def ship(
    request: Request[Any, Any, Any],
    shop: NamedDependency[Shop],
    staff: NamedDependency[StaffMember],
    number: FromPath[str],
) -> Template | Redirect:
    return await _take_step(shop, request, staff, number, Fulfilment.SHIPPED, "shipped")


@post("/orders/{number:str}/ready-for-pickup", name="admin_ready", status_code=303)
async def ready_for_pickup(
    request: Request[Any, Any, Any],
    shop: NamedDependency[Shop],
    staff: NamedDependency[StaffMember],
    number: FromPath[str],
) -> Template | Redirect:
    return await _take_step(shop, request, staff, number, Fulfilment.READY_FOR_PICKUP, "ready")


@post("/orders/{number:str}/picked-up", name="admin_picked_up", status_code=303)
async def picked_up(
    request: Request[Any, Any, Any],
    shop: NamedDependency[Shop],
    staff: NamedDependency[StaffMember],
    number: FromPath[str],
) -> Template | Redirect:
    return await _take_step(shop, request, staff, number, Fulfilment.PICKED_UP, "picked-up")


@post("/orders/{number:str}/cancel", name="admin_cancel", status_code=303)
async def cancel(
    request: Request[Any, Any, Any],
    shop: NamedDependency[Shop],
    staff: NamedDependency[StaffMember],
    number: FromPath[str],
) -> Template | Redirect:
    order = await _order(shop, number)
    try:
        await cancel_order(shop.database, shop.payments, order.id, staff.email)
    except CancelRefused as error:
        return await _refused(shop, request, number, error.translated())
    return _back(number, "cancelled")


@post("/orders/{number:str}/emails/{email_id:int}/send-again", name="admin_send_again", status_code=303)
async def send_email_again(
    request: Request[Any, Any, Any],
    shop: NamedDependency[Shop],
    staff: NamedDependency[StaffMember],
    number: FromPath[str],
    email_id: RowId,
) -> Template | Redirect:
    order = await _order(shop, number)
    if not await send_again(shop.database, order.id, email_id, staff.email):
        return await _refused(shop, request, number, _("This e-mail is not waiting to be sent again."))
    return _back(number, "email-again")


def _quantities(form: FormMultiDict, order: OrderDetail) -> dict[int, int]:
    chosen = {}
    for line in order.lines:
        raw = str(form.get(f"line-{line.id}") or "0").strip() or "0"
        if not raw.isdigit() or len(raw) > 6:
            raise RefundError("Enter whole numbers of units to refund.")
        chosen[line.id] = int(raw)
    return chosen


@post("/orders/{number:str}/refunds", name="admin_refund", status_code=303, guards=[owner_only])
async def refund(
    request: Request[Any, Any, Any],
    shop: NamedDependency[Shop],
    staff: NamedDependency[StaffMember],
    number: FromPath[str],
) -> Template | Redirect:
    order = await _order(shop, number)
    form = await request.form()
    what = str(form.get("what") or "items")
    try:
        lines, amount, delivery = None, None, False
        if what == "items":
            lines, delivery = _quantities(form, order), form.get("delivery") == "yes"
        elif what == "amount":
            try:
                amount = parse_chf(str(form.get("amount") or ""))
            except ValueError:
                raise RefundError("Enter the amount in CHF, such as 12.50.") from None
        elif what != "all":
            raise RefundError("Choose what to refund: items, an amount or everything left.")
        outcome = await request_refund(
            shop.database,
            shop.payments,
            order.id,
            key=str(form.get("key") or "")[:64] or new_token(),
            actor=staff.email,
            reason=str(form.get("reason") or "")[:150],
            lines=lines,
            delivery=delivery,
            amount=amount,
            restock=form.get("restock") == "yes",
        )
    except RefundError as error:
        return await _refused(shop, request, number, error.translated(), refund_form=dict(form))
    return _back(number, _refund_done(outcome.status.value))


def _refund_done(status: str) -> str:
    return {"failed": "refund-failed", "requested": "refund-retry"}.get(status, "refund")


@post(
    "/orders/{number:str}/payments/{payment_id:int}/refund",
    name="admin_refund_payment",
    status_code=303,
    guards=[owner_only],
)
async def refund_payment(
    request: Request[Any, Any, Any],
    shop: NamedDependency[Shop],
    staff: NamedDependency[StaffMember],
    number: FromPath[str],
    payment_id: RowId,
) -> Template | Redirect:
    """Money that came in but must go back (paid twice, or paid after the order was cancelled and
    its stock was gone): all of it, in one click."""
    order = await _order(shop, number)
    if payment_id not in {payment.id for payment in order.due_back}:
        return await _refused(shop, request, number, _("This payment is not due back."))
    form = await request.form()
    try:
        outcome = await request_refund(
            shop.database,
            shop.payments,
            order.id,
            key=str(form.get("key") or "")[:64] or new_token(),
            actor=staff.email,
            reason="paid twice or too late; the order does not keep this payment",
            payment_id=payment_id,
        )
    except RefundError as error:
        return await _refused(shop, request, number, error.translated())
    return _back(number, _refund_done(outcome.status.value))


# --- products and stock ---------------------------------------------------------------------------


async def _products_page(
    shop: Shop,
    request: Request[Any, Any, Any],
    *,
    status_code: int = 200,
    failed: int | None = None,
    error: str | None = None,
    done: str | None = None,
) -> Template:
    return _page(
        shop,
        request,
        "admin/products.html",
        status_code=status_code,
        variants=await list_variants(shop.database),
        movements=await recent_movements(shop.database),
        failed=failed,
        error=error,
        done=_(DONE[done]) if done in DONE else None,
    )


@get("/products", name="admin_products")
async def products_page(
    request: Request[Any, Any, Any], shop: NamedDependency[Shop], done: FromQuery[str | None] = None
) -> Template:
    return await _products_page(shop, request, done=done)


@post("/products/{variant_id:int}/stock", name="admin_stock", status_code=303)
async def stock_change(
    request: Request[Any, Any, Any],
    shop: NamedDependency[Shop],
    staff: NamedDependency[StaffMember],
    variant_id: RowId,
) -> Template | Redirect:
    form = await request.form()
    try:
        await change_stock(
            shop.database, variant_id, str(form.get("change") or ""), str(form.get("reason") or ""), staff.email
        )
    except StockError as error:
        return await _products_page(shop, request, status_code=409, failed=variant_id, error=error.translated())
    return Redirect(f"/admin/products?done=stock#variant-{variant_id}", status_code=303)


@post("/products/{variant_id:int}/offer", name="admin_offer", status_code=303, guards=[owner_only])
async def offer_change(
    request: Request[Any, Any, Any], shop: NamedDependency[Shop], variant_id: RowId
) -> Template | Redirect:
    form = await request.form()
    try:
        try:
            price = parse_chf(str(form.get("price") or ""))
        except ValueError:
            raise StockError(N_("Enter the price in CHF, such as 24.90.")) from None
        await change_offer(shop.database, variant_id, price, form.get("on_sale") == "yes")
    except StockError as error:
        return await _products_page(shop, request, status_code=409, failed=variant_id, error=error.translated())
    return Redirect(f"/admin/products?done=offer#variant-{variant_id}", status_code=303)


# --- a product's form ------------------------------------------------------------------------------


def _vat_choices() -> list[tuple[str, str]]:
    today = swiss_today()
    names = {
        VatClass.STANDARD: _("standard"),
        VatClass.REDUCED: _("reduced: food, books"),
        VatClass.ACCOMMODATION: _("accommodation"),
    }
    return [
        (vat_class.value, f"{format_rate(vat_rate(vat_class, today))} {names[vat_class]}") for vat_class in VatClass
    ]


def _other_languages(shop: Shop) -> list[str]:
    """The languages a product's texts are written in besides the shop's default one."""
    return [language for language in LANGUAGES if language != shop.settings.default_language]


def _product_form(
    shop: Shop, request: Request[Any, Any, Any], fields: ProductFields, *, status_code: int = 200, **context: Any
) -> Template:
    return _page(
        shop,
        request,
        "admin/product_form.html",
        status_code=status_code,
        fields=fields,
        vat_choices=_vat_choices(),
        other_languages=[(code, LANGUAGE_NAMES[code]) for code in _other_languages(shop)],
        default_language_name=LANGUAGE_NAMES[shop.settings.default_language],
        max_picture_mb=MAX_PICTURE_BYTES // (1024 * 1024),
        **context,
    )


@get("/products/new", name="admin_product_new", guards=[owner_only])
async def new_product_page(request: Request[Any, Any, Any], shop: NamedDependency[Shop]) -> Template:
    return _product_form(shop, request, blank_form())


@get("/products/{product_id:int}/edit", name="admin_product_edit", guards=[owner_only])
async def edit_product_page(
    request: Request[Any, Any, Any],
    shop: NamedDependency[Shop],
    product_id: RowId,
    done: FromQuery[str | None] = None,
) -> Template:
    async with request.app.state.shop_alchemy.get_session() as session:
        product = await session.get(Product, product_id)
        if product is None:
            raise NotFoundException()
        fields = fields_of(product)
    return _product_form(shop, request, fields, done=_(DONE[done]) if done in DONE else None)


async def _submit_product(
    request: Request[Any, Any, Any], shop: Shop, staff: StaffMember, product_id: int | None
) -> Template | Redirect:
    """Save the form, or show it again with every problem at its field and nothing lost: an
    uploaded picture is kept (and shown) even when another field is wrong."""
    form = await request.form()
    fields = read_form(form, product_id, _other_languages(shop))
    media_dir = Path(shop.settings.media_dir)
    upload = form.get("picture")
    if isinstance(upload, UploadFile) and upload.filename:
        try:
            path = await anyio.to_thread.run_sync(store_picture, await upload.read(), media_dir)
        except PictureError as error:
            fields.fail("picture", error.message, **error.values)
        else:
            fields.pictures.append(PictureFields(path, str(form.get("picture_alt") or "").strip()))
    if form.get("action") == "more":
        fields.add_variant_row()
        return _product_form(shop, request, fields)
    check(fields)
    if not fields.errors:
        async with shop.database.writing_session(request.app.state.shop_alchemy) as session:
            try:
                saved = await save_product(session, fields, staff.email, media_dir)
            except LookupError:
                raise NotFoundException() from None
        if saved is not None:
            logger.info("product %s saved by %s", fields.slug, staff.email)
            return Redirect(f"/admin/products/{saved}/edit?done=product", status_code=303)
    return _product_form(shop, request, fields, status_code=400)


_PRODUCT_FORM_BODY = MAX_PICTURE_BYTES + 256 * 1024


@post(
    "/products/new",
    name="admin_product_create",
    status_code=303,
    guards=[owner_only],
    request_max_body_size=_PRODUCT_FORM_BODY,
    opt={"uploads": True},
)
async def create_product(
    request: Request[Any, Any, Any], shop: NamedDependency[Shop], staff: NamedDependency[StaffMember]
) -> Template | Redirect:
    return await _submit_product(request, shop, staff, None)


@post(
    "/products/{product_id:int}/edit",
    name="admin_product_update",
    status_code=303,
    guards=[owner_only],
    request_max_body_size=_PRODUCT_FORM_BODY,
    opt={"uploads": True},
)
async def update_product(
    request: Request[Any, Any, Any],
    shop: NamedDependency[Shop],
    staff: NamedDependency[StaffMember],
    product_id: RowId,
) -> Template | Redirect:
    return await _submit_product(request, shop, staff, product_id)


# --- catalogue files -------------------------------------------------------------------------------

CATALOGUE_MAX_BYTES = 5 * 1024 * 1024
# A file checked in a dry run waits here, under its hash, to be applied as it was checked.
CHECKED_FILES = Path(tempfile.gettempdir()) / "storefront-catalogue"
CHECK_KEPT_S = 24 * 3600


def _catalogue_page(shop: Shop, request: Request[Any, Any, Any], status_code: int = 200, **context: Any) -> Template:
    context.setdefault("report", None)
    context.setdefault("problems", None)
    return _page(shop, request, "admin/catalogue.html", status_code=status_code, **context)


def _forget_old_checks() -> None:
    """A checked file not applied within a day is forgotten (it would have to be checked again)."""
    cutoff = time.time() - CHECK_KEPT_S
    for old in CHECKED_FILES.glob("*.csv"):
        with contextlib.suppress(FileNotFoundError):  # another worker forgot it first
            if old.stat().st_mtime < cutoff:
                old.unlink()


@get("/catalogue", name="admin_catalogue", guards=[owner_only])
async def catalogue_page(request: Request[Any, Any, Any], shop: NamedDependency[Shop]) -> Template:
    return _catalogue_page(shop, request)


async def _run_import(request: Request[Any, Any, Any], data: bytes, actor: str, *, dry_run: bool) -> list[str]:
    shop = request.app.state.shop
    settings = shop.settings
    products = parse_catalog_csv(data, media_dir=Path(settings.media_dir), default_language=settings.default_language)
    async with shop.database.writing_session(request.app.state.shop_alchemy) as session:
        return await apply_catalog(session, products, commit=not dry_run, actor=actor)


@post(
    "/catalogue/check",
    name="admin_catalogue_check",
    status_code=200,
    guards=[owner_only],
    request_max_body_size=CATALOGUE_MAX_BYTES + 64 * 1024,
    opt={"uploads": True},
)
async def catalogue_check(
    request: Request[Any, Any, Any], shop: NamedDependency[Shop], staff: NamedDependency[StaffMember]
) -> Template:
    """The dry run: the same report as `catalog import --dry-run`, and nothing changed."""
    upload = (await request.form()).get("file")
    data = await upload.read() if isinstance(upload, UploadFile) else b""
    if not data:
        return _catalogue_page(shop, request, 400, problems=[_("Choose a CSV file to check.")])
    try:
        report = await _run_import(request, data, staff.email, dry_run=True)
    except CatalogImportError as error:
        return _catalogue_page(shop, request, 409, problems=error.problems)
    checked = hashlib.sha256(data).hexdigest()
    CHECKED_FILES.mkdir(parents=True, exist_ok=True)
    _forget_old_checks()
    (CHECKED_FILES / f"{checked}.csv").write_bytes(data)
    return _catalogue_page(shop, request, report=report, checked=checked)


@post("/catalogue/apply", name="admin_catalogue_apply", status_code=200, guards=[owner_only])
async def catalogue_apply(
    request: Request[Any, Any, Any], shop: NamedDependency[Shop], staff: NamedDependency[StaffMember]
) -> Template:
    """The file exactly as it was checked (found by its hash), applied: all of it or nothing."""
    checked = str((await request.form()).get("checked") or "")
    path = CHECKED_FILES / f"{checked}.csv"
    if not re.fullmatch(r"[0-9a-f]{64}", checked) or not path.is_file():
        return _catalogue_page(shop, request, 409, problems=[_("Check the file again before applying it.")])
    try:
        report = await _run_import(request, path.read_bytes(), staff.email, dry_run=False)
    except CatalogImportError as error:  # the catalogue changed since the check
        return _catalogue_page(shop, request, 409, problems=error.problems)
    path.unlink(missing_ok=True)
    logger.info("catalogue file %s applied by %s: %d lines", checked[:12], staff.email, len(report))
    return _catalogue_page(shop, request, report=report, applied=True)


@get("/catalogue.csv", name="admin_catalogue_csv", guards=[owner_only])
async def catalogue_csv(request: Request[Any, Any, Any]) -> Response[bytes]:
    async with request.app.state.shop_alchemy.get_session() as session:
        body = await export_catalog(session, request.app.state.shop.settings.default_language)
    return _csv(body, f"catalogue-{swiss_today().isoformat()}.csv")


# --- figures for the accountant ------------------------------------------------------------------


def _period(chosen: str | None) -> Period:
    if not chosen:
        return Period.quarter_of(swiss_today())
    try:
        return Period.parse(chosen)
    except PeriodError:
        raise ValidationException(detail="period: write it as 2026-Q4 or 2026-11") from None


@get("/figures", name="admin_figures", guards=[owner_only])
async def figures_page(
    request: Request[Any, Any, Any], shop: NamedDependency[Shop], period: FromQuery[str | None] = None
) -> Template:
    chosen = _period(period)
    today = swiss_today()
    recent: list[str] = []  # this quarter and the seven before it
    year, quarter = today.year, (today.month - 1) // 3 + 1
    while len(recent) < 8:
        recent.append(f"{year}-Q{quarter}")
        year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
    summary = await vat_summary(shop.database, chosen)
    return _page(shop, request, "admin/figures.html", summary=summary, recent=recent)


def _csv(body: str, name: str) -> Response[bytes]:
    return Response(
        body.encode("utf-8-sig"),  # with a byte-order mark, so spreadsheets read the umlauts right
        media_type="text/csv; charset=utf-8",
        headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


@get("/figures/vat.csv", name="admin_figures_vat", guards=[owner_only])
async def vat_csv(shop: NamedDependency[Shop], period: FromQuery[str | None] = None) -> Response[bytes]:
    chosen = _period(period)
    return _csv(vat_summary_csv(await vat_summary(shop.database, chosen)), f"vat-{chosen.name}.csv")


@get("/figures/orders.csv", name="admin_figures_orders", guards=[owner_only])
async def period_orders_csv(shop: NamedDependency[Shop], period: FromQuery[str | None] = None) -> Response[bytes]:
    chosen = _period(period)
    return _csv(await orders_csv(shop.database, chosen), f"orders-{chosen.name}.csv")


admin_router = Router(
    path=ADMIN_PATH,
    route_handlers=[
        sign_in_page,
        sign_in,
        sign_out,
        admin_home,
        account_page,
        change_password,
        orders_page,
        order_page,
        ship,
        ready_for_pickup,
        picked_up,
        cancel,
        send_email_again,
        refund,
        refund_payment,
        products_page,
        stock_change,
        offer_change,
        new_product_page,
        edit_product_page,
        create_product,
        update_product,
        catalogue_page,
        catalogue_check,
        catalogue_apply,
        catalogue_csv,
        figures_page,
        vat_csv,
        period_orders_csv,
    ],
    guards=[signed_in],
    dependencies={"staff": Provide(provide_staff, sync_to_thread=False)},
    exception_handlers={NotAuthorizedException: to_sign_in},
    include_in_schema=False,
)
