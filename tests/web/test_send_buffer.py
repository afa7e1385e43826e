"""The kernel's send buffer of a web connection is bounded (`web.send_buffer_bytes`, admission.py).

A client pipelines many requests for the same page asset and reads nothing: the hub side's send
queue (read from /proc/net/tcp, as in tests/imap/test_send_buffer.py) stays within twice the
setting; with 0 (Linux's autotuning) the same connection holds megabytes in the kernel."""

from __future__ import annotations

import socket

import pytest

from mssante_hub.config import Config
from tests.conftest import make_data_dir
from tests.imap.test_send_buffer import BOUND, TLS_RECORD, _settled_queue
from tests.support.served import served

PIPELINED = 400


@pytest.fixture(scope="module", params=[BOUND, 0], ids=["bounded", "autotuned"])
def buffered_web(request, tmp_path_factory):
    data_dir = make_data_dir(tmp_path_factory.mktemp("websndbuf"))
    config = Config.load(data_dir)
    config.set("web.send_buffer_bytes", request.param)
    config.save()
    with served(data_dir, ["web"]) as running:
        yield request.param, running


def test_an_unread_web_connection_holds_at_most_twice_the_send_buffer_in_the_kernel(buffered_web):
    bound, running = buffered_web
    host, port = "127.0.0.1", running.port("web")
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        request = b"GET /app.js HTTP/1.1\r\nHost: hub.localhost\r\n\r\n"
        sock.sendall(request * PIPELINED)  # then read nothing
        queued = _settled_queue(port, sock.getsockname()[1])
        if bound:
            assert 0 < queued <= 2 * bound + TLS_RECORD, queued
        else:
            assert queued > 4 * BOUND, queued  # what makes the bounded case mean something here
    finally:
        sock.close()
