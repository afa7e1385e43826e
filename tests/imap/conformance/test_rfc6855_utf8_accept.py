"""RFC 6855 UTF8=ACCEPT: once a client enables it, mailbox names go both ways in UTF-8 (normalised to
NFC, as RFC 5198 asks), and APPEND takes a message with a UTF-8 header in the UTF8 data extension
`UTF8 (~{n})`; before ENABLE that extension is a syntax error and names stay modified UTF-7."""

from __future__ import annotations

import re
import unicodedata

from tests.imap.conformance.client import untagged_of

UTF8_MESSAGE = "From: Émilie <emilie@hub.test>\r\nSubject: Compte rendu d'opération\r\n\r\nCorps.\r\n".encode()


def test_utf8_accept_is_announced_and_enabled(session):
    assert b"UTF8=ACCEPT" in untagged_of(session.ok("CAPABILITY"), b"CAPABILITY")[0].split()
    assert b"* ENABLED UTF8=ACCEPT" in session.ok("ENABLE UTF8=ACCEPT")


def test_names_in_utf8_and_normalised(session):
    session.ok("ENABLE UTF8=ACCEPT")
    decomposed = unicodedata.normalize("NFD", "Résultats").encode()
    session.ok(b'CREATE "' + decomposed + b'"')
    listed = [line for line in session.ok('LIST "" "R*"') if line.startswith(b"* LIST")]
    assert len(listed) == 1 and "Résultats".encode() in listed[0], listed  # stored and listed as NFC
    session.ok(b'SELECT "' + "Résultats".encode() + b'"')
    _, tagged = session.command(b'CREATE "bad\x01name"')
    assert tagged.startswith(b"NO"), tagged


def test_append_in_the_utf8_data_extension(session):
    _, tagged = session.command("APPEND INBOX UTF8 (~{})", UTF8_MESSAGE)
    assert tagged.startswith(b"BAD"), tagged  # not enabled yet
    session.ok("ENABLE UTF8=ACCEPT")
    _, tagged = session.command("APPEND INBOX (\\Seen) UTF8 (~{})", UTF8_MESSAGE)
    assert re.match(rb"OK \[APPENDUID \d+ \d+\]", tagged), tagged
    session.ok("SELECT INBOX")
    lines = session.ok("FETCH 1 BODY.PEEK[]")
    assert lines[0].endswith(UTF8_MESSAGE + b")"), lines
