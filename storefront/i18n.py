"""Languages: gettext catalogues compiled by Babel, chosen per request, used by Jinja's i18n
extension. A customer page names its language in its address (/fr/cart); the last one a visitor
saw is remembered in a cookie, and where an address names none (the root, the back office), the
cookie decides, else Accept-Language."""

from __future__ import annotations

from contextvars import ContextVar
from functools import cache
from typing import Any

from babel.core import negotiate_locale
from babel.support import NullTranslations, Translations
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie

from storefront.settings import LANGUAGES, ROOT

TRANSLATIONS_DIR = ROOT / "storefront" / "translations"
LANGUAGE_COOKIE = "lang"
LANGUAGE_NAMES = {"de": "Deutsch", "en": "English", "fr": "Français", "it": "Italiano"}

_current_language: ContextVar[str] = ContextVar("storefront_language", default=LANGUAGES[0])


@cache
def translations(language: str) -> NullTranslations:
    if language == "en":  # the source language of every message
        return NullTranslations()
    loaded = Translations.load(str(TRANSLATIONS_DIR), [language], domain="messages")
    if not isinstance(loaded, Translations):
        raise RuntimeError(f"the {language} translations are not compiled: run 'make translations'")
    return loaded


def choose_language(cookie: str | None, accept_language: str | None, default: str = LANGUAGES[0]) -> str:
    if cookie in LANGUAGES:
        return cookie
    if accept_language:
        preferred = []
        for part in accept_language.split(","):
            tag, _, params = part.strip().partition(";")
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    quality = 0.0
            if tag and quality > 0:
                preferred.append((quality, tag.strip().replace("-", "_")))
        preferred.sort(key=lambda item: -item[0])
        chosen = negotiate_locale([tag for _, tag in preferred], list(LANGUAGES), sep="_")
        if chosen:
            return chosen.split("_")[0]
    return default


def language_in(path: str) -> str | None:
    """The language an address names by its first segment (/fr/cart → fr), if it names one."""
    first = path[1:3]
    return first if first in LANGUAGES and path[3:4] in {"", "/", "?"} else None


def localized(path: str, language: str | None = None) -> str:
    """The customer's address of `path` (a shop path such as /cart) in `language`, by default the
    request's: /fr/cart. The catalogue's address ends in a slash: /fr/."""
    return f"/{language or current_language()}{path}"


def in_language(path: str, language: str) -> str:
    """The same page in another language: /fr/cart?x=1 → /it/cart?x=1."""
    if not language_in(path):
        return localized(path, language)
    rest = path[3:]
    return f"/{language}{rest if rest.startswith('/') else '/' + rest}"  # the catalogue: /fr?page=2 → /it/?page=2


def language_cookie(language: str, *, secure: bool) -> Cookie:
    """Saves the visitor's language for a year; `Lax`, so it comes along on the return from TWINT."""
    return Cookie(
        key=LANGUAGE_COOKIE,
        value=language,
        max_age=365 * 24 * 3600,
        path="/",
        httponly=True,
        secure=secure,
        samesite="lax",
    )


def saved_language(connection: ASGIConnection[Any, Any, Any, Any], default: str) -> str:
    """The visitor's saved choice, else their browser's, else `default`."""
    return choose_language(connection.cookies.get(LANGUAGE_COOKIE), connection.headers.get("accept-language"), default)


def use_language_of(connection: ASGIConnection[Any, Any, Any, Any], default: str) -> None:
    """This request's language: the one its address names, else the visitor's saved choice, else
    their browser's."""
    set_language(language_in(connection.scope["path"]) or saved_language(connection, default))


def set_language(language: str) -> None:
    _current_language.set(language)


def current_language() -> str:
    return _current_language.get()


def gettext(message: str) -> str:
    return translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a text for translation where it is defined; it is translated where it is shown."""
    return message


class ExplainedError(ValueError):
    """A refusal explained to the person who asked: a message id, translated where it is shown,
    and the values it names."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message % values if values else message)
        self.message = message
        self.values = values

    def translated(self) -> str:
        text = gettext(self.message)
        return text % self.values if self.values else text
