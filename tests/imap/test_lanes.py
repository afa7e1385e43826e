"""IMAP lanes and busy refusals (issue 11), each on a served hub with real imaplib clients.

- The bulk lane (imap/fetch.bulk_lane): FETCHes of several messages with bodies share half the read
  pool, so a one-message FETCH of another client does not queue behind their batches.
- The busy refusal of uploads (imap/budget.py): APPEND literals are reserved against one pool of the
  process (`imap.max_buffered_append_bytes`, both listeners); one that does not fit is refused when it
  is announced, at once (nothing in the code waits for room): `NO [LIMIT]`, or `BYE [LIMIT]` for a
  non-synchronizing literal. The session goes on, and once the pool has room the same APPEND is taken.
- The busy refusal of logins (accounts/throttle.LoginGuard): past `auth.max_waiting_checks` attempts
  waiting for a slot of one login, the next is refused without a password check, but answered only after
  `throttle.REFUSAL_WAIT_S` (a guesser's reconnect loop slows down); meanwhile the hub serves the others.

Orders and states are asserted, never durations.
"""

from __future__ import annotations

import imaplib
import itertools
import select
import threading
import time

import pytest

from mssante_hub.imap import responses
from tests.imap.conftest import ImapHub, start
from tests.imap.support import HOST, TIMEOUT_S, Raw, append_big, client_tls, login_raw
from tests.support.served import served

MIB = 1024 * 1024
DB_THREADS = 2  # storage.db_threads: the bulk lane is one of them, the other kept for small reads
BULK_CLIENTS = 6
FOLDER_MESSAGES = 32  # two read-pool trips of 16 (imap/fetch.BODY_BATCH) per bulk FETCH
MESSAGE_BYTES = 2 * MIB
PARTIAL = "<0.64>"  # each message decrypted whole in the pool, its answer small: the pool is what is shared

POLL_S = 0.005  # how often the test looks at the bulk clients' progress; not a timing assertion
_order = itertools.count()  # one clock of events for every client thread: next() is atomic under the GIL


class Recording(imaplib.IMAP4_SSL):
    """imaplib over TLS that notes when each FETCH response with a literal is read, and keeps none of them."""

    def __init__(self, port: int) -> None:
        self.fetched: list[int] = []  # the order (in _order) of each FETCH response read
        super().__init__(HOST, port, ssl_context=client_tls(), timeout=TIMEOUT_S)

    def _append_untagged(self, typ, dat):
        if typ == "FETCH":
            if isinstance(dat, tuple):
                self.fetched.append(next(_order))
            return  # bodies are not kept: six clients fetching a folder each would hold it six times
        super()._append_untagged(typ, dat)


@pytest.fixture(scope="module")
def lane_hub(tmp_path_factory):
    data_dir, users = start(tmp_path_factory, {"storage.db_threads": DB_THREADS})
    with served(data_dir, ["imaps"]) as running:
        hub = ImapHub(running, data_dir, users)
        raw = Raw(hub.port("imaps"))
        login_raw(raw, hub.alice, hub.password)
        append_big(raw, FOLDER_MESSAGES, MESSAGE_BYTES, "bulk")
        raw.close()
        yield hub


