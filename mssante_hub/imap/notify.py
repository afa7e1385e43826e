"""Tell the sessions that have a folder selected that it changed.

In-process: deliveries (SMTP, APPEND, web) arrive through hub.delivery_listeners,
IMAP changes (flags, expunge, copy, move) through :meth:`Notifier.changed`. A
session told of a change reads its folder's changes at the next point where it
may speak (at once when IDLE). Other hub processes are caught by NOOP and IDLE's
periodic look (config imap.idle_poll_seconds), and, under `serve --workers N`, by the
workers' event channel (cluster/events.py): a change made here is published
(`publish_folder`), a change or delivery made in another worker is told here.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Protocol

from mssante_hub.hub import Hub


class Watcher(Protocol):
    def folder_changed(self) -> None: ...


class Notifier:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._watchers: dict[int, set[Watcher]] = defaultdict(set)
        self._owner_of: dict[int, str] = {}  # watched folder -> its owner's address
        self._folders_of: dict[str, set[int]] = defaultdict(set)  # owner's address -> watched folders
        self.publish_folder: Callable[[int], None] | None = None  # set by cluster/events.py under workers

    def watch(self, folder_id: int, watcher: Watcher, owner: str = "") -> None:
        """`owner`: address of the folder's account, whose deliveries may land in it."""
        self._watchers[folder_id].add(watcher)
        if owner:
            owner = owner.lower()
            self._owner_of[folder_id] = owner
            self._folders_of[owner].add(folder_id)

    def unwatch(self, folder_id: int, watcher: Watcher) -> None:
        watchers = self._watchers.get(folder_id)
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del self._watchers[folder_id]
                owner = self._owner_of.pop(folder_id, None)
                if owner is not None:
                    self._folders_of[owner].discard(folder_id)
                    if not self._folders_of[owner]:
                        del self._folders_of[owner]

    def changed(self, folder_id: int, origin: Watcher | None = None) -> None:
        """Tell every session on the folder but `origin` (which already knows)."""
        for watcher in list(self._watchers.get(folder_id, ())):
            if watcher is not origin:
                watcher.folder_changed()

    def changed_all(self) -> None:
        """Every watched folder may have changed (an event too big to name them)."""
        for folder_id in list(self._watchers):
            self.changed(folder_id)

    def changed_here(self, folder_id: int, origin: Watcher | None = None) -> None:
        """A session of this process changed the folder: tell ours, and the other workers' sessions."""
        self.changed(folder_id, origin)
        if self.publish_folder is not None:
            self.publish_folder(folder_id)

    def on_delivery(self, delivered) -> None:
        """A hub delivery listener: runs after each committed delivery, on the event loop.

        Delivered names the recipients, not the folders: every watched folder of a recipient
        is told (no database read per delivery); a session on another of its folders then
        finds nothing new, at the price of one small read when it next speaks.
        """
        for address in delivered.uids:
            for folder_id in list(self._folders_of.get(address.lower(), ())):
                self.changed(folder_id)

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
