"""Hardening of the IMAP door (issue 11): literals before and after login, budgets, output backpressure.

Each test reproduces one thing an outside review broke on a served hub; it failed before the fix.
"""

from __future__ import annotations

import socket
import time

import pytest

from mssante_hub.imap import responses
from tests.imap.conftest import ImapHub, start
from tests.imap.support import Raw, append_big, login_raw
from tests.support.served import served

MIB = 1024 * 1024
SESSION_BUDGET = 4 * MIB
GLOBAL_BUDGET = 5 * MIB
PER_ADDRESS = 8
GUARD_S = 10  # a guard against a server that waits for bytes it should not read; not a timing assertion


@pytest.fixture(scope="module")
def hard_hub(tmp_path_factory):
    data_dir, users = start(tmp_path_factory, {
        "imap.max_session_append_bytes": SESSION_BUDGET,
        "imap.max_buffered_append_bytes": GLOBAL_BUDGET,
        "imap.max_connections_per_address": PER_ADDRESS,
        "auth.failed_login_delay_s": 0.01,  # growing delays, kept short for the test
        "auth.max_failed_login_delay_s": 0.05,
    })
    with served(data_dir, ["imap", "imaps"]) as running:
        yield ImapHub(running, data_dir, users)


def test_no_big_literal_is_invited_before_login(hard_hub):
    raw = Raw(hard_hub.port("imap"), tls=False)
    raw.send(b"x APPEND INBOX {20971520}\r\n")
    assert raw.line() == b"x NO " + responses.NO_LITERAL_TOO_BIG  # not "+ Ready for literal"
    raw.send(b"y LOGIN {9000}\r\n")
    assert raw.line() == b"y NO " + responses.NO_LITERAL_TOO_BIG
    raw.send(b"z NOOP\r\n")
    assert raw.until_tagged(b"z")[-1].startswith(b"z OK")
    raw.close()


def test_no_big_literal_is_read_before_login(hard_hub):
    raw = Raw(hard_hub.port("imap"), tls=False)
    raw.sock.settimeout(GUARD_S)
    raw.send(b"x APPEND INBOX {20971520+}\r\n" + b"a" * 65536)
    assert raw.line() == b"* " + responses.BYE_COMMAND_TOO_BIG  # at once, not after 20 MiB
    assert raw.closed()
    raw.close()


def test_a_small_literal_still_works_before_login(hard_hub):
    raw = Raw(hard_hub.port("imaps"))
    user, password = hard_hub.alice.encode(), hard_hub.password.encode()
    raw.send(b"l LOGIN {%d}\r\n" % len(user))
    assert raw.line().startswith(b"+")
    raw.send(user + b" {%d+}\r\n" % len(password) + password + b"\r\n")
    assert raw.until_tagged(b"l")[-1].startswith(b"l OK")
    raw.close()


def _tagged(raw: Raw, tags: set[bytes]) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    while len(found) < len(tags):
        line = raw.line()
        tag = line.split(b" ", 1)[0]
        if tag in tags:
            found[tag] = line
    return found


def _announce(raw: Raw, tag: bytes, size: int) -> bytes:
    raw.send(tag + b" APPEND INBOX {%d}\r\n" % size)
    return raw.line()


def test_append_literals_count_against_a_global_budget(hard_hub):
    first, second = Raw(hard_hub.port("imaps")), Raw(hard_hub.port("imaps"))
    login_raw(first, hard_hub.alice, hard_hub.password)
    login_raw(second, hard_hub.bob, hard_hub.password)
    size = 3 * MIB
    assert _announce(first, b"a", size).startswith(b"+")
    first.send(b"x" * (size - 10))  # held, unfinished: its 3 MiB stay reserved
    reply = _announce(second, b"b", size)
    assert reply == b"b NO " + responses.NO_BUSY_UPLOADS
    first.close()  # a closed connection gives its reservation back
    third = Raw(hard_hub.port("imaps"))
    login_raw(third, hard_hub.bob, hard_hub.password)
    for _ in range(50):  # the close is seen by the server asynchronously
        reply = _announce(third, b"c", size)
        if reply.startswith(b"+"):
            break
    assert reply.startswith(b"+")
    second.close()
    third.close()