def test_a_one_message_fetch_is_not_queued_behind_bulk_fetches(lane_hub):
    """Six clients FETCH 1:* of a 32-message folder (two read-pool trips each); once each has its first
    batch, bob FETCHes his one message. With the lane (one read thread of two for bulk trips) his read
    takes the free thread: it is answered while every bulk FETCH still runs, and no bulk batch is answered
    while he waits (the one bulk trip running started as the last first batch was answered: it cannot end
    within his read). Without the lane his read queued behind the bulk trips already in the pool: 64-80
    bulk answers and 3-5 whole bulk FETCHes came before his.

    The bulk FETCHes ask for the first bytes of each body (<0.64>): each message is still read and
    decrypted whole in the read pool (fetch._answer), but its answer is small, so what the clients share
    is the pool, not their sockets' throughput, and the order observed is the pool's."""
    small = imaplib.IMAP4_SSL(HOST, lane_hub.port("imaps"), ssl_context=client_tls(), timeout=TIMEOUT_S)
    small.login(lane_hub.bob, lane_hub.password)
    small.append("INBOX", None, None, b"From: alice@hub.test\r\nSubject: un seul\r\n\r\nBonjour\r\n")
    small.select("INBOX")
    bulk = [Recording(lane_hub.port("imaps")) for _ in range(BULK_CLIENTS)]
    for client in bulk:
        client.login(lane_hub.alice, lane_hub.password)
        client.select("INBOX", readonly=True)
    finished: list[int | None] = [None] * BULK_CLIENTS
    answers: list[tuple | None] = [None] * BULK_CLIENTS
    released = threading.Barrier(BULK_CLIENTS + 1)

    def fetch_all(n: int) -> None:
        released.wait()
        answers[n] = bulk[n].fetch("1:*", f"(BODY.PEEK[]{PARTIAL})")
        finished[n] = next(_order)

    threads = [threading.Thread(target=fetch_all, args=(n,)) for n in range(BULK_CLIENTS)]
    for thread in threads:
        thread.start()
    released.wait()
    while not all(client.fetched for client in bulk) and all(t.is_alive() for t in threads):
        time.sleep(POLL_S)  # until every bulk FETCH has had its first batch
    sent = next(_order)
    typ, data = small.fetch("1", "(BODY.PEEK[])")
    answered = next(_order)
    for thread in threads:
        thread.join(TIMEOUT_S)
    assert typ == "OK" and b"Bonjour" in data[0][1]
    assert all(a is not None and a[0] == "OK" for a in answers), answers
    assert all(len(client.fetched) == FOLDER_MESSAGES for client in bulk)  # each bulk FETCH was answered in full
    before = [t for client in bulk for t in client.fetched if sent < t < answered]
    assert before == [], f"{len(before)} bulk answers came while the one-message FETCH waited"
    assert all(sent < answered < done for done in finished), "a bulk FETCH ended before the one-message FETCH"
    for client in bulk:
        client.logout()
    small.logout()


# --- busy refusals ----------------------------------------------------------------------------

POOL = 4 * MIB  # imap.max_buffered_append_bytes
HELD = 3 * MIB  # what one unfinished APPEND holds of it
REFUSED = 2 * MIB  # an APPEND that does not fit beside it
LOGIN_DELAY_S = 3.0  # auth.failed_login_delay_s: how long the first attempt holds the login's one slot
BARRIER_NOOPS = 2  # round trips on another connection: the hub has read and begun what was sent before


@pytest.fixture(scope="module")
def busy_hub(tmp_path_factory):
    data_dir, users = start(tmp_path_factory, {
        "imap.max_buffered_append_bytes": POOL,
        "auth.max_checks_in_flight_per_login": 1,
        "auth.max_waiting_checks": 1,
        "auth.failed_login_delay_s": LOGIN_DELAY_S,
        "auth.max_failed_login_delay_s": LOGIN_DELAY_S,
    })
    with served(data_dir, ["imap", "imaps"]) as running:
        yield ImapHub(running, data_dir, users)


