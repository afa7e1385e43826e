"""RFC 3502 MULTIAPPEND: one APPEND carries several messages, each with its own flags and date; the
server stores all of them or, if any one cannot be stored, none; with UIDPLUS (RFC 4315) the tagged OK
names the new UIDs, in the order the messages were given. The literal budgets hold for the command
as a whole (docs/imap.md)."""

from __future__ import annotations

import re

import pytest

from mssante_hub.imap import responses
from tests.imap.conformance.client import Client, untagged_of
from tests.imap.conftest import start
from tests.support.served import served

KIB = 1024


def _message(n: int) -> bytes:
    return b"From: a@hub.test\r\nSubject: part %d\r\n\r\nbody %d\r\n" % (n, n)


def _status(session, mailbox: str = "INBOX") -> bytes:
    return untagged_of(session.ok(f"STATUS {mailbox} (MESSAGES UIDNEXT)"), b"STATUS")[0]


def test_multiappend_is_announced(session):
    caps = untagged_of(session.ok("CAPABILITY"), b"CAPABILITY")[0].split()
    assert b"MULTIAPPEND" in caps and b"UIDPLUS" in caps


def test_three_messages_in_one_append_each_with_flags_and_date(session):
    before = _status(session)
    _, tagged = session.command('APPEND INBOX (\\Seen) "01-Feb-2024 10:00:00 +0100" {} '
                                '{} (\\Flagged $Work) {}', _message(1), _message(2), _message(3))
    assert tagged.startswith(b"OK"), tagged
    found = re.search(rb"\[APPENDUID (\d+) (\d+):(\d+)\]", tagged)
    assert found, tagged
    first, last = int(found[2]), int(found[3])
    assert last - first == 2
    assert int(re.search(rb"UIDNEXT (\d+)", before)[1]) <= first
    session.ok("SELECT INBOX")
    lines = session.ok("FETCH 1:3 (UID FLAGS INTERNALDATE BODY.PEEK[])")
    fetched = {int(re.search(rb"UID (\d+)", line)[1]): line for line in lines if b" FETCH " in line}
    assert sorted(fetched) == [first, first + 1, first + 2]
    one, two, three = (fetched[first + k] for k in range(3))
    assert b"\\Seen" in one and b'" 1-Feb-2024 09:00:00 +0000"' in one and one.endswith(_message(1) + b")")
    assert b"\\Seen" not in two and b"\\Flagged" not in two and two.endswith(_message(2) + b")")
    assert b"Feb-2024" not in two  # a date belongs to its own message only
    assert b"\\Flagged" in three and b"$Work" in three and three.endswith(_message(3) + b")")


def test_non_synchronizing_multiappend_in_one_write(session):
    data = b"".join(b" {%d+}\r\n%s" % (len(_message(n)), _message(n)) for n in (1, 2))
    session.send(b"P APPEND INBOX" + data + b"\r\n")
    tagged = session._finish(b"P", [])[1]
    found = re.search(rb"\[APPENDUID \d+ (\d+):(\d+)\]", tagged)
    assert found, tagged
    assert _status(session).endswith(b"(MESSAGES 2 UIDNEXT %d)" % (int(found[2]) + 1))


def test_concurrent_multiappends_get_disjoint_ranges_in_order(session):
    """Two sessions' MULTIAPPENDs sent at once: each command's messages take consecutive UIDs, in its order."""
    other = Client(session.hub.port())
    try:
        other.ok(f'LOGIN "{session.user}" "{session.hub.password}"')
        batches = {c: [_message(10 * k + n) for n in range(4)] for k, c in enumerate((session, other))}
        for client, parts in batches.items():
            client.send(b"Q APPEND INBOX" + b"".join(b" {%d+}\r\n%s" % (len(p), p) for p in parts) + b"\r\n")
        ranges = {}
        for client in batches:
            tagged = client._finish(b"Q", [])[1]
            found = re.search(rb"\[APPENDUID \d+ (\d+):(\d+)\]", tagged)
            assert found and int(found[2]) - int(found[1]) == 3, tagged
            ranges[client] = range(int(found[1]), int(found[2]) + 1)
        assert not set(ranges[session]) & set(ranges[other])
        session.ok("SELECT INBOX")
        for client, parts in batches.items():
            for uid, part in zip(ranges[client], parts):
                assert session.ok(f"UID FETCH {uid} BODY.PEEK[]")[0].endswith(part + b")")
    finally:
        other.close()


def test_one_message_refused_stores_none(session):
    too_long = b"Subject: long\r\n\r\n" + b"x" * 200_000 + b"\r\n"  # over limits.max_line_bytes
    before = _status(session)
    _, tagged = session.command("APPEND INBOX {} {} {}", _message(1), too_long, _message(3))
    assert tagged.startswith(b"NO"), tagged
    assert _status(session) == before
    assert b"MESSAGES 0" in before


def test_too_many_messages_in_one_append_are_refused_before_they_are_read(session):
    from mssante_hub.imap.framing import MAX_APPEND_MESSAGES

    one = b" {1+}\r\nx"
    session.send(b"M APPEND INBOX" + one * (MAX_APPEND_MESSAGES + 1) + b"\r\n")
    assert session.response() == b"* " + responses.BYE_COMMAND_TOO_BIG
    probe = Client(session.hub.port())
    try:
        probe.ok(f'LOGIN "{session.user}" "{session.hub.password}"')
        assert b"MESSAGES 0" in _status(probe)
    finally:
        probe.close()


def test_an_empty_message_cancels_the_append(session):
    _, tagged = session.command("APPEND INBOX {} {}", _message(1), b"")
    assert tagged == b"NO " + responses.NO_APPEND_CANCELLED, tagged
    assert b"MESSAGES 0" in _status(session)


def test_refused_destination_stores_none(session):
    _, tagged = session.command("APPEND Nowhere {} {}", _message(1), _message(2))
    assert tagged.startswith(b"NO [TRYCREATE]"), tagged
    assert b"MESSAGES 0" in _status(session)


# --- the upload budgets count the whole command -------------------------------------------------

SESSION_BUDGET = 256 * KIB


@pytest.fixture(scope="module")
def small_budget_hub(tmp_path_factory):
    data_dir, users = start(tmp_path_factory, {"imap.max_session_append_bytes": SESSION_BUDGET})
    with served(data_dir, ["imaps"]) as running:
        yield running, users


def _filler(size: int) -> bytes:
    head = b"From: a@hub.test\r\nSubject: big\r\n\r\n"
    line = b"y" * 76 + b"\r\n"
    return head + line * ((size - len(head)) // len(line))


def test_session_budget_applies_to_the_whole_multiappend(small_budget_hub):
    running, users = small_budget_hub
    from tests.conftest import TEST_PASSWORD

    client = Client(running.port("imaps"))
    try:
        client.ok(f'LOGIN "{users[2]}" "{TEST_PASSWORD}"')
        part = _filler(100 * KIB)  # each fits the budget; three together do not
        _, tagged = client.command("APPEND INBOX {} {} {}", part, part, part)
        # The third literal is refused when announced, before a byte of it is sent: no "+".
        assert tagged == b"NO " + responses.NO_SESSION_UPLOADS, tagged
        assert b"MESSAGES 0" in _status(client)
        # What the refused command held was given back: two of them now fit.
        _, tagged = client.command("APPEND INBOX {} {}", part, part)
        assert tagged.startswith(b"OK [APPENDUID"), tagged
        assert b"MESSAGES 2" in _status(client)
    finally:
        client.close()
