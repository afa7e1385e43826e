"""IMAP lanes and busy refusals (issue 11), each on a served hub with real imaplib clients.

- The bulk lane (imap/fetch.bulk_lane): FETCHes of several messages with bodies share half the read
  pool, so a one-message FETCH of another client does not queue behind their batches.
"""

from __future__ import annotations

import imaplib
import itertools
import threading
import time

import pytest

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
