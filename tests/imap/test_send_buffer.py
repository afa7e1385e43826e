"""The kernel's send buffer of an IMAP connection is bounded (`imap.send_buffer_bytes`, admission.py).

A client that asks for a big folder and reads nothing: the hub stops producing (backpressure),
but what it already wrote sits in the kernel's send queue, outside the process's RSS. Linux's
autotuning lets that queue grow up to `net.ipv4.tcp_wmem`'s maximum per connection; with the
setting, the hub side's queue stays within twice the setting (the kernel doubles what it is
given). The queue is read from /proc/net/tcp (tx_queue of the hub's end of the connection)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.imap.conftest import ImapHub, start
from tests.imap.support import Raw, append_big, login_raw
from tests.support.served import served

BOUND = 32 * 1024
MESSAGE_BYTES = 512 * 1024
FOLDER_MESSAGES = 12
TLS_RECORD = 16 * 1024 + 64  # one TLS record of payload and its framing


@pytest.fixture(scope="module", params=[BOUND, 0], ids=["bounded", "autotuned"])
def buffered_hub(request, tmp_path_factory):
    data_dir, users = start(tmp_path_factory, {"imap.send_buffer_bytes": request.param})
    with served(data_dir, ["imaps"]) as running:
        yield request.param, ImapHub(running, data_dir, users)


def _hub_side_queue(hub_port: int, client_port: int) -> int | None:
    """Bytes in the send queue of the hub's end of the connection (hub_port -> client_port)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            local, remote, queues = fields[1], fields[2], fields[4]
            if int(local.rsplit(":", 1)[1], 16) == hub_port and int(remote.rsplit(":", 1)[1], 16) == client_port:
                return int(queues.split(":")[0], 16)
    return None


def _settled_queue(hub_port: int, client_port: int) -> int:
    """The queue once it stops growing (the hub fills it as fast as it can; then it waits)."""
    last, steady_since = -1, time.monotonic()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        queue = _hub_side_queue(hub_port, client_port)
        assert queue is not None, "the hub's end of the connection is not in /proc/net/tcp"
        if queue != last:
            last, steady_since = queue, time.monotonic()
        elif time.monotonic() - steady_since > 2.0:
            return queue
        time.sleep(0.1)
    return last


def test_an_unread_connection_holds_at_most_twice_the_send_buffer_in_the_kernel(buffered_hub):
    bound, hub = buffered_hub
    raw = Raw(hub.port("imaps"))
    login_raw(raw, hub.alice, hub.password)
    append_big(raw, FOLDER_MESSAGES, MESSAGE_BYTES, "queued")
    raw.send(b"s SELECT INBOX\r\n")
    raw.until_tagged(b"s")
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.send(b"f FETCH 1:* (BODY.PEEK[])\r\n")  # then read nothing
    queued = _settled_queue(hub.port("imaps"), raw.sock.getsockname()[1])
    try:
        if bound:
            assert 0 < queued <= 2 * bound + TLS_RECORD, queued  # the last write may overshoot by a record
        else:
            # The same connection without the setting: the kernel's autotuning holds far more. This
            # case is what makes the bounded one mean something on this machine's kernel.
            print("autotuned queue", queued)
            assert queued > 4 * BOUND, queued
    finally:
        raw.close()
