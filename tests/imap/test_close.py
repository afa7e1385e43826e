"""The server closes what it says it closes: after LOGOUT (and a BYE) the connection ends, over TLS too.

Twisted's TLS transport does not shut down while a producer is registered on it; the output gate
(imap/backpressure.py) is one, so a session must unregister it before closing. mbsync waits for the
close after LOGOUT: without it, a sync never ended.
"""

from __future__ import annotations

import socket
import ssl

from tests.imap.support import Raw, login_raw

CLOSE_WAIT_S = 10


def _closed(raw: Raw) -> bool:
    raw.sock.settimeout(CLOSE_WAIT_S)
    try:
        while True:
            if not raw.sock.recv(65536):
                return True
    except (socket.timeout, TimeoutError):
        return False
    except (ssl.SSLError, ConnectionError, OSError):
        return True


def test_logout_over_implicit_tls_closes_the_connection(imap_hub):
    raw = Raw(imap_hub.port("imaps"))
    login_raw(raw, imap_hub.fresh_user(), imap_hub.password)
    raw.send(b"z LOGOUT\r\n")
    lines = raw.until_tagged(b"z")
    assert lines[-1].startswith(b"z OK") and any(line.startswith(b"* BYE") for line in lines)
    assert _closed(raw), "the server said BYE but kept the TLS connection open"


def test_logout_in_cleartext_closes_the_connection(imap_hub):
    raw = Raw(imap_hub.port("imap"), tls=False)
    raw.send(b"z LOGOUT\r\n")
    raw.until_tagged(b"z")
    assert _closed(raw)
