"""Where a LoginGuard (accounts/throttle.py) keeps its failed-login counts.

HubFailures, what the doors use: the hub's database (storage/login_failures.py), so that every worker of
`serve --workers N`, and every hub on one PostgreSQL database, counts the same failures. Only failures write
(through the group committer, awaited: the next attempt sees them); a check is one indexed SELECT, a small read
(on SQLite on the event loop's own connection, storage/loop_reader.py); the writers delete expired rows once a
PURGE_EVERY_S.

MemoryFailures keeps the counts of one process: a guard without a database (the guard's own unit tests).
"""

from __future__ import annotations

import collections
import hashlib
import time
from typing import Protocol

from mssante_hub.hub import Hub
from storage import login_failures

PURGE_EVERY_S = 60.0  # per process: expired rows wait at most this long past their window
MAX_MEMORY_KEYS = 100_000  # MemoryFailures resets past this many keys: bounded memory under a spray


class FailureStore(Protocol):
    async def counts(self, keys: list[str]) -> dict[str, int]:
        """Failures of each key still within its window (a key with none may be absent)."""

    async def record(self, keys: list[str], window_s: float) -> None:
        """One failure of each key, counted for `window_s`; returns once a check anywhere sees it."""


class HubFailures:
    """The counts of one door (imap, smtp, web) in the hub's database."""

    def __init__(self, hub: Hub, door: str) -> None:
        self.hub = hub
        self.door = door
        self._next_purge = 0.0

    def _digest(self, key: str) -> bytes:
        # A digest, not the key: fixed width, and no login or address in the table (the audit trace has them).
        text = f"{self.door}\x00{key}".encode("utf-8", "surrogatepass")
        return hashlib.sha256(text).digest()[:login_failures.KEY_DIGEST_BYTES]

    async def counts(self, keys: list[str]) -> dict[str, int]:
        digests = {self._digest(key): key for key in keys}
        now = time.time()
        found = await self.hub.read(lambda conn: login_failures.counts(conn, list(digests), now), small=True)
        return {digests[digest]: n for digest, n in found.items()}

    async def record(self, keys: list[str], window_s: float) -> None:
        digests = [self._digest(key) for key in keys]
        now = time.time()
        purge = now >= self._next_purge
        if purge:
            self._next_purge = now + PURGE_EVERY_S

        def work(conn) -> None:
            login_failures.record(conn, digests, now + window_s)
            if purge:
                login_failures.purge(conn, now)

        await self.hub.write(work)


class MemoryFailures:
    """The counts of this process only, in memory."""

    def __init__(self) -> None:
        self._expiries: dict[str, collections.deque[float]] = {}

    def _recent(self, key: str) -> collections.deque[float]:
        expiries = self._expiries.setdefault(key, collections.deque())
        now = time.monotonic()
        while expiries and expiries[0] <= now:
            expiries.popleft()
        return expiries

    async def counts(self, keys: list[str]) -> dict[str, int]:
        return {key: len(self._recent(key)) for key in keys}

    async def record(self, keys: list[str], window_s: float) -> None:
        for key in keys:
            self._recent(key).append(time.monotonic() + window_s)
        if len(self._expiries) > MAX_MEMORY_KEYS:
            self._expiries.clear()
