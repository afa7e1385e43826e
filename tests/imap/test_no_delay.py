"""TCP_NODELAY under the IMAP session, below implicit TLS too (server.no_delay).

With Nagle's algorithm on, a FETCH of one body (the literal, then the tagged OK in a second
write) waited for the client's delayed ACK: ~40 ms per command (bench/imap_load.py --verbose).
The check is on real loopback TCP sockets wrapped by Twisted's own transports; no timing."""

from __future__ import annotations

import socket

from twisted.internet import protocol, reactor, tcp
from twisted.internet.ssl import CertificateOptions
from twisted.protocols.tls import TLSMemoryBIOFactory

from mssante_hub.imap.server import no_delay


def _accepted_pair() -> tuple[socket.socket, socket.socket]:
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    listener.close()
    accepted.setblocking(False)
    return client, accepted


def _nagle_off(sock: socket.socket) -> bool:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_no_delay_reaches_the_socket_below_tls_and_plain() -> None:
    client, accepted = _accepted_pair()
    client2, accepted2 = _accepted_pair()
    try:
        plain = tcp.Server(accepted, protocol.Protocol(), accepted.getpeername(), None, 1, reactor)
        assert not _nagle_off(accepted)  # Twisted's default: Nagle on
        no_delay(plain)
        assert _nagle_off(accepted)

        below_tls = tcp.Server(accepted2, protocol.Protocol(), accepted2.getpeername(), None, 2, reactor)
        factory = TLSMemoryBIOFactory(CertificateOptions(), False, protocol.Factory.forProtocol(protocol.Protocol))
        tls = factory.buildProtocol(accepted2.getpeername())
        tls.transport = below_tls  # as makeConnection sets it, without starting a handshake
        assert not _nagle_off(accepted2)
        no_delay(tls)
        assert _nagle_off(accepted2)
    finally:
        for sock in (client, accepted, client2, accepted2):
            sock.close()
