"""The TWINT page over plain HTTP, as a browser without JavaScript gets it: the QR code and the code
for a desktop, "Open the TWINT app" for a phone, and the app's own page once that step is taken."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from storefront.sandbox.account import redirect_token
from tests.support.sandbox import CONFIRM, PARAMS


class Controls(HTMLParser):
    """What a customer can press on a page, in the page's order: ("link" | "button", text, href)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []
        self._open: tuple[str, str] | None = None
        self._text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"a", "button"}:
            self._open, self._text = ("link" if tag == "a" else "button", dict(attrs).get("href") or ""), ""

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag in {"a", "button"} and self._open:
            self.found.append((self._open[0], " ".join(self._text.split()), self._open[1]))
            self._open = None

    @property
    def names(self) -> list[str]:
        return [text for _kind, text, _href in self.found]


@pytest.fixture
def waiting(client, sandbox) -> tuple[str, str]:
    """A payment waiting on its TWINT page: its id and the page's token."""
    intent = client.v1.payment_intents.create(params=PARAMS)
    client.v1.payment_intents.confirm(intent.id, params=CONFIRM)
    return intent.id, redirect_token(sandbox.store.get(intent.id, "payment_intent"))


def test_the_page_has_the_qr_code_and_code_for_a_desktop_and_the_app_step_for_a_phone(sandbox, waiting):
    intent_id, token = waiting
    page = httpx.get(f"{sandbox.url}/twint/{intent_id}", params={"token": token})
    assert page.status_code == 200
    assert 'aria-label="QR code to scan with the TWINT app"' in page.text
    assert 'data-testid="twint-code"' in page.text
    controls = Controls(page.text)
    # The stylesheet shows a phone the first and the last two, a desktop all but the first.
    assert controls.names == [
        "Open the TWINT app",
        "Authorize test payment",
        "Fail test payment",
        "Cancel",
        "Close without returning",
    ]
    kind, _text, href = controls.found[0]
    assert kind == "link"
    link = urlsplit(href)
    assert (link.path, link.fragment) == (f"/twint/{intent_id}", "twint-app")
    assert parse_qs(link.query) == {"token": [token], "step": ["app"]}


def test_the_app_step_shows_the_apps_buttons_and_no_qr_code(sandbox, waiting):
    intent_id, token = waiting
    page = httpx.get(f"{sandbox.url}/twint/{intent_id}", params={"token": token, "step": "app"})
    assert page.status_code == 200
    assert "QR code" not in page.text
    assert 'data-testid="twint-code"' not in page.text
    assert '<section class="app-actions in-app" id="twint-app" aria-labelledby="twint-app-title"' in page.text
    assert Controls(page.text).names == [
        "Authorize test payment",
        "Fail test payment",
        "Cancel",
        "Close without returning",
    ]


def test_the_app_step_needs_the_pages_token(sandbox, waiting):
    intent_id, _token = waiting
    page = httpx.get(f"{sandbox.url}/twint/{intent_id}", params={"token": "guess", "step": "app"})
    assert page.status_code == 404


def test_an_unknown_step_shows_the_page_as_it_first_was(sandbox, waiting):
    intent_id, token = waiting
    page = httpx.get(f"{sandbox.url}/twint/{intent_id}", params={"token": token, "step": "elsewhere"})
    assert page.status_code == 200
    assert Controls(page.text).names[0] == "Open the TWINT app"


def test_authorizing_in_the_app_returns_to_the_shop(client, sandbox, waiting):
    intent_id, token = waiting
    answer = httpx.post(f"{sandbox.url}/twint/{intent_id}", data={"token": token, "step": "app", "action": "authorize"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(CONFIRM["return_url"] + "&payment_intent=")
    assert answer.headers["location"].endswith("&redirect_status=succeeded")
    assert client.v1.payment_intents.retrieve(intent_id).status == "succeeded"
    caused = {event["type"]: event["request"]["id"] for event in sandbox.events_for(intent_id)}
    assert caused["payment_intent.created"].startswith("req_")  # an API request made it
    assert caused["payment_intent.succeeded"] is None  # the customer in TWINT did, no API request


def test_an_unknown_action_in_the_app_stays_in_the_app(sandbox, waiting):
    intent_id, token = waiting
    answer = httpx.post(f"{sandbox.url}/twint/{intent_id}", data={"token": token, "step": "app", "action": "pay"})
    assert answer.status_code == 400
    assert "Unknown action." in answer.text
    assert 'id="twint-app"' in answer.text
    assert "QR code" not in answer.text


def test_the_page_has_no_inline_script_or_style(sandbox, waiting):
    """The shop's Content-Security-Policy allows neither when the page is served beside it."""
    intent_id, token = waiting
    for step in ("", "app"):
        page = httpx.get(f"{sandbox.url}/twint/{intent_id}", params={"token": token, "step": step}).text
        assert "<script" not in page
        assert "<style" not in page
        assert not re.search(r"<[^>]*\s(style|on\w+)=", page)  # no style="…", onclick="…" and the like


@pytest.mark.parametrize(
    ("accept", "lang", "names"),
    [
        (
            "fr-CH,fr;q=0.9",
            "fr",
            ["Ouvrir l’app TWINT", "Autoriser le paiement test", "Faire échouer le paiement test"],
        ),
        (
            "it-CH",
            "it",
            ["Aprire l’app TWINT", "Autorizzare il pagamento di prova", "Far fallire il pagamento di prova"],
        ),
        ("de-CH, en;q=0.5", "de", ["TWINT-App öffnen", "Testzahlung bestätigen", "Testzahlung scheitern lassen"]),
        ("ja, rm;q=0.8", "en", ["Open the TWINT app", "Authorize test payment", "Fail test payment"]),
    ],
)
def test_the_page_speaks_the_browsers_language(sandbox, waiting, accept, lang, names):
    """As TWINT's own page: French, Italian, German, else English."""
    intent_id, token = waiting
    page = httpx.get(f"{sandbox.url}/twint/{intent_id}", params={"token": token}, headers={"Accept-Language": accept})
    assert f'<html lang="{lang}">' in page.text
    assert Controls(page.text).names[:3] == names
