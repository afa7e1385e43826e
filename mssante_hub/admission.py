"""Connections per client address, for the listeners that have no cap of their own (IMAP, web).

SMTP's doors count their sessions the same way (smtp/server.SessionLimiter). Without a
per-address cap one address could take every slot of a listener with idle connections.
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
