"""Rules the templates keep so every page passes the Nu HTML Checker."""

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_htmx_attributes_carry_the_data_prefix_html_allows():
    """htmx reads `data-hx-*` as well as `hx-*`; only the first is valid HTML."""
    bare = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0).strip()}"
        for path in TEMPLATES.rglob("*.html")
        for match in re.finditer(r"\shx-[a-z-]+=", path.read_text())
    ]
    assert bare == []
