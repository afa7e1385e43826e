"""The parsed-address caches of web/people.py answer what the parser does, short field or long, hit or miss."""

from __future__ import annotations

from mssante_hub.web import people

SHORT = '"Dr Jeanne Martin" <Jeanne.Martin@Hopital.example>'
# Past MAX_CACHED_FIELD_CHARS: parsed each time, never held.
LONG = '"' + "Nom très long " * 200 + '" <Autre@Clinique.example>, ' + SHORT


def test_the_first_address_is_the_parsers_whether_cached_or_not():
    assert len(LONG) > people.MAX_CACHED_FIELD_CHARS
    people._first.cache_clear()
    first = people.address_of(SHORT)
    again = people.address_of(SHORT)  # from the cache
    assert first == again == ("Dr Jeanne Martin", "jeanne.martin@hopital.example")
    assert people._first.cache_info().hits == 1
    name, address = people.address_of(LONG)
    assert address == "autre@clinique.example" and name.startswith("Nom très long")
    assert len(name) == people.MAX_NAME_CHARS
    assert people._first.cache_info().currsize == 1  # the long field was not kept
    assert people.address_of("") == ("", "") and people.address_of(None) == ("", "")


def test_the_cache_is_bounded():
    people._first.cache_clear()
    for i in range(people.PARSED_FIELDS_CACHED + 10):
        people.address_of(f"<p{i}@hopital.example>")
    assert people._first.cache_info().currsize == people.PARSED_FIELDS_CACHED
