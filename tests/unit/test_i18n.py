import pytest
from babel.messages.pofile import read_po

from storefront.i18n import TRANSLATIONS_DIR, choose_language, set_language, translations
from storefront.settings import LANGUAGES


@pytest.mark.parametrize(
    ("cookie", "accept", "expected"),
    [
        ("en", "de-CH,de;q=0.9", "en"),  # the visitor's choice wins
        (None, "de-CH,de;q=0.9,en;q=0.8", "de"),
        (None, "en-GB,en;q=0.9", "en"),
        (None, "fr-CH, en;q=0.5", "en"),  # no French yet: the next accepted language
        (None, "fr-CH", "de"),  # nothing accepted is offered: the shop's first language
        ("xx", None, "de"),  # an unknown cookie is ignored
        (None, "en;q=0, de;q=0.1", "de"),
        (None, "de;q=abc, en", "en"),
    ],
)
def test_language_choice(cookie, accept, expected):
    assert choose_language(cookie, accept) == expected


def test_german_translates_every_message_of_the_template():
    with (TRANSLATIONS_DIR / "messages.pot").open("rb") as handle:
        template = read_po(handle)
    with (TRANSLATIONS_DIR / "de" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        german = read_po(handle, locale="de")
    wanted = {message.id if isinstance(message.id, str) else message.id[0] for message in template if message.id}
    translated = {
        message.id if isinstance(message.id, str) else message.id[0]
        for message in german
        if message.id
        and all(message.string if isinstance(message.string, tuple) else [message.string])
        and not message.fuzzy
    }
    assert wanted - translated == set()


def test_compiled_german_is_used_and_english_is_the_source():
    set_language("de")
    assert translations("de").gettext("Add to cart") == "In den Warenkorb"
    assert translations("en").gettext("Add to cart") == "Add to cart"
    assert set(LANGUAGES) == {"de", "en"}


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
