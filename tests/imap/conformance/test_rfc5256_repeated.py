"""SORT and THREAD asked again after the folder changed: the answers follow the folder and each
session's own view of it (imap/sortkeys.py keeps a folder's rows and results between commands)."""

from __future__ import annotations

import pytest

from tests.imap.support import imaps


def _raw(msgid: str, subject: str, day: int, refs: str = "") -> bytes:
    extra = f"References: <{refs}>\r\n" if refs else ""
    return (f"From: x@hub.test\r\nSubject: {subject}\r\nDate: 0{day} Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{msgid}>\r\n{extra}\r\nbody\r\n").encode()


@pytest.fixture
def pair(hub):
    """Two sessions of one user on its INBOX of three messages."""
    user = hub.fresh_user()
    first = imaps(hub.port(), user, hub.password)
    for fields in (("a", "Charlie", 3), ("b", "Alpha", 1), ("c", "Bravo", 2)):
        first.append("INBOX", None, None, _raw(*fields))
    second = imaps(hub.port(), user, hub.password)
    first.select("INBOX")
    second.select("INBOX")
    yield first, second
    first.logout()
    second.logout()


def _sort(client, *criteria: str) -> list[bytes]:
    typ, data = client.sort("(SUBJECT)", "UTF-8", *criteria)
    assert typ == "OK"
    return data[0].split()


def test_a_new_message_joins_the_answer_once_the_session_knows_it(pair):
    first, second = pair
    assert _sort(first, "ALL") == [b"2", b"3", b"1"]
    assert first.thread("REFERENCES", "UTF-8", "ALL")[1] == [b"(2)(3)(1)"]
    second.append("INBOX", None, None, _raw("d", "Aardvark", 4, refs="b"))
    second.noop()
    assert _sort(second, "ALL") == [b"4", b"2", b"3", b"1"]
    assert second.thread("REFERENCES", "UTF-8", "ALL")[1] == [b"(2 4)(3)(1)"]
    # The first session has not been told of message 4 yet: its answers leave it out.
    assert _sort(first, "ALL") == [b"2", b"3", b"1"]
    first.noop()
    assert _sort(first, "ALL") == [b"4", b"2", b"3", b"1"]
    assert first.thread("REFERENCES", "UTF-8", "ALL")[1] == [b"(2 4)(3)(1)"]


def test_an_expunge_elsewhere_leaves_the_message_out_and_renumbers_once_told(pair):
    first, second = pair
    assert _sort(first, "ALL") == [b"2", b"3", b"1"]
    assert first.thread("ORDEREDSUBJECT", "UTF-8", "ALL")[1] == [b"(2)(3)(1)"]
    second.store("2", "+FLAGS", "\\Deleted")
    second.expunge()
    # Not told yet: the first session's numbers stand, the expunged message is left out; the
    # EXPUNGE comes after the SORT answer, and later answers count without it.
    typ, data = first.sort("(SUBJECT)", "UTF-8", "ALL")
    assert (typ, data) == ("OK", [b"3 1"])
    assert first.response("EXPUNGE")[1] == [b"2"]
    assert _sort(first, "ALL") == [b"2", b"1"]
    assert first.thread("ORDEREDSUBJECT", "UTF-8", "ALL")[1] == [b"(2)(1)"]
    assert first.uid("SORT", "(SUBJECT)", "UTF-8", "ALL")[1] == [b"3 1"]


def test_uid_and_sequence_answers_and_criteria_after_flag_changes(pair):
    first, _ = pair
    assert first.uid("SORT", "(SUBJECT)", "UTF-8", "ALL")[1] == [b"2 3 1"]
    first.store("3", "+FLAGS", "\\Seen")
    assert _sort(first, "UNSEEN") == [b"2", b"1"]
    assert _sort(first, "SEEN") == [b"3"]
    assert _sort(first, "ALL") == [b"2", b"3", b"1"]
