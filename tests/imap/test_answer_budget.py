"""A hub-wide budget of FETCH answers unread by their clients (imap/answers.py, `imap.max_buffered_answer_bytes`).

Per session, backpressure holds about one batch (16 messages with bodies) while the client does not
read. Before the budget, every such session kept its batch: N sessions pipelining FETCH 1:* and reading
nothing held N batches between them, without bound. Now, once their unread answers fill the budget,
the session whose answer has waited longest is cut, and clients that read are still answered.
"""

from __future__ import annotations

import socket

import pytest

from tests.imap.conftest import ImapHub, start
from tests.imap.test_hardening import _settled_rss_kib  # a wait until the server is done, not a measure
from tests.imap.support import Raw, append_big, login_raw
from tests.support.served import served

MIB = 1024 * 1024
BUDGET = 4 * MIB  # four batches of the folder below (one 1 MiB message each, imap/fetch.BATCH_BYTES)
MESSAGES = 16
MESSAGE_BYTES = MIB
NOT_READING = 10
TCP_CLOSE = 7  # tcpi_state of a connection the server reset (linux/tcp_states.h)


@pytest.fixture(scope="module")
def budget_hub(tmp_path_factory):
    data_dir, users = start(tmp_path_factory, {"imap.max_buffered_answer_bytes": BUDGET})
    with served(data_dir, ["imaps"]) as running:
        yield ImapHub(running, data_dir, users)


def _fill(hub: ImapHub) -> None:
    raw = Raw(hub.port("imaps"))
    login_raw(raw, hub.alice, hub.password)
    append_big(raw, MESSAGES, MESSAGE_BYTES, "budget")
    raw.close()


def _not_reading(hub: ImapHub) -> Raw:
    raw = Raw(hub.port("imaps"))
    login_raw(raw, hub.alice, hub.password)
    raw.send(b"s SELECT INBOX\r\n")
    raw.until_tagged(b"s")
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.send(b"f0 FETCH 1:* (BODY.PEEK[])\r\n")
    return raw


def test_sessions_that_do_not_read_share_one_answer_budget(budget_hub):
    _fill(budget_hub)
    idle = [_not_reading(budget_hub) for _ in range(NOT_READING)]
    _settled_rss_kib(budget_hub.pid)  # the server has done what it will do for them
    # Each has a batch (1 MiB) unread in the server, past what the kernel's socket buffers took.
    # A client that reads is answered in full, whatever the others hold: room is made for it.
    reader = Raw(budget_hub.port("imaps"))
    login_raw(reader, budget_hub.alice, budget_hub.password)
    reader.send(b"s SELECT INBOX\r\nf FETCH 1:* (BODY.PEEK[])\r\n")
    lines = reader.until_tagged(b"f")
    assert lines[-1].startswith(b"f OK") and sum(b" FETCH (" in x for x in lines) == MESSAGES
    reader.close()
    cut = [raw.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == TCP_CLOSE for raw in idle]
    # Past the budget the longest waiting were cut (the others wait for room before producing more);
    # before the budget none was, and ten sessions held ten batches between them.
    assert sum(cut) >= NOT_READING // 2 and cut[0], cut
    for raw in idle:
        raw.sock.close()
