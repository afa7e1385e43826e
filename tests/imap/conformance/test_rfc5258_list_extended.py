"""RFC 5258 LIST-EXTENDED and RFC 3501 §6.3.9 LSUB: unknown options are BAD; a subscribed mailbox
that does not exist is listed \\NonExistent; LSUB with % reports the unsubscribed parent of a
subscribed child as \\Noselect."""

from __future__ import annotations

from tests.imap.conformance.client import untagged_of


def test_unknown_selection_option_is_bad(session):
    _, tagged = session.command('LIST (XUNKNOWN) "" *')
    assert tagged.startswith(b"BAD"), tagged
    _, tagged = session.command('LIST (RECURSIVEMATCH) "" *')  # needs another selection option
    assert tagged.startswith(b"BAD"), tagged


def test_unknown_return_option_is_bad(session):
    _, tagged = session.command('LIST "" * RETURN (XUNKNOWN)')
    assert tagged.startswith(b"BAD"), tagged


def test_subscribed_deleted_mailbox_is_nonexistent(session):
    session.ok("CREATE gone")
    session.ok("SUBSCRIBE gone")
    session.ok("DELETE gone")
    lines = untagged_of(session.ok('LIST (SUBSCRIBED) "" gone'), b"LIST")
    assert len(lines) == 1 and b"\\NonExistent" in lines[0] and b"\\Subscribed" in lines[0], lines
    lines = untagged_of(session.ok('LSUB "" gone'), b"LSUB")
    assert len(lines) == 1, lines
    assert not untagged_of(session.ok('LIST "" gone'), b"LIST")


def test_lsub_percent_reports_unsubscribed_parent_noselect(session):
    session.ok("CREATE a/b/c")
    session.ok("UNSUBSCRIBE a")  # CREATE subscribes what it creates (parents too)
    session.ok("UNSUBSCRIBE a/b")
    lines = untagged_of(session.ok('LSUB "" a/%'), b"LSUB")
    assert lines == [b'* LSUB (\\Noselect) "/" "a/b"'], lines
    lines = untagged_of(session.ok('LSUB "" a/*'), b"LSUB")
    assert len(lines) == 1 and lines[0].endswith(b'"/" "a/b/c"') and b"\\Noselect" not in lines[0], lines
