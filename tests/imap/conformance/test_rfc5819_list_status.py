"""RFC 5819 LIST-STATUS: LIST ... RETURN (STATUS (items)) sends each selectable mailbox's STATUS
right after its LIST line; none for a \\Noselect name; bad items are BAD."""

from __future__ import annotations

from tests.imap.support import message


def test_list_return_status(session):
    assert b"LIST-STATUS" in session.ok("CAPABILITY")[0]
    session.ok("CREATE parent/child")
    session.append("parent/child", message("a"))
    session.append("parent/child", message("b"), flags="(\\Seen)")
    lines = session.ok('LIST "" "parent*" RETURN (STATUS (MESSAGES UNSEEN))')
    assert lines == [
        b'* LIST (\\HasChildren) "/" "parent"',
        b'* STATUS "parent" (MESSAGES 0 UNSEEN 0)',
        b'* LIST (\\HasNoChildren) "/" "parent/child"',
        b'* STATUS "parent/child" (MESSAGES 2 UNSEEN 1)',
    ], lines


def test_list_status_with_other_return_options(session):
    lines = session.ok('LIST "" INBOX RETURN (SUBSCRIBED STATUS (UIDNEXT))')
    assert lines[0].startswith(b"* LIST (") and b"\\Subscribed" in lines[0]
    assert lines[1] == b'* STATUS "INBOX" (UIDNEXT 1)'


def test_list_status_bad_items(session):
    for bad in ('LIST "" * RETURN (STATUS (XYZ))', 'LIST "" * RETURN (STATUS)', 'LIST "" * RETURN (STATUS ())'):
        assert session.command(bad)[1].startswith(b"BAD"), bad
