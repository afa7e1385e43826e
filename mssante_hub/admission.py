"""What a listener admits: connections per client address, and bytes held in memory at once.

Kernel buffers: an accepted TCP socket's send buffer is bounded (SO_SNDBUF) where a listener
can write much to a client that does not read (IMAP bodies, web downloads). Linux otherwise
grows it by itself up to `net.ipv4.tcp_wmem`'s maximum (4 MiB here) per connection, memory
outside the process and outside the answer budget.

Connections: for the listeners that have no cap of their own (IMAP, web); SMTP's doors count
their sessions the same way (smtp/server.SessionLimiter). Without a per-address cap one address
could take every slot of a listener with idle connections.

Bytes: a process-wide pool of message bytes in flight (SMTP DATA, IMAP APPEND literals), taken
before they are read and given back once the message is stored or refused.
"""

from __future__ import annotations

import collections
import logging
import socket

from twisted.internet import interfaces

log = logging.getLogger(__name__)


class PerAddress:
    """Open connections per client address, refused past `max_per_address`."""

    def __init__(self, max_per_address: int) -> None:
        self.max_per_address = max_per_address
        self._open: collections.Counter[str] = collections.Counter()

    def acquire(self, address: str) -> bool:
        if self._open[address] >= self.max_per_address:
            return False
        self._open[address] += 1
        return True

    def release(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]


class ByteBudget:
    """Bytes held at once across sessions; `take` says no rather than exceed `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.held = 0

    def take(self, size: int) -> bool:
        if self.held + size > self.max_bytes:
            return False
        self.held += size
        return True

    def give(self, size: int) -> None:
        self.held = max(0, self.held - size)


def tcp_below(transport):
    """The TCP transport at the bottom of a protocol's transport (under TLS too), or None.

    The bottom one, not the first that says it is TCP: TLS's wrapper says so too, but its handle
    is the TLS connection, not the socket."""
    while getattr(transport, "transport", None) is not None:
        transport = transport.transport
    return transport if interfaces.ITCPTransport.providedBy(transport) else None


def bound_send_buffer(transport, size: int) -> None:
    """SO_SNDBUF = `size` on the socket below `transport`; 0 leaves the kernel's autotuning.

    Setting it turns Linux's autotuning off for that socket: the kernel then holds at most
    twice `size` (its own doubling, for bookkeeping) of unsent answer for this connection."""
    tcp = tcp_below(transport)
    if size <= 0 or tcp is None:
        return
    handle = tcp.getHandle()
    if not isinstance(handle, socket.socket):
        return
    try:
        handle.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
    except OSError as error:  # a socket already closed by the peer: nothing to bound
        log.debug("SO_SNDBUF not set: %s", error.strerror)
