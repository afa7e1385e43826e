"""RFC 5256 THREAD=REFERENCES and THREAD=ORDEREDSUBJECT with Python's imaplib."""

from __future__ import annotations

import pytest

from tests.imap.support import imaps

# (Message-ID, References / In-Reply-To, Subject, Date day)
THREAD = [
    ("a", "", "Projet", 1),
    ("b", "References: <a>", "Re: Projet", 2),
    ("c", "References: <a> <b>", "Re: Projet", 3),
    ("d", "In-Reply-To: <a>", "Re: Projet", 4),
    ("e", "References: <missing>", "Autre", 5),
    ("f", "References: <missing>", "Autre encore", 6),
    ("g", "", "Re: Projet", 7),  # no references: gathered by subject
    ("h", "", "Seul", 8),
]


def _raw(msgid: str, refs: str, subject: str, day: int) -> bytes:
    extra = refs + "\r\n" if refs else ""
    return (f"From: x@hub.test\r\nSubject: {subject}\r\nDate: 0{day} Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{msgid}>\r\n{extra}\r\nbody\r\n").encode()


@pytest.fixture
def client(hub):
    user = hub.fresh_user()
    client = imaps(hub.port(), user, hub.password)
    for fields in THREAD:
        client.append("INBOX", None, None, _raw(*fields))
    client.select("INBOX")
    yield client
    client.logout()


def test_thread_references(client):
    typ, data = client.thread("REFERENCES", "UTF-8", "ALL")
    assert typ == "OK"
    assert data == [b"(1 (2 3)(4)(7))((5)(6))(8)"]


def test_thread_orderedsubject(client):
    typ, data = client.thread("ORDEREDSUBJECT", "UTF-8", "ALL")
    assert typ == "OK"
    assert data == [b"(1 (2)(3)(4)(7))(5)(6)(8)"]


def test_uid_thread_with_criteria(client):
    client.store("8", "+FLAGS", "\\Flagged")
    typ, data = client.uid("THREAD", "REFERENCES", "UTF-8", "UNFLAGGED")
    assert typ == "OK" and data == [b"(1 (2 3)(4)(7))((5)(6))"]
    typ, data = client.thread("REFERENCES", "UTF-8", "SUBJECT", "seul")
    assert data == [b"(8)"]


def test_unknown_algorithm_is_bad(session):
    session.ok("SELECT INBOX")
    assert session.command("THREAD XYZ UTF-8 ALL")[1].startswith(b"BAD")
    assert session.command("THREAD REFERENCES UTF-8")[1].startswith(b"BAD")
    assert session.ok("THREAD REFERENCES UTF-8 ALL") == [b"* THREAD"]


def test_reference_loops_and_deep_chains_are_bounded(client):
    # Hostile References: a loop (i -> j -> i) and a chain of 1,500 ids; the server answers.
    chain = "\r\n ".join(f"<deep{n}>" for n in range(1500))  # folded: lines stay short
    assert client.append("INBOX", None, None, _raw("i", "References: <j>", "Loop", 9))[0] == "OK"
    assert client.append("INBOX", None, None, _raw("j", "References: <i>", "Loop", 9))[0] == "OK"
    assert client.append("INBOX", None, None, ("From: x@hub.test\r\nSubject: deep\r\nMessage-ID: <k>\r\n"
                                               f"References: {chain}\r\n\r\nx\r\n").encode())[0] == "OK"
    typ, data = client.thread("REFERENCES", "UTF-8", "ALL")
    assert typ == "OK" and (b"(9 10)" in data[0] or b"(10 9)" in data[0]), data
    assert b"(11)" in data[0]
