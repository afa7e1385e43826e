"""RFC 9051 IMAP4rev2, announced beside IMAP4rev1: a client that sends ENABLE IMAP4rev2 gets rev2's
answers where they differ from rev1's — no \\Recent flag and no RECENT response (at SELECT, for new
messages, in FETCH FLAGS, as a STATUS item), no UNSEEN response code but a LIST response at SELECT,
OK [CLOSED] when SELECT closes the previous mailbox, SEARCH answered in ESEARCH form, STATUS DELETED
and SIZE, mailbox names in UTF-8 (LIST, STATUS, SELECT); a rev1 session on the same mailbox keeps rev1's."""

from __future__ import annotations

import re

from tests.imap.conformance.client import Client, untagged_of
from tests.imap.support import message

NAME = "Reçus/Été"  # a mailbox name beyond ASCII
MUTF7 = "Re&AOc-us/&AMk-t&AOk-"  # the same, in modified UTF-7 (RFC 3501 §5.1.3)


def _rev2(session) -> None:
    lines = session.ok("ENABLE IMAP4rev2")
    assert b"* ENABLED IMAP4rev2" in lines, lines


def test_imap4rev2_is_announced_beside_imap4rev1(session):
    caps = untagged_of(session.ok("CAPABILITY"), b"CAPABILITY")[0].split()
    assert b"IMAP4rev1" in caps and b"IMAP4rev2" in caps
    # What RFC 9051 folds in, each announced on its own too.
    for extension in (b"ENABLE", b"IDLE", b"NAMESPACE", b"UNSELECT", b"UIDPLUS", b"ESEARCH", b"SEARCHRES",
                      b"LIST-EXTENDED", b"LIST-STATUS", b"MOVE", b"BINARY", b"SPECIAL-USE", b"SASL-IR"):
        assert extension in caps, extension


def test_select_has_no_recent_nor_unseen_but_a_list_line(session):
    session.append("INBOX", message("one"), flags="(\\Seen)")
    session.append("INBOX", message("two"))
    _rev2(session)
    lines = session.ok("SELECT INBOX")
    assert not [line for line in lines if b"RECENT" in line or b"[UNSEEN" in line], lines
    assert b"* 2 EXISTS" in lines
    assert any(re.fullmatch(rb'\* LIST \([^)]*\) "/" "?INBOX"?', line) for line in lines), lines
    flags = [line for line in session.ok("FETCH 1:2 FLAGS") if b"FETCH" in line]
    assert len(flags) == 2 and not any(b"\\Recent" in line for line in flags), flags


def test_a_new_message_brings_exists_without_recent(session):
    _rev2(session)
    session.ok("SELECT INBOX")
    other = Client(session.hub.port())
    try:
        other.ok(f'LOGIN "{session.user}" "{session.hub.password}"')
        other.append("INBOX", message("arrives"))
    finally:
        other.close()
    lines = session.ok("NOOP")
    assert b"* 1 EXISTS" in lines and not [line for line in lines if b"RECENT" in line], lines
    assert b"\\Recent" not in session.ok("FETCH 1 FLAGS")[0]
    # The message was not recent to the rev2 session, so a rev1 session may still see it so.
    rev1 = Client(session.hub.port())
    try:
        rev1.ok(f'LOGIN "{session.user}" "{session.hub.password}"')
        assert b"* 1 RECENT" in rev1.ok("SELECT INBOX")
    finally:
        rev1.close()


def test_search_answers_in_esearch_form(session):
    session.append("INBOX", message("a"), flags="(\\Seen)")
    session.append("INBOX", message("b"))
    session.append("INBOX", message("c"))
    _rev2(session)
    session.ok("SELECT INBOX")
    lines = session.ok("SEARCH UNSEEN")
    assert not untagged_of(lines, b"SEARCH"), lines
    esearch = untagged_of(lines, b"ESEARCH")
    assert len(esearch) == 1 and re.fullmatch(rb'\* ESEARCH \(TAG "C\d+"\) ALL 2:3', esearch[0]), esearch
    uid_lines = untagged_of(session.ok("UID SEARCH SEEN"), b"ESEARCH")
    assert re.fullmatch(rb'\* ESEARCH \(TAG "C\d+"\) UID ALL \d+', uid_lines[0]), uid_lines
    none = untagged_of(session.ok("SEARCH DELETED"), b"ESEARCH")
    assert re.fullmatch(rb'\* ESEARCH \(TAG "C\d+"\)', none[0]), none  # nothing found: no ALL


def test_status_deleted_and_size_and_no_recent(session):
    first, second = message("x"), message("y")
    session.append("INBOX", first, flags="(\\Deleted)")
    session.append("INBOX", second)
    _rev2(session)
    status = untagged_of(session.ok("STATUS INBOX (MESSAGES DELETED SIZE)"), b"STATUS")[0]
    assert status.endswith(b"(MESSAGES 2 DELETED 1 SIZE %d)" % (len(first) + len(second))), status
    _, tagged = session.command("STATUS INBOX (RECENT)")
    assert tagged.startswith(b"BAD"), tagged
    _, tagged = session.command('LIST "" "*" RETURN (STATUS (MESSAGES RECENT))')
    assert tagged.startswith(b"BAD"), tagged
    lines = session.ok('LIST "" "INBOX" RETURN (STATUS (DELETED))')
    assert any(line.endswith(b"(DELETED 1)") for line in lines), lines


def test_select_of_another_mailbox_says_closed(session):
    _rev2(session)
    session.ok("SELECT INBOX")
    lines = session.ok("EXAMINE INBOX")
    assert lines[0].startswith(b"* OK [CLOSED]"), lines


def test_mailbox_names_are_utf8_once_enabled(session):
    session.ok(f'CREATE "{MUTF7}"')  # made by a rev1 client, in modified UTF-7
    _rev2(session)
    listed = [line for line in session.ok('LIST "" "Re*"') if line.startswith(b"* LIST")]
    assert any(NAME.encode() in line for line in listed), listed
    assert not any(MUTF7.encode() in line for line in listed), listed
    session.ok(b'SELECT "' + NAME.encode() + b'"')
    status = session.ok(b'STATUS "' + NAME.encode() + b'" (MESSAGES)')
    assert NAME.encode() in untagged_of(status, b"STATUS")[0]
    session.ok(b'CREATE "' + "Brouillons/Déjà".encode() + b'"')
    # A rev1 session sees the same mailboxes in modified UTF-7.
    rev1 = Client(session.hub.port())
    try:
        rev1.ok(f'LOGIN "{session.user}" "{session.hub.password}"')
        listed = b"\n".join(rev1.ok('LIST "" "*"'))
        assert MUTF7.encode() in listed and b"Brouillons/D&AOk-j&AOA-" in listed, listed
    finally:
        rev1.close()
