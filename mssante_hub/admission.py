"""What a listener admits: connections per client address, and bytes held in memory at once.

Connections: for the listeners that have no cap of their own (IMAP, web); SMTP's doors count
their sessions the same way (smtp/server.SessionLimiter). Without a per-address cap one address
could take every slot of a listener with idle connections.

Bytes: a process-wide pool of message bytes in flight (SMTP DATA, IMAP APPEND literals), taken
before they are read and given back once the message is stored or refused.
"""

from __future__ import annotations

import collections


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
