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
    """The TCP transport under a protocol's transport (under TLS too), or None."""
    while transport is not None and not interfaces.ITCPTransport.providedBy(transport):
        transport = getattr(transport, "transport", None)
    return transport


def bound_send_buffer(transport, size: int) -> None:
    """SO_SNDBUF = `size` on the socket below `transport`; 0 leaves the kernel's autotuning.

    Setting it turns Linux's autotuning off for that socket: the kernel then holds at most
    twice `size` (its own doubling, for bookkeeping) of unsent answer for this connection."""
    if size <= 0:
        return
    # TLS's wrapper passes for a TCP transport, but its handle is the TLS connection: go to the bottom.
    while getattr(transport, "transport", None) is not None:
        transport = transport.transport
    handle = transport.getHandle() if hasattr(transport, "getHandle") else None
    if not isinstance(handle, socket.socket):
        return
    try:
        handle.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
    except OSError as error:  # a socket already closed by the peer: nothing to bound
        log.debug("SO_SNDBUF not set: %s", error.strerror)
