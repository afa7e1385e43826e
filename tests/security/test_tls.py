"""TLS on every listener: 1.2 or later, and for TLS 1.2 only forward-secret AEAD suites (mssante_hub/tlspolicy.py)."""

from __future__ import annotations

import socket
import ssl

import pytest

from tests.conftest import make_data_dir
from tests.support.served import served

LISTENERS = ["mx", "submission", "imap", "imaps"]
OLD_SUITES = ("ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA:"  # CBC
              "ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384:AES128-GCM-SHA256:AES128-SHA")  # CBC or RSA kex


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    data_dir = make_data_dir(tmp_path_factory.mktemp("tls"))
    with served(data_dir, LISTENERS) as hub:
        yield hub


def _plain_to_tls(name: str, port: int) -> socket.socket:
    """A TCP connection brought to the point where TLS starts (STARTTLS where the listener needs it)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    reader = sock.makefile("rb")
    if name == "imaps":
        return sock
    reader.readline()
    if name == "imap":
        sock.sendall(b"s STARTTLS\r\n")
        while not reader.readline().startswith(b"s OK"):
            pass
    else:
        sock.sendall(b"EHLO client.test\r\n")
        while not reader.readline().startswith(b"250 "):
            pass
        sock.sendall(b"STARTTLS\r\n")
        assert reader.readline().startswith(b"220")
    return sock


def _handshake(name: str, port: int, context: ssl.SSLContext) -> str | None:
    """The negotiated cipher, or None if the server refused the handshake."""
    sock = _plain_to_tls(name, port)
    try:
        with context.wrap_socket(sock) as tls:
            return tls.cipher()[0]
    except (ssl.SSLError, ConnectionError):
        return None
    finally:
        sock.close()


def _client(maximum: ssl.TLSVersion, ciphers: str | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = maximum
    if ciphers:
        context.set_ciphers(ciphers)
    return context


@pytest.mark.parametrize("name", LISTENERS)
def test_modern_tls_is_accepted(running, name):
    assert _handshake(name, running.port(name), _client(ssl.TLSVersion.TLSv1_3)) is not None
    chosen = _handshake(name, running.port(name), _client(ssl.TLSVersion.TLSv1_2))
    assert chosen is not None and ("GCM" in chosen or "CHACHA20" in chosen), chosen


@pytest.mark.parametrize("name", LISTENERS)
def test_tls12_suites_without_forward_secrecy_or_aead_are_refused(running, name):
    assert _handshake(name, running.port(name), _client(ssl.TLSVersion.TLSv1_2, OLD_SUITES)) is None
