"""RFC 3501 §2.3.2 \\Recent: a message is recent in exactly one session — the first to be told of it
— whether it arrives by delivery, APPEND or COPY; SEARCH NEW/OLD/RECENT and STATUS RECENT agree."""

from __future__ import annotations

from tests.imap.conformance.client import Client, untagged_of
from tests.imap.support import message


def _search(session, criteria: str) -> list[int]:
    line = untagged_of(session.ok(f"SEARCH {criteria}"), b"SEARCH")[0]
    return [int(n) for n in line.split()[2:]]


def test_copy_into_the_selected_mailbox_is_recent_to_this_session(session):
    session.append("INBOX", message("one"))
    lines = session.ok("SELECT INBOX")
    assert b"* 1 RECENT" in lines
    lines = session.ok("COPY 1 INBOX") + session.ok("NOOP")
    assert b"* 2 EXISTS" in lines and b"* 2 RECENT" in lines, lines
    assert _search(session, "RECENT") == [1, 2]


def test_search_new_old_recent(session):
    session.append("INBOX", message("seen"), flags="(\\Seen)")
    session.append("INBOX", message("unseen"))
    session.ok("SELECT INBOX")  # both recent to this session
    assert _search(session, "RECENT") == [1, 2]
    assert _search(session, "NEW") == [2]
    assert _search(session, "OLD") == []
    other = Client(session.hub.port())
    other.ok(f'LOGIN "{session.user}" "{session.hub.password}"')
    other.ok("SELECT INBOX")  # already claimed by the first session: none recent here
    assert _search(other, "RECENT") == []
    assert _search(other, "NEW") == []
    assert _search(other, "OLD") == [1, 2]
    third = Client(session.hub.port())
    third.ok(f'LOGIN "{session.user}" "{session.hub.password}"')
    third.append("INBOX", message("third"))  # from a session that has not selected INBOX
    third.close()
    lines = other.ok("NOOP")  # whoever learns of it first holds it as recent
    assert b"* 3 EXISTS" in lines and b"* 1 RECENT" in lines, lines
    assert _search(other, "RECENT") == [3]
    lines = session.ok("NOOP")
    assert b"* 3 EXISTS" in lines and b"* 3 RECENT" not in lines, lines
    assert _search(session, "RECENT") == [1, 2]
    other.close()


def test_status_recent_agrees(session):
    session.append("INBOX", message("a"))
    session.append("INBOX", message("b"))
    status = untagged_of(session.ok("STATUS INBOX (MESSAGES RECENT)"), b"STATUS")[0]
    assert status.endswith(b"(MESSAGES 2 RECENT 2)"), status
    lines = session.ok("SELECT INBOX")
    assert b"* 2 RECENT" in lines
    status = untagged_of(session.ok("STATUS INBOX (RECENT)"), b"STATUS")[0]
    assert status.endswith(b"(RECENT 2)"), status  # recent to this very session
    other = Client(session.hub.port())
    other.ok(f'LOGIN "{session.user}" "{session.hub.password}"')
    status = untagged_of(other.ok("STATUS INBOX (RECENT)"), b"STATUS")[0]
    assert status.endswith(b"(RECENT 0)"), status  # claimed by the first session
    other.close()
