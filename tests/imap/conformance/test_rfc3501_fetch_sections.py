"""RFC 3501 §6.4.5 FETCH BODY[section] on a message whose body is message/rfc822: part 1 is the
whole encapsulated message; 1.HEADER / 1.TEXT its header and text; 1.MIME the MIME header of
part 1; 1.1 the first part of the encapsulated message — and the same one level deeper."""

from __future__ import annotations

import re

import pytest

INNERMOST = b"From: deep@hub.test\r\nSubject: deepest\r\n\r\nDeep body\r\n"
INNER = b"From: inner@hub.test\r\nSubject: inner\r\nContent-Type: message/rfc822\r\n\r\n" + INNERMOST
SIMPLE_INNER = b"From: inner@hub.test\r\nSubject: inner\r\n\r\nHello world\r\n"
OUTER_HEADER = b"From: outer@hub.test\r\nSubject: outer\r\nContent-Type: message/rfc822\r\n\r\n"
MULTI_INNER = (b"From: inner@hub.test\r\nSubject: multi\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
               b"--b1\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--b1\r\nContent-Type: text/html\r\n\r\n"
               b"<p>second</p>\r\n--b1--\r\n")


def _section(session, seq: int, section: str) -> bytes | None:
    lines = session.ok(f"FETCH {seq} BODY.PEEK[{section}]")
    found = re.search(rb"BODY\[" + re.escape(section.encode()) + rb"\] (?:\{(\d+)\}\r\n|NIL|\"\")", lines[0])
    assert found, lines
    if not found[1]:
        return b""
    return lines[0][found.end():found.end() + int(found[1])]


@pytest.fixture
def encapsulated(session):
    session.append("INBOX", OUTER_HEADER + SIMPLE_INNER)
    session.append("INBOX", OUTER_HEADER + INNER)
    session.append("INBOX", OUTER_HEADER + MULTI_INNER)
    session.ok("SELECT INBOX")
    return session


def test_part_1_is_the_whole_encapsulated_message(encapsulated):
    assert _section(encapsulated, 1, "1") == SIMPLE_INNER


def test_header_text_and_mime_of_part_1(encapsulated):
    assert _section(encapsulated, 1, "1.HEADER") == b"From: inner@hub.test\r\nSubject: inner\r\n\r\n"
    assert _section(encapsulated, 1, "1.TEXT") == b"Hello world\r\n"
    assert _section(encapsulated, 1, "1.MIME") == OUTER_HEADER


def test_part_1_1_is_the_body_of_a_single_part_encapsulated_message(encapsulated):
    assert _section(encapsulated, 1, "1.1") == b"Hello world\r\n"


def test_one_level_deeper(encapsulated):
    assert _section(encapsulated, 2, "1") == INNER
    assert _section(encapsulated, 2, "1.1") == INNERMOST
    assert _section(encapsulated, 2, "1.1.HEADER") == b"From: deep@hub.test\r\nSubject: deepest\r\n\r\n"
    assert _section(encapsulated, 2, "1.1.TEXT") == b"Deep body\r\n"
    assert _section(encapsulated, 2, "1.1.1") == b"Deep body\r\n"


def test_multipart_inside_message_rfc822(encapsulated):
    assert _section(encapsulated, 3, "1") == MULTI_INNER
    assert _section(encapsulated, 3, "1.1") == b"first"
    assert _section(encapsulated, 3, "1.2") == b"<p>second</p>"
    assert _section(encapsulated, 3, "1.2.MIME") == b"Content-Type: text/html\r\n\r\n"