def test_append_literals_count_against_a_session_budget(hard_hub):
    raw = Raw(hard_hub.port("imaps"))
    login_raw(raw, hard_hub.alice, hard_hub.password)
    size = 3 * MIB
    message = b"From: a@hub.test\r\nSubject: s\r\n\r\n" + (b"x" * 76 + b"\r\n") * (size // 78)
    raw.send(b"a APPEND INBOX {%d+}\r\n" % len(message) + message[:-10])
    # The end of the first APPEND and the second's announcement arrive together: the first is
    # queued (its literal still held) when the second asks for 3 MiB more.
    raw.send(message[-10:] + b"\r\nb APPEND INBOX {%d}\r\n" % size)
    replies = _tagged(raw, {b"a", b"b"})
    assert replies[b"b"] == b"b NO " + responses.NO_SESSION_UPLOADS
    assert replies[b"a"].startswith(b"a OK")
    raw.close()


# --- output backpressure ------------------------------------------------------------------

FOLDER_MESSAGES = 16
MESSAGE_BYTES = 2 * MIB
PIPELINED_FETCHES = 8


def _status_kib(pid: int, field: str) -> int:
    for line in open(f"/proc/{pid}/status").read().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def _settled_rss_kib(pid: int) -> int:
    """VmRSS once it stopped moving (the server has done what it will do); a wait, not a timing assertion."""
    last, steady = -1, 0
    for _ in range(240):
        now = _status_kib(pid, "VmRSS")
        steady = steady + 1 if abs(now - last) < 2048 else 0
        if steady >= 6:
            return now
        last = now
        time.sleep(0.25)
    return now


@pytest.fixture
def own_hub(tmp_path_factory):
    data_dir, users = start(tmp_path_factory)
    with served(data_dir, ["imaps"]) as running:
        yield ImapHub(running, data_dir, users)


def test_unread_output_does_not_grow_the_server(own_hub):
    raw = Raw(own_hub.port("imaps"))
    login_raw(raw, own_hub.alice, own_hub.password)
    append_big(raw, FOLDER_MESSAGES, MESSAGE_BYTES, "big")
    raw.send(b"s SELECT INBOX\r\n")
    raw.until_tagged(b"s")
    pid = own_hub.pid
    before = _settled_rss_kib(pid)
    folder_kib = FOLDER_MESSAGES * MESSAGE_BYTES // 1024
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.send(b"".join(b"f%d FETCH 1:* (BODY.PEEK[])\r\n" % n for n in range(PIPELINED_FETCHES)))
    held = _settled_rss_kib(pid) - before
    # One FETCH's worth may be in flight (its rows, its answer, the transport's buffer); the
    # other pipelined FETCHes wait until the client reads.
    assert held < 3 * folder_kib, (held, folder_kib)  # before: 8.2 folders' worth
    raw.close()
    left = _settled_rss_kib(pid) - before
    # What the closed connection held is given back. Half a folder, not a quarter: under the two-process
    # CI run the allocator kept 8.4 MiB of a 32 MiB folder once; before the fix, several folders stayed.
    assert left < folder_kib // 2, (left, folder_kib)


def test_one_unread_fetch_of_a_big_folder_is_produced_in_batches(own_hub):
    """One FETCH 1:* (BODY.PEEK[]) to a client that reads nothing: the answer is written batch by
    batch while the client reads, so the server holds a few batches, not the whole folder."""
    raw = Raw(own_hub.port("imaps"))
    login_raw(raw, own_hub.alice, own_hub.password)
    raw.send(b"s SELECT INBOX\r\n")
    existing = [x for x in raw.until_tagged(b"s") if x.endswith(b" EXISTS")]
    have = int(existing[0].split()[1]) if existing else 0
    wanted = 48
    append_big(raw, wanted, MESSAGE_BYTES, "batch", first=have)
    raw.send(b"s2 SELECT INBOX\r\n")
    raw.until_tagged(b"s2")
    pid = own_hub.pid
    before = _settled_rss_kib(pid)
    folder_kib = wanted * MESSAGE_BYTES // 1024
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.send(b"f FETCH 1:* (BODY.PEEK[])\r\n")
    held = _settled_rss_kib(pid) - before
    assert held < folder_kib // 2, (held, folder_kib)  # before: the whole answer built at once
    raw.close()


# --- deep MIME ------------------------------------------------------------------------------

def test_deep_mime_append_gets_no_not_a_server_bug(hard_hub):
    from tests.smtp.test_hardening import nested_multiparts

    raw = Raw(hard_hub.port("imaps"))
    login_raw(raw, hard_hub.alice, hard_hub.password)
    message = nested_multiparts(hard_hub.bob, hard_hub.alice, 1000)
    raw.send(b"a APPEND INBOX {%d+}\r\n" % len(message) + message + b"\r\n")
    reply = raw.until_tagged(b"a")[-1]
    assert reply.startswith(b"a NO ") and b"SERVERBUG" not in reply, reply
    raw.close()


# --- login throttling ---------------------------------------------------------------------

def _from(port: int, source: str) -> Raw:
    """A client whose connection leaves from another loopback address (127.0.0.0/8 is all local)."""
    raw = Raw.__new__(Raw)
    sock = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
    from tests.imap.support import client_tls
    raw.sock, raw.buffer = client_tls().wrap_socket(sock), b""
    raw.greeting = raw.line()
    return raw


def _login(raw: Raw, tag: bytes, user: str, password: str) -> bytes:
    raw.send(b'%s LOGIN "%s" "%s"\r\n' % (tag, user.encode(), password.encode()))
    return raw.until_tagged(tag)[-1]


def test_bad_logins_on_one_connection_are_throttled_and_audited(hard_hub):
    from sqlalchemy import select

    from mssante_hub.hub import Hub
    from storage.models import AuditEvent

    user = hard_hub.fresh_user()
    raw = Raw(hard_hub.port("imaps"))
    replies = [_login(raw, b"t%d" % n, user, "wrong password") for n in range(5)]
    assert all(r.endswith(responses.NO_AUTH_FAILED) for r in replies), replies
    assert _login(raw, b"r", user, hard_hub.password) == b"r NO " + responses.NO_THROTTLED
    raw.close()
    hub = Hub.open(hard_hub.data_dir)
    try:
        actions = hub.read_sync(lambda conn: [r.action for r in conn.execute(
            select(AuditEvent.action).where(AuditEvent.actor == user))])
    finally:
        hub.close()
    assert actions.count("imap.login_failed") == 5 and "imap.login_throttled" in actions


def test_guesses_spread_over_addresses_meet_delays_then_a_refusal(hard_hub):
    user = hard_hub.fresh_user()
    port = hard_hub.port("imaps")
    for n in range(5):  # 5 addresses, 3 guesses each: no pair reaches its own limit (5)
        raw = _from(port, f"127.0.0.{10 + n}")
        for k in range(3):
            assert _login(raw, b"g%d" % k, user, "guess").endswith(responses.NO_AUTH_FAILED)
        raw.close()
    fresh = _from(port, "127.0.0.20")  # the holder, from a new address, after 15 failures (the lock)
    assert _login(fresh, b"h", user, hard_hub.password) == b"h NO " + responses.NO_THROTTLED
    fresh.close()


# --- connections per address --------------------------------------------------------------

def test_one_address_cannot_take_every_connection(hard_hub):
    held = [Raw(hard_hub.port("imap"), tls=False) for _ in range(PER_ADDRESS)]
    extra = socket.create_connection(("127.0.0.1", hard_hub.port("imaps")), timeout=GUARD_S)
    from tests.imap.support import client_tls
    extra = client_tls().wrap_socket(extra)
    assert extra.recv(4096).startswith(b"* " + responses.BYE_TOO_MANY)  # imap and imaps count together
    extra.close()
    other = _from(hard_hub.port("imaps"), "127.0.0.50")  # another address is still served
    assert other.greeting.startswith(b"* OK")
    other.close()
    for raw in held:
        raw.close()


# --- revoked rights -----------------------------------------------------------------------

def test_revoked_rights_stop_reads_of_a_selected_shared_folder(hard_hub):
    owner = Raw(hard_hub.port("imaps"))
    login_raw(owner, hard_hub.org, hard_hub.password)
    delegate_user = hard_hub.fresh_user()
    owner.send(b'g SETACL INBOX "%s" lr\r\n' % delegate_user.encode())
    assert owner.until_tagged(b"g")[-1].startswith(b"g OK")
    secret = b"From: bob@hub.test\r\nSubject: confidentiel\r\n\r\nsecret medical content\r\n"
    owner.send(b"a APPEND INBOX {%d+}\r\n" % len(secret) + secret + b"\r\n")
    assert owner.until_tagged(b"a")[-1].startswith(b"a OK")

    delegate = Raw(hard_hub.port("imaps"))
    login_raw(delegate, delegate_user, hard_hub.password)
    delegate.send(b'e EXAMINE "Shared/%s/INBOX"\r\n' % hard_hub.org.encode())
    assert delegate.until_tagged(b"e")[-1].startswith(b"e OK")
    delegate.send(b"f1 FETCH 1:* (BODY.PEEK[TEXT])\r\n")
    assert any(b"secret medical content" in line for line in delegate.until_tagged(b"f1"))

    owner.send(b'd DELETEACL INBOX "%s"\r\n' % delegate_user.encode())
    assert owner.until_tagged(b"d")[-1].startswith(b"d OK")
    delegate.send(b"f2 FETCH 1:* (BODY.PEEK[TEXT])\r\n")
    lines = delegate.until_tagged(b"f2")
    assert not any(b"secret" in line for line in lines), lines
    assert lines[-1].startswith(b"f2 NO"), lines
    delegate.send(b"s SEARCH BODY secret\r\n")
    assert not delegate.until_tagged(b"s")[-1].startswith(b"s OK")  # deselected: nothing more to search
    owner.close()
    delegate.close()
