"""The legal pages a Swiss online shop and TWINT's onboarding require: imprint (who sells, legal
form, address, e-mail), terms and privacy, filled from the settings (reference/swiss.md)."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from storefront.page_state import read_page_state
from storefront.web import Shop, render

PAGES = ("imprint", "terms", "privacy")


@get("/legal/{page:str}", name="legal")
async def legal_page(request: HTMXRequest, shop: NamedDependency[Shop], page: FromPath[str]) -> Template:
    if page not in PAGES:
        raise NotFoundException()
    state = await read_page_state(shop, request)
    return render(shop, request, f"legal/{page}.html", cart=state.cart, company=shop.settings)
