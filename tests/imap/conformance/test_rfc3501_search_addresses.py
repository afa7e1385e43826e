"""RFC 3501 §6.4.4 SEARCH FROM/TO/CC/BCC: "contains the specified string" — a case-insensitive
substring of the whole header value: display names, local parts, domains, groups."""

from __future__ import annotations

from tests.imap.conformance.client import untagged_of

MESSAGES = [
    b"From: user-from@domain.org\r\nBcc: realbcc@domain.org\r\nSubject: 1\r\n\r\nx\r\n",
    b"From: \"Real Name\" <User-From@Domain.org>\r\nBcc: Undisclosed: realbcc@other.org;\r\nSubject: 2\r\n\r\nx\r\n",
    b"From: user-from@domain.org (a comment)\r\nBcc: \"RealBcc\" <b@c.org>\r\nSubject: 3\r\n\r\nx\r\n",
    b"From: =?utf-8?q?Jos=C3=A9?= <jose@domain.org>\r\nTo: =?utf-8?q?Ren=C3=A9e?= <r@x.org>\r\nSubject: 4\r\n\r\nx\r\n",
    b"From: other@elsewhere.net\r\nSubject: 5\r\n\r\nx\r\n",
    b"From: <user-from (comment)@ (comment) domain.org>\r\nSubject: 6\r\n\r\nx\r\n",
]


def _search(session, criteria: str) -> list[int]:
    line = untagged_of(session.ok(f"SEARCH {criteria}"), b"SEARCH")[0]
    return [int(n) for n in line.split()[2:]]


def test_address_criteria_are_substrings(session):
    for raw in MESSAGES:
        session.append("INBOX", raw)
    session.ok("SELECT INBOX")
    assert _search(session, "FROM user-from@domain.org") == [1, 2, 3, 6]
    assert _search(session, "FROM domain.org") == [1, 2, 3, 4, 6]
    assert _search(session, 'FROM "real name"') == [2]
    assert _search(session, "FROM comment") == [3, 6]
    assert _search(session, "BCC realbcc") == [1, 2, 3]
    assert _search(session, "BCC undisclosed") == [2]
    assert _search(session, "CHARSET UTF-8 FROM {}".replace("{}", '"José"')) == [4]
    assert _search(session, "TO renée".encode().decode()) == [4]
