"""Languages: gettext catalogues compiled by Babel, chosen per request, used by Jinja's i18n
extension. The choice is remembered in a cookie; without one, Accept-Language decides."""

from __future__ import annotations

from contextvars import ContextVar
from functools import cache
from typing import Any

from babel.core import negotiate_locale
from babel.support import NullTranslations, Translations
from litestar.connection import ASGIConnection

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


def choose_language(cookie: str | None, accept_language: str | None) -> str:
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
    return LANGUAGES[0]


def use_language_of(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """This request's language: the visitor's saved choice, else their browser's."""
    set_language(choose_language(connection.cookies.get(LANGUAGE_COOKIE), connection.headers.get("accept-language")))


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
