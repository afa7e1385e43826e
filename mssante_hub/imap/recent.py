"""\\Recent claims, gathered: SELECT announces new messages as recent to one session only
(RFC 3501 §2.3.2), which the folder's `recent_uid` records for the sessions after it.

That mark is session bookkeeping, not client data (RFC 9051 dropped \\Recent): a claim lost
in a crash only shows a message as recent once more. So claims are not a write per SELECT:
this process remembers the highest claim per folder at once (its own later sessions read it
here) and writes the pending ones together, at most once per FLUSH_S.
"""

from __future__ import annotations

import asyncio
import logging

from mssante_hub.hub import Hub
from storage import sync

FLUSH_S = 1.0
MARKS_KEPT = 100_000  # folders remembered; beyond, the store's marks are trusted again
log = logging.getLogger("mssante_hub.imap")


class RecentClaims:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._marks: dict[int, int] = {}  # folder -> highest UID claimed by this process
        self._pending: dict[int, int] = {}  # folder -> claim not yet written
        self._flush: asyncio.TimerHandle | None = None

    def mark(self, folder_id: int, stored: int) -> int:
        """The folder's recent mark: the store's, or a later one of this process."""
        return max(stored, self._marks.get(folder_id, 0))

    def claim(self, folder_id: int, upto: int) -> None:
        """Messages up to UID `upto` have been announced as recent (call on the event loop)."""
        if upto <= self._marks.get(folder_id, 0):
            return
        if len(self._marks) >= MARKS_KEPT:
            self._marks = {f: u for f, u in self._marks.items() if f in self._pending}
        self._marks[folder_id] = upto
        self._pending[folder_id] = upto
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(FLUSH_S, self._write)

    def _write(self) -> None:
        self._flush = None
        pending, self._pending = self._pending, {}

        def unit(conn) -> None:
            for folder_id, upto in pending.items():
                sync.claim_recent(conn, folder_id, upto)

        async def write() -> None:
            try:
                await self._hub.write(unit)
            except Exception:  # noqa: BLE001 - advisory state: log, never fail a session for it
                log.exception("writing \\Recent claims failed")

        asyncio.ensure_future(write())


def claims_for(hub: Hub) -> RecentClaims:
    """One per hub (the imap and imaps listeners share it)."""
    found = getattr(hub, "imap_recent_claims", None)
    if found is None:
        found = hub.imap_recent_claims = RecentClaims(hub)
    return found
