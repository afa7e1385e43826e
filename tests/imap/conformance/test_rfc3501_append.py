"""RFC 3501 §6.3.11 APPEND: the server stores the message the client gives (drafts, imports and
migrations append messages without From, or with header lines delivery would refuse); size and
structure limits still apply, delivery rules (From present, strict field syntax) do not."""

from __future__ import annotations

import re

from tests.imap.conformance.client import untagged_of

NO_FROM = b"Subject: draft without From\r\nTo: someone@hub.test\r\n\r\nNot finished yet.\r\n"
ODD_HEADER = (b"From: a@hub.test\r\nSubject: odd header\r\nX Odd Name: a field name with spaces\r\n"
              b"not a field at all\r\n\r\nbody\r\n")
HEADER_ONLY = b"Subject: only a header\r\n"


def _fetch_whole(session, seq: int) -> bytes:
    lines = session.ok(f"FETCH {seq} BODY.PEEK[]")
    found = re.search(rb"BODY\[\] \{(\d+)\}\r\n", lines[0])
    start = found.end()
    return lines[0][start:start + int(found[1])]


def test_append_without_from_is_stored_as_given(session):
    assert b"APPENDUID" in session.append("INBOX", NO_FROM)
    session.ok("SELECT INBOX")
    assert _fetch_whole(session, 1) == NO_FROM


def test_append_with_header_lines_delivery_refuses_is_stored(session):
    session.append("INBOX", ODD_HEADER)
    session.append("INBOX", HEADER_ONLY)
    session.ok("SELECT INBOX")
    assert _fetch_whole(session, 1) == ODD_HEADER
    assert _fetch_whole(session, 2) == HEADER_ONLY


def test_append_still_bounded_by_line_length(session):
    # A structure limit (limits.max_line_bytes, 998 + CRLF in RFC 5322 terms) still refuses.
    huge_line = b"Subject: long\r\n\r\n" + b"x" * 200_000 + b"\r\n"
    _, tagged = session.command('APPEND INBOX {}', huge_line)
    assert tagged.startswith(b"NO")
    lines = session.ok("STATUS INBOX (MESSAGES)")
    assert untagged_of(lines, b"STATUS")[0].endswith(b"(MESSAGES 0)")
