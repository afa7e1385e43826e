"""Everything the IMAP door reads or replaces inside Twisted, in one place.

Checked on the Twisted versions pinned in setup.cfg (`Twisted[tls]>=26.10,<27`);
tests/test_framework_internals.py fails loudly if an attribute used here goes away.
Both tweaks save a loop turn per response (docs/imap.md); without them the door still
works, through Twisted's own buffering, so a missing internal degrades speed, not safety.
"""

from __future__ import annotations

from twisted.internet import tcp as _tcp
from twisted.protocols.tls import TLSMemoryBIOProtocol

from mssante_hub.admission import tcp_below

CHECKED_ON = ">=26.10,<27"
# (class, attribute) pairs this module relies on; the test checks each on the installed Twisted.
INSTANCE_ATTRIBUTES = ("connected", "disconnecting", "_writeDisconnected", "_tempDataLen", "offset", "dataBuffer")
CLASS_ATTRIBUTES = ((_tcp.Connection, "writeSomeData"), (_tcp.Connection, "write"),
                    (TLSMemoryBIOProtocol, "write"))


def send_at_once(tcp) -> None:
    """Under implicit TLS, let the TCP transport try the socket before buffering.

    Twisted's TCP transport only buffers a write and registers for writability: an epoll
    change, one more loop turn and its dispatch, another epoll change, per response. When
    nothing is waiting to go out, `send` is tried at once, as asyncio's own transports do;
    what the socket does not take goes through Twisted's buffer as before. Only below the
    TLS layer (these bytes are already encrypted): the STARTTLS door's transport is left alone.
    """
    buffered_write = tcp.write

    def write(data: bytes) -> None:
        if (data and tcp.connected and not tcp.disconnecting and not tcp._writeDisconnected
                and not tcp._tempDataLen and tcp.offset == len(tcp.dataBuffer)):
            sent = tcp.writeSomeData(data)
            if not isinstance(sent, int):
                buffered_write(data)  # connection lost: Twisted's own path reports it
                return
            data = data[sent:]
        if data:
            buffered_write(data)

    tcp.write = write


def send_at_once_under_tls(transport) -> None:
    """send_at_once on the TCP transport below an implicit-TLS protocol (nothing for another kind)."""
    if isinstance(transport, TLSMemoryBIOProtocol):
        tcp = tcp_below(transport)  # below the PROXY header reader too (imap/proxied.py)
        if tcp is not None:
            send_at_once(tcp)


def write_now(transport, data: bytes) -> None:
    """Hand one response to TLS at once.

    Twisted's TLS transport (BufferingTLSTransport) holds small writes until the next
    reactor turn with a callLater(0): a delayed call, a re-armed asyncio timer and one
    more loop turn per response. The session already gathers a turn's output into one
    write, so that second buffering is skipped; whatever it holds is sent first, in order.
    """
    tls = transport
    if not isinstance(tls, TLSMemoryBIOProtocol) and getattr(transport, "TLS", False) and transport.connected:
        tls = transport.protocol  # after STARTTLS: the TCP transport passes writes to its TLS layer
    aggregator = getattr(tls, "_aggregator", None)
    if isinstance(tls, TLSMemoryBIOProtocol) and aggregator is not None and not tls.disconnecting:
        aggregator.flush()
        TLSMemoryBIOProtocol.write(tls, data)
    else:
        transport.write(data)  # plaintext before STARTTLS, closing, or a transport of another kind
