"""RFC 6851 MOVE into the selected mailbox itself: allowed; COPYUID, the old messages expunged, the
new ones announced."""

from __future__ import annotations

from tests.imap.conformance.client import untagged_of
from tests.imap.support import message


def test_move_into_the_selected_mailbox(session):
    session.append("INBOX", message("a"))
    session.append("INBOX", message("b"))
    session.ok("SELECT INBOX")
    lines = session.ok("MOVE 1 INBOX")
    copyuid = [line for line in lines if b"[COPYUID" in line]
    assert copyuid and copyuid[0].split(b"]")[0].endswith(b" 1 3"), lines
    assert b"* 1 EXPUNGE" in lines
    lines = session.ok("NOOP") + lines
    assert any(line.endswith(b" EXISTS") for line in lines)
    fetched = session.ok("FETCH 1:* UID")
    assert [line.split(b"(")[1] for line in fetched] == [b"UID 2)", b"UID 3)"]


def test_uid_move_into_the_selected_mailbox(session):
    session.append("INBOX", message("a"))
    session.ok("SELECT INBOX")
    _, tagged = session.command("UID MOVE 1 INBOX")
    assert tagged.startswith(b"OK"), tagged
    fetched = session.ok("UID FETCH 1:* FLAGS")
    assert len(untagged_of(fetched, b"FETCH")) == 1 and b"UID 2" in fetched[0]
