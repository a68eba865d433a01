import re

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from storefront.i18n import TRANSLATIONS_DIR, choose_language, in_language, language_in, set_language, translations
from storefront.settings import LANGUAGES


@pytest.mark.parametrize(
    ("cookie", "accept", "expected"),
    [
        ("en", "de-CH,de;q=0.9", "en"),  # the visitor's choice wins
        (None, "de-CH,de;q=0.9,en;q=0.8", "de"),
        (None, "en-GB,en;q=0.9", "en"),
        (None, "fr-CH, en;q=0.5", "fr"),
        (None, "it-CH", "it"),
        (None, "rm-CH, it;q=0.8, de;q=0.5", "it"),  # Romansh is not offered: the next accepted language
        (None, "es-ES", "de"),  # nothing accepted is offered: the shop's first language
        ("xx", None, "de"),  # an unknown cookie is ignored
        (None, "en;q=0, de;q=0.1", "de"),
        (None, "de;q=abc, en", "en"),
    ],
)
def test_language_choice(cookie, accept, expected):
    assert choose_language(cookie, accept) == expected


PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%%")
TAG = re.compile(r"<[^>]+>")


def _catalogue(language: str) -> Catalog:
    with (TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def _template() -> Catalog:
    with (TRANSLATIONS_DIR / "messages.pot").open("rb") as handle:
        return read_po(handle)


def _first(message_id: str | tuple[str, ...]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


TRANSLATED = [language for language in LANGUAGES if language != "en"]


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_of_the_template_is_translated_and_none_is_fuzzy(language):
    wanted = {_first(message.id) for message in _template() if message.id}
    done = {
        _first(message.id)
        for message in _catalogue(language)
        if message.id
        and all(message.string if isinstance(message.string, tuple) else [message.string])
        and not message.fuzzy
    }
    assert sorted(wanted - done) == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_translation_keeps_the_placeholders_and_markup_of_the_english(language):
    """A missing or renamed %(amount)s would raise or show nothing; a changed tag would break a link."""
    differs = []
    for message in _catalogue(language):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for index, string in enumerate(strings):
            # A plural's singular form may say "one" in words instead of %(count)s.
            wanted = set(PLACEHOLDER.findall(ids[-1]))
            found = set(PLACEHOLDER.findall(string))
            if found != wanted and not (len(ids) > 1 and index == 0 and found <= wanted):
                differs.append((ids[0], string))
            if sorted(TAG.findall(string)) != sorted(TAG.findall(ids[0])):
                differs.append((ids[0], string))
    assert differs == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_catalogue_carries_no_obsolete_entries(language):
    assert list(_catalogue(language).obsolete) == []


@pytest.mark.parametrize(
    ("language", "text"),
    [("de", "In den Warenkorb"), ("fr", "Ajouter au panier"), ("it", "Aggiungere al carrello"), ("en", "Add to cart")],
)
def test_the_compiled_catalogue_of_each_language_is_used(language, text):
    set_language(language)
    assert translations(language).gettext("Add to cart") == text


def test_the_shop_speaks_four_languages_german_first():
    assert LANGUAGES == ("de", "fr", "it", "en")


def test_the_message_template_lists_every_text_in_the_code(tmp_path):
    """Catches a new text that `make extract-messages` has not yet brought to the translators."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    fresh = tmp_path / "fresh.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_",
            "-k",
            "gettext",
            "-k",
            "N_",
            "-k",
            "ngettext:1,2",
            "--no-location",
            "--omit-header",
            "-o",
            str(fresh),
            ".",
        ],
        cwd=root,
        check=True,
        capture_output=True,
    )
    with fresh.open("rb") as handle:
        in_code = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    with (TRANSLATIONS_DIR / "messages.pot").open("rb") as handle:
        in_template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    assert in_code == in_template


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/fr/cart", "fr"), ("/it", "it"), ("/de/", "de"), ("/en?page=2", "en"), ("/cart", None), ("/fred", None)],
)
def test_the_language_an_address_names(path, expected):
    assert language_in(path) == expected


@pytest.mark.parametrize(
    ("path", "language", "expected"),
    [
        ("/fr/cart?x=1", "it", "/it/cart?x=1"),
        ("/fr", "de", "/de/"),
        ("/fr?page=2", "en", "/en/?page=2"),
        ("/cart", "fr", "/fr/cart"),  # an address from before the language was in it
    ],
)
def test_the_same_page_in_another_language(path, language, expected):
    assert in_language(path, language) == expected
