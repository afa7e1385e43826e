"""RFC 5256 SORT (and RFC 5957 SORT=DISPLAY, RFC 5267 ESORT) with Python's imaplib."""

from __future__ import annotations

import pytest

from tests.imap.support import imaps

MESSAGES = [  # (From, To, Subject, Date, body size padding)
    ('"Zoé" <b-user@hub.test>', "c@hub.test", "Re: Banana", "Mon, 02 Nov 2026 10:00:00 +0000", 10),
    ("a-user@hub.test", '"Bernard" <z@hub.test>', "apple", "Mon, 02 Nov 2026 09:00:00 +0100", 300),
    ('"Anne" <c-user@hub.test>', "a@hub.test", "[list] Fwd: cherry (fwd)", "Sun, 01 Nov 2026 10:00:00 +0000", 50),
    ("b-user@hub.test", "b@hub.test", "banana", "not a date", 5),
]


def _raw(sender: str, to: str, subject: str, date: str, pad: int) -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@hub.test>\r\n\r\n{'x' * pad}\r\n").encode("utf-8")


def _sort_result(data) -> list[int]:
    return [int(n) for n in data[0].split()]


@pytest.fixture
def client(hub):
    user = hub.fresh_user()
    client = imaps(hub.port(), user, hub.password)
    for n, fields in enumerate(MESSAGES):
        # Internal dates in the order 4, 3, 2, 1 (arrival differs from sequence order)
        client.append("INBOX", None, f'"0{9 - n}-Nov-2026 12:00:00 +0000"', _raw(*fields))
    client.select("INBOX")
    yield client
    client.logout()


def test_capabilities_announced(client):
    caps = client.capabilities
    for cap in ("SORT", "SORT=DISPLAY", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT", "ESORT"):
        assert cap in caps


def test_sort_keys(client):
    assert _sort_result(client.sort("(SUBJECT)", "UTF-8", "ALL")[1]) == [2, 1, 4, 3]  # apple, banana x2, cherry
    assert _sort_result(client.sort("(ARRIVAL)", "UTF-8", "ALL")[1]) == [4, 3, 2, 1]
    assert _sort_result(client.sort("(REVERSE ARRIVAL)", "UTF-8", "ALL")[1]) == [1, 2, 3, 4]
    assert _sort_result(client.sort("(SIZE)", "UTF-8", "ALL")[1]) == [4, 1, 3, 2]
    assert _sort_result(client.sort("(FROM)", "UTF-8", "ALL")[1]) == [2, 1, 4, 3]  # a-user, b-user x2, c-user
    assert _sort_result(client.sort("(TO)", "UTF-8", "ALL")[1]) == [3, 4, 1, 2]
    # DATE: message 4's Date is unreadable, its internal date (5 Nov) stands in.
    assert _sort_result(client.sort("(DATE)", "UTF-8", "ALL")[1]) == [3, 2, 1, 4]
    assert _sort_result(client.sort("(SUBJECT REVERSE DATE)", "UTF-8", "ALL")[1]) == [2, 4, 1, 3]


def test_sort_display(client):
    # DISPLAYFROM: a-user@hub.test, Anne, b-user@hub.test, Zoé
    assert _sort_result(client.sort("(DISPLAYFROM)", "UTF-8", "ALL")[1]) == [2, 3, 4, 1]
    assert _sort_result(client.sort("(DISPLAYTO)", "UTF-8", "ALL")[1]) == [3, 4, 2, 1]


def test_sort_with_criteria_and_uid(client):
    client.store("2", "+FLAGS", "\\Seen")
    assert _sort_result(client.sort("(SUBJECT)", "UTF-8", "UNSEEN")[1]) == [1, 4, 3]
    typ, data = client.uid("SORT", "(REVERSE SIZE)", "UTF-8", "ALL")
    assert typ == "OK" and _sort_result(data) == [2, 3, 1, 4]


def test_sort_errors(session):
    session.ok("SELECT INBOX")
    for bad in ("SORT (NOSUCHKEY) UTF-8 ALL", "SORT (REVERSE) UTF-8 ALL", "SORT () UTF-8 ALL", "SORT (SUBJECT) UTF-8",
                "SORT RETURN (XYZ) (SUBJECT) UTF-8 ALL"):
        assert session.command(bad)[1].startswith(b"BAD"), bad
    assert session.command("SORT (SUBJECT) KOI8-R ALL")[1].startswith(b"NO [BADCHARSET")


def test_esort(client):
    typ, data = client._simple_command("SORT", "RETURN", "(MIN MAX COUNT)", "(SUBJECT)", "UTF-8", "ALL")
    assert typ == "OK"
    typ, data = client._untagged_response(typ, data, "ESEARCH")
    assert data[0].endswith(b"MIN 2 MAX 3 COUNT 4"), data