def _message(subject: str, size: int) -> bytes:
    head = b"From: alice@hub.test\r\nSubject: %s\r\n\r\n" % subject.encode()
    line = b"x" * 76 + b"\r\n"
    return head + line * ((size - len(head)) // len(line))


def _starttls(port: int, user: str, password: str) -> imaplib.IMAP4:
    client = imaplib.IMAP4(HOST, port, timeout=TIMEOUT_S)
    client.starttls(ssl_context=client_tls())
    client.login(user, password)
    return client


def _subjects(client: imaplib.IMAP4) -> list[bytes]:
    client.select("INBOX")
    typ, data = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    return [part[1].strip() for part in data if isinstance(part, tuple)] if typ == "OK" else []


def test_an_upload_past_the_pool_is_refused_at_once_and_taken_once_there_is_room(busy_hub):
    held = _message("tenu", HELD)
    holder = Raw(busy_hub.port("imaps"))
    login_raw(holder, busy_hub.alice, busy_hub.password)
    holder.send(b"h APPEND INBOX {%d}\r\n" % len(held))
    assert holder.line().startswith(b"+")
    holder.send(held[:-10])  # unfinished: its 3 MiB stay reserved

    # Another session, on the other listener (STARTTLS): the pool is the process's.
    bob = _starttls(busy_hub.port("imap"), busy_hub.bob, busy_hub.password)
    refused = _message("refuse puis pris", REFUSED)
    typ, data = bob.append("INBOX", None, None, refused)
    # Refused on its announcement, while the other upload is still held: no continuation was sent
    # (imaplib would have sent the literal), so no byte of it was read.
    assert (typ, data) == ("NO", [responses.NO_BUSY_UPLOADS])
    assert bob.noop()[0] == "OK"  # the session goes on
    assert bob.append("INBOX", None, None, _message("petit", 4096))[0] == "OK"  # what fits is taken

    # A non-synchronizing literal over the pool is on its way: the connection is closed.
    pushed = Raw(busy_hub.port("imaps"))
    login_raw(pushed, busy_hub.bob, busy_hub.password)
    pushed.send(b"n APPEND INBOX {%d+}\r\n" % REFUSED + refused[:65536])
    assert pushed.line() == b"* " + responses.BYE_BUSY_UPLOADS
    assert pushed.closed()
    pushed.close()

    holder.send(held[-10:] + b"\r\n")  # the held upload ends: stored, its reservation given back
    assert holder.until_tagged(b"h")[-1].startswith(b"h OK [APPENDUID ")
    typ, _ = bob.append("INBOX", None, None, refused)  # the same upload, now that there is room
    assert typ == "OK"
    assert _subjects(bob) == [b"Subject: petit", b"Subject: refuse puis pris"]
    bob.logout()
    holder.send(b"z NOOP\r\n")
    assert holder.until_tagged(b"z")[-1].startswith(b"z OK")
    holder.close()


def _barrier(other: imaplib.IMAP4) -> None:
    """Round trips on another connection, sent after what precedes: the hub has read that and begun it
    (a refusal decided without a thread or a wait is written before these are answered)."""
    for _ in range(BARRIER_NOOPS):
        assert other.noop()[0] == "OK"


def _answered(raw: Raw) -> bool:
    """Whether anything arrived for this client yet, without waiting for it."""
    if raw.buffer or raw.sock.pending():
        return True
    readable, _, _ = select.select([raw.sock], [], [], 0)
    return bool(readable)


def test_a_busy_login_refusal_is_answered_after_its_wait_while_the_hub_serves_others(busy_hub):
    victim, port = busy_hub.fresh_user(), busy_hub.port("imaps")
    other = imaplib.IMAP4_SSL(HOST, port, ssl_context=client_tls(), timeout=TIMEOUT_S)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imaplib.IMAP4_SSL(HOST, port, ssl_context=client_tls(), timeout=TIMEOUT_S).login(victim, "mauvais")
    # From now on each check of the victim's login first waits LOGIN_DELAY_S, inside its one slot.
    login = b'L LOGIN "%s" "%s"\r\n' % (victim.encode(), busy_hub.password.encode())
    checking, waiting = Raw(port), Raw(port)
    checking.send(login)  # takes the login's slot
    _barrier(other)
    waiting.send(login)  # waits for it: the queue (auth.max_waiting_checks, 1) is full
    _barrier(other)
    first, second = Raw(port), Raw(port)
    first.send(login)  # refused as busy; the first refusal of this address and login is traced
    _barrier(other)
    second.send(login)  # refused as busy, not traced: nothing but the wait before its answer
    _barrier(other)
    # Its refusal was decided when it was read, yet it is not answered: it waits, while the hub
    # answered the other connection's commands sent after it. Without the wait it was answered by now.
    assert not _answered(second)
    assert other.noop()[0] == "OK"
    for refused in (first, second):
        assert refused.line() == b"L NO " + responses.NO_LOGINS_BUSY
        refused.close()
    # The hub goes on: the attempt in the slot and the one waiting are both checked and logged in.
    for raw in (checking, waiting):
        assert raw.until_tagged(b"L")[-1] == b"L OK " + responses.OK_LOGIN
        raw.send(b"s SELECT INBOX\r\n")
        assert raw.until_tagged(b"s")[-1].startswith(b"s OK")
        raw.close()
    other.logout()
