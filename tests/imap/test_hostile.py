"""Hostile input: every refusal is clear, the server keeps serving, memory stays bounded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mssante_hub.imap import responses
from tests.imap.support import Raw, login_raw

RSS_GROWTH_LIMIT_KIB = 64 * 1024  # the hostile battery may not grow the server by more than this


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
def session(imap_hub):
    raw = Raw(imap_hub.port("imaps"))
    login_raw(raw, imap_hub.alice, imap_hub.password)
    yield raw
    raw.close()


def still_serving(imap_hub) -> bool:
    raw = Raw(imap_hub.port("imaps"))
    login_raw(raw, imap_hub.alice, imap_hub.password)
    raw.send(b"z NOOP\r\n")
    ok = raw.until_tagged(b"z")[-1].startswith(b"z OK")
    raw.close()
    return ok


def test_gigabyte_literal_is_refused_before_a_byte_of_it(session):
    session.send(b"a APPEND INBOX {1073741824}\r\n")
    assert session.line() == b"a NO " + responses.NO_LITERAL_TOO_BIG
    session.send(b"b NOOP\r\n")
    assert session.until_tagged(b"b")[-1].startswith(b"b OK")


def test_non_synchronizing_gigabyte_literal_closes_the_connection(imap_hub, session):
    session.send(b"a APPEND INBOX {1073741824+}\r\n" + b"x" * 65536)
    assert session.line() == b"* " + responses.BYE_COMMAND_TOO_BIG
    assert session.closed()
    assert still_serving(imap_hub)


def test_big_string_literal_outside_append_is_refused(session):
    session.send(b"a SELECT {10000000}\r\n")
    assert session.line() == b"a NO " + responses.NO_LITERAL_TOO_BIG
    session.send(b"b NOOP\r\n")
    assert session.until_tagged(b"b")[-1].startswith(b"b OK")


def test_unterminated_literal_then_hang_up_leaves_the_server_serving(imap_hub, session):
    session.send(b"a APPEND INBOX {5000}\r\n")
    assert session.line().startswith(b"+")
    session.send(b"From: half a message\r\n")
    session.close()
    assert still_serving(imap_hub)


def test_deeply_nested_parentheses_are_refused(session):
    session.send(b"s SELECT INBOX\r\n")
    session.until_tagged(b"s")
    session.send(b"a SEARCH " + b"(" * 5000 + b"ALL" + b")" * 5000 + b"\r\n")
    reply = session.until_tagged(b"a")[-1]
    assert reply.startswith(b"a BAD " + responses.BAD_SYNTAX) and b"nested" in reply
    session.send(b"b FETCH 1:* (" + b"(" * 100 + b"FLAGS" + b")" * 100 + b")\r\n")
    assert session.until_tagged(b"b")[-1].startswith(b"b BAD")
    session.send(b"c NOOP\r\n")
    assert session.until_tagged(b"c")[-1].startswith(b"c OK")


def test_huge_sequence_sets_are_refused(imap_hub, session):
    session.send(b"s SELECT INBOX\r\n")
    session.until_tagged(b"s")
    many = b",".join(b"%d" % n for n in range(1, 20002, 2))  # 10,001 ranges, under the line cap
    session.send(b"a FETCH " + many + b" (FLAGS)\r\n")
    reply = session.until_tagged(b"a")[-1]
    assert reply.startswith(b"a BAD") and b"too many ranges" in reply
    session.send(b"b NOOP\r\n")
    assert session.until_tagged(b"b")[-1].startswith(b"b OK")
    hundred_thousand = b",".join(b"%d:%d" % (n, n + 1) for n in range(1, 400000, 4))  # 100,000 ranges
    session.send(b"c UID FETCH " + hundred_thousand + b" (FLAGS)\r\n")
    assert session.line() == b"* " + responses.BYE_LINE_TOO_LONG
    assert session.closed()
    assert still_serving(imap_hub)


@pytest.mark.parametrize("name", [b'"&Jjo!"', b'"&AGE-"', b'"a&b"', b'"&-&"', b'"\xff\xfe"', b'"&AMk"'])
def test_invalid_modified_utf7_names_are_refused(session, name):
    session.send(b"a CREATE " + name + b"\r\n")
    assert session.until_tagged(b"a")[-1] == b"a NO " + responses.NO_MAILBOX_NAME
    session.send(b"b SELECT " + name + b"\r\n")
    assert session.until_tagged(b"b")[-1] == b"b NO " + responses.NO_MAILBOX_NAME


def test_endless_line_closes_the_connection(imap_hub, session):
    session.send(b"a NOOP " + b"x" * (200 * 1024))
    assert session.line() == b"* " + responses.BYE_LINE_TOO_LONG
    assert session.closed()


def test_commands_out_of_state_and_garbage(imap_hub):
    raw = Raw(imap_hub.port("imaps"))
    for line, expected in [(b"a SELECT INBOX", b"a BAD " + responses.BAD_WRONG_STATE),
                           (b"b FROBNICATE", b"b BAD " + responses.BAD_UNKNOWN_COMMAND),
                           (b"c LOGIN \"unterminated", b"c BAD"),
                           (b"\x00\x01\x02", b"* BAD"),
                           (b"d UID NOOP", b"d BAD")]:
        raw.send(line + b"\r\n")
        reply = raw.line()
        assert reply.startswith(expected), (line, reply)
    raw.send(b"e CAPABILITY\r\n")
    assert raw.until_tagged(b"e")[-1].startswith(b"e OK")
    raw.close()


def test_memory_stays_bounded_under_the_hostile_battery(imap_hub):
    before = rss_kib(imap_hub.pid)
    for _ in range(20):
        raw = Raw(imap_hub.port("imaps"))
        login_raw(raw, imap_hub.alice, imap_hub.password)
        raw.send(b"a APPEND INBOX {1073741824}\r\n")
        raw.line()
        raw.send(b"s SELECT INBOX\r\n")
        raw.until_tagged(b"s")
        raw.send(b"b SEARCH " + b"(" * 30000 + b"\r\n")
        raw.until_tagged(b"b")
        raw.send(b"c APPEND INBOX {1073741824+}\r\n" + b"y" * (1024 * 1024))
        raw.closed()
        raw.close()
    after = rss_kib(imap_hub.pid)
    print(f"server RSS before {before} KiB, after {after} KiB")
    assert after - before < RSS_GROWTH_LIMIT_KIB


def open_regular_files(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("/") and not target.startswith(("/dev/", "/proc/")):
            found.add(target)
    return found


def test_big_append_literal_stays_in_memory_never_in_a_temporary_file(imap_hub, session):
    """Twisted's own reader spills literals above 10 MiB to an unencrypted temporary file."""
    line = b"Ligne de compte rendu, texte sans importance pour ce test.\r\n"
    body = line * (11 * 1024 * 1024 // len(line))
    raw = b"From: bob@hub.test\r\nTo: alice@hub.test\r\nSubject: big\r\n\r\n" + body
    session.send(b"a APPEND INBOX {%d}\r\n" % len(raw))
    assert session.line().startswith(b"+")
    before = open_regular_files(imap_hub.pid)
    session.send(raw[: len(raw) - 1000])
    during = open_regular_files(imap_hub.pid)
    assert not any("tmp" in path or "(deleted)" in path for path in during - before), during - before
    session.send(raw[len(raw) - 1000:] + b"\r\n")
    assert session.until_tagged(b"a")[-1].startswith(b"a OK [APPENDUID")
