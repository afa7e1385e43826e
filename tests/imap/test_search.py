"""SEARCH in the database: headers (from the encrypted summaries), text, dates, flags, UID sets."""

from __future__ import annotations

import pytest

from tests.imap.support import Raw, imaps, login_raw, message

MESSAGES = [
    dict(subject="Bilan sanguin", sender="labo@hub.test", date="Mon, 05 Jan 2026 10:00:00 +0000",
         body="Hémoglobine normale\r\n"),
    dict(subject="Compte rendu d'échographie", sender="radio@hub.test", date="Tue, 10 Feb 2026 10:00:00 +0000",
         body="Foie sans particularité\r\n"),
    dict(subject="Réunion de service", sender="chef@hub.test", date="Wed, 11 Mar 2026 10:00:00 +0000",
         body="Ordre du jour: planning\r\n", extra="X-Priority: 1\r\n"),
]


@pytest.fixture(scope="module")
def searcher(imap_hub):
    client = imaps(imap_hub.port("imaps"), imap_hub.alice, imap_hub.password)
    client.create("Search")
    dates = ['"05-Jan-2026 10:00:00 +0000"', '"10-Feb-2026 10:00:00 +0000"', '"11-Mar-2026 10:00:00 +0000"']
    for spec, date in zip(MESSAGES, dates):
        client.append("Search", None, date, message(**spec))
    client.select("Search")
    client.store("2", "+FLAGS", "(\\Flagged $Urgent)")
    client.store("3", "+FLAGS", "(\\Seen)")
    yield client
    client.logout()


def search(client, *criteria: str, uid: bool = False) -> list[int]:
    status, data = client.uid("SEARCH", *criteria) if uid else client.search("UTF-8", *criteria)
    assert status == "OK"
    return [int(n) for n in data[0].split()]


def test_header_criteria_use_decoded_values(searcher):
    assert search(searcher, "SUBJECT", "bilan") == [1]
    assert search(searcher, "FROM", "radio@") == [2]
    assert search(searcher, "TO", "alice") == [1, 2, 3]
    assert search(searcher, "HEADER", "X-Priority", "1") == [3]


def test_utf8_subject_search_with_a_literal(imap_hub, searcher):
    raw = Raw(imap_hub.port("imaps"))
    login_raw(raw, imap_hub.alice, imap_hub.password)
    raw.send(b"s SELECT Search\r\n")
    raw.until_tagged(b"s")
    word = "ÉCHOGRAPH".encode()
    raw.send(b"f SEARCH CHARSET UTF-8 SUBJECT {%d+}\r\n%s\r\n" % (len(word), word))
    assert raw.until_tagged(b"f")[0] == b"* SEARCH 2"  # case-insensitive beyond ASCII
    raw.close()


def test_body_and_text(searcher):
    assert search(searcher, "BODY", "planning") == [3]
    assert search(searcher, "TEXT", "radio") == [2]


def test_dates_flags_sizes_and_keywords(searcher):
    assert search(searcher, "SINCE", "01-Feb-2026") == [2, 3]
    assert search(searcher, "BEFORE", "01-Feb-2026") == [1]
    assert search(searcher, "ON", "10-Feb-2026") == [2]
    assert search(searcher, "SENTSINCE", "01-Mar-2026") == [3]
    assert search(searcher, "FLAGGED") == [2]
    assert search(searcher, "UNSEEN") == [1, 2]
    assert search(searcher, "KEYWORD", "$Urgent") == [2]
    assert search(searcher, "UNKEYWORD", "$Urgent") == [1, 3]
    assert search(searcher, "LARGER", "1") == [1, 2, 3]
    assert search(searcher, "SMALLER", "1") == []


def test_boolean_combinations_and_sets(searcher):
    assert search(searcher, "OR", "FLAGGED", "SEEN") == [2, 3]
    assert search(searcher, "NOT", "SEEN", "SUBJECT", "compte") == [2]
    assert search(searcher, "(OR SUBJECT bilan FROM chef)", "UNSEEN") == [1]
    assert search(searcher, "2:*") == [2, 3]
    assert search(searcher, "UID", "1,3") == [1, 3]
    assert search(searcher, "UID", "2:*", uid=True) == [2, 3]


def test_no_match_still_answers_an_empty_search_line(searcher):
    status, data = searcher.search(None, "SUBJECT", "absent-de-partout")
    assert status == "OK" and data == [b""]


def test_esearch_return_options(imap_hub, searcher):
    raw = Raw(imap_hub.port("imaps"))
    login_raw(raw, imap_hub.alice, imap_hub.password)
    raw.send(b"s SELECT Search\r\n")
    raw.until_tagged(b"s")
    raw.send(b"e UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN\r\n")
    lines = raw.until_tagged(b"e")
    assert lines[0].startswith(b'* ESEARCH (TAG "e") UID ')
    words = lines[0].split()[5:]
    assert dict(zip(words[::2], words[1::2])) == {b"MIN": b"1", b"MAX": b"2", b"COUNT": b"2", b"ALL": b"1:2"}
    raw.close()
