"""Bytes of APPEND literals held in memory: per session and across the hub process.

A literal is reserved whole when it is announced, before a byte of it is read, and
given back when its command has run (or its connection is gone): a client never
sends what the server could not hold, and no set of sessions can hold more than
`imap.max_buffered_append_bytes` between them.
"""

from __future__ import annotations


class UploadBudget:
    """The process-wide pool, shared by the imap and imaps listeners."""

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


class SessionUploads:
    """One session's share: its own cap, drawn from the shared pool."""

    def __init__(self, pool: UploadBudget, max_bytes: int) -> None:
        self.pool = pool
        self.max_bytes = max_bytes
        self.held = 0

    def take(self, size: int) -> str | None:
        """None when `size` more bytes may be held, else why not: "session" or "pool"."""
        if self.held + size > self.max_bytes:
            return "session"
        if not self.pool.take(size):
            return "pool"
        self.held += size
        return None

    def give(self, size: int) -> None:
        size = min(size, self.held)
        self.held -= size
        self.pool.give(size)

    def give_all(self) -> None:
        self.give(self.held)


def pool_of(hub) -> UploadBudget:
    """One pool per hub process (both IMAP listeners draw from it)."""
    found = getattr(hub, "imap_upload_pool", None)
    if found is None:
        found = hub.imap_upload_pool = UploadBudget(hub.config.get("imap.max_buffered_append_bytes"))
    return found
