"""The sandbox's own pages (the TWINT page, the control page), rendered from its own templates, so
the sandbox serves them wherever it runs: on its own port or beside the shop in development."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Response
from litestar.enums import MediaType

HERE = Path(__file__).resolve().parent
ASSETS_DIR = HERE / "assets"
_TEMPLATES = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def page(
    template: str, context: dict[str, Any], *, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response[str]:
    html = _TEMPLATES.get_template(template).render(**context)
    return Response(html, status_code=status_code, media_type=MediaType.HTML, headers=headers)
