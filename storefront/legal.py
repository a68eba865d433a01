"""The legal pages a Swiss online shop and TWINT's onboarding require: imprint (who sells, legal
form, address, e-mail), terms and privacy, filled from the settings (docs/swiss.md, "Legal pages")."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from storefront.rendering import render
from storefront.shop import Shop

PAGES = ("imprint", "terms", "privacy")


@get("/legal/{page:str}", name="legal")
async def legal_page(request: HTMXRequest, shop: NamedDependency[Shop], page: FromPath[str]) -> Template:
    if page not in PAGES:
        raise NotFoundException()
    state = await shop.read_page(request)
    return render(shop.settings, request, f"legal/{page}.html", cart=state.cart, company=shop.settings)
