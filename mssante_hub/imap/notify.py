"""Tell the sessions that have a folder selected that it changed.

In-process: deliveries (SMTP, APPEND, web) arrive through hub.delivery_listeners,
IMAP changes (flags, expunge, copy, move) through :meth:`Notifier.changed`. A
session told of a change re-reads its folder's state at the next point where it
may speak (at once when IDLE). Other hub processes are caught by IDLE's periodic
look (config imap.idle_poll_seconds).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Protocol

from sqlalchemy import select

from mssante_hub.hub import Hub
from storage.models import Message


class Watcher(Protocol):
    def folder_changed(self) -> None: ...


class Notifier:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._watchers: dict[int, set[Watcher]] = defaultdict(set)

    def watch(self, folder_id: int, watcher: Watcher) -> None:
        self._watchers[folder_id].add(watcher)

    def unwatch(self, folder_id: int, watcher: Watcher) -> None:
        watchers = self._watchers.get(folder_id)
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del self._watchers[folder_id]

    def changed(self, folder_id: int, origin: Watcher | None = None) -> None:
        """Tell every session on the folder but `origin` (which already knows)."""
        for watcher in list(self._watchers.get(folder_id, ())):
            if watcher is not origin:
                watcher.folder_changed()

    def on_delivery(self, delivered) -> None:
        """A hub delivery listener: runs after each committed delivery, on the event loop.

        Delivered names the blob, not the folders: look them up, but only when some
        session watches a folder at all.
        """
        if not self._watchers or not delivered.uids:
            return
        blob_id = delivered.blob_id

        def folders(conn) -> list[int]:
            return list(conn.execute(select(Message.folder_id).where(Message.blob_id == blob_id)).scalars())

        async def tell() -> None:
            for folder_id in await self._hub.read(folders):
                self.changed(folder_id)

        asyncio.ensure_future(tell())

    @property
    def watched(self) -> int:
        return sum(len(w) for w in self._watchers.values())


def notifier_for(hub: Hub) -> Notifier:
    """One notifier per hub, registered once as a delivery listener."""
    existing = getattr(hub, "imap_notifier", None)
    if existing is None:
        existing = Notifier(hub)
        hub.imap_notifier = existing
        hub.delivery_listeners.append(existing.on_delivery)
    return existing
