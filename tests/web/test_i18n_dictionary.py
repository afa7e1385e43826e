"""Every French string of the webmail has its English (issue 15's English switch), read from the files.

A string added to index.html or app-*.js without an English entry in app-i18n-en.js fails here, so the
English pages cannot silently keep French. The labels the API sends in French only (dossier categories,
profile entry kinds) are checked too; the others come with their English from the API (*_en, {fr, en}).
"""

from __future__ import annotations

from mssante_hub.dossier import categories
from mssante_hub.profile import fhir
from tests.web.i18n_pages import (
    compiled_dictionary,
    dictionary,
    english,
    page_strings,
    script_strings,
    untranslated,
)


def test_every_string_of_the_page_has_its_english():
    words, patterns = compiled_dictionary()
    missing = sorted(s for s in page_strings() if english(s, words, patterns) is None)
    assert missing == []


def test_every_string_of_the_scripts_has_its_english():
    words, patterns = compiled_dictionary()
    found = script_strings()
    assert len(found) > 200, "the scripts' strings were not found: the reader of the files is broken"
    missing = sorted(f"{name}: {s!r}" for name, s in found if untranslated(s, words, patterns))
    assert missing == []


def test_the_french_labels_the_api_sends_have_their_english():
    words, patterns = compiled_dictionary()
    labels = [c.label for c in categories.CATEGORIES] + list(fhir.KINDS.values())
    assert sorted(label for label in labels if english(label, words, patterns) is None) == []


def test_the_dictionary_is_well_formed():
    words, patterns = dictionary()
    assert all(english_text.strip() for english_text in words.values())
    for french, english_text in patterns:
        assert "{0}" in french, french
        assert {english_text.count(f"{{{i}}}") for i in range(10) if f"{{{i}}}" in english_text} <= {1}
