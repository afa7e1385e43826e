"""RFC 3501 §7.2.6 FLAGS: a session learns of every keyword in an untagged FLAGS (and PERMANENTFLAGS)
before any FETCH response of that session mentions it: at SELECT, after its own STORE, and when
another session or an APPEND brings a new keyword while the mailbox is selected."""

from __future__ import annotations

import re

from tests.imap.conformance.client import Client
from tests.imap.support import message


def _announced_before_use(lines: list[bytes], known: set[bytes]) -> set[bytes]:
    """Walk responses in order; fail if a FETCH names a keyword not announced in FLAGS yet."""
    for line in lines:
        flags_line = re.match(rb"\* FLAGS \((.*)\)$", line)
        if flags_line:
            known = set(flags_line[1].split())
            continue
        fetched = re.search(rb"FETCH \(.*FLAGS \(([^)]*)\)", line)
        if fetched:
            for flag in fetched[1].split():
                if not flag.startswith(b"\\"):
                    assert flag in known, (flag, line, known)
    return known


def _flags_of(lines: list[bytes]) -> set[bytes]:
    found = [re.match(rb"\* FLAGS \((.*)\)$", line) for line in lines]
    return set([f for f in found if f][-1][1].split())


def test_select_announces_existing_keywords(session):
    session.append("INBOX", message("a"), flags="($Label1 \\Seen)")
    lines = session.ok("SELECT INBOX")
    assert b"$Label1" in _flags_of(lines)
    permanent = [line for line in lines if b"PERMANENTFLAGS" in line][0]
    assert b"$Label1" in permanent and b"\\*" in permanent


def test_own_store_announces_new_keyword_first(session):
    session.append("INBOX", message("a"))
    known = _flags_of(session.ok("SELECT INBOX"))
    lines = session.ok("STORE 1 +FLAGS ($Label3)")
    _announced_before_use(lines, known)
    assert b"$Label3" in _flags_of(lines)


def test_other_sessions_keyword_announced_first(session):
    session.append("INBOX", message("a"))
    known = _flags_of(session.ok("SELECT INBOX"))
    other = Client(session.hub.port())
    other.ok(f'LOGIN "{session.user}" "{session.hub.password}"')
    other.ok("SELECT INBOX")
    other.ok("STORE 1 +FLAGS ($Label2)")
    other.append("INBOX", message("b"), flags="($Label4)")
    known = _announced_before_use(session.ok("NOOP"), known)
    _announced_before_use(session.ok("FETCH 1:* FLAGS"), known)
    _announced_before_use(session.ok("FETCH 1:* (FLAGS RFC822.SIZE)"), known)
    other.close()
