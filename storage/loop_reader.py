"""Small reads run on the event loop's own thread, on an embedded (SQLite) database.

A read handed to the read pool and back costs two thread switches, a future on each
side and a wake-up of the loop, plus a connection taken from SQLAlchemy's pool and
reset on return: measured under the IMAP mix, more CPU than the few indexed rows most
commands read (docs/imap.md "Small reads"). On SQLite in WAL mode such a read does not wait for a
writer, so the loop can run it itself, on a connection of its own kept open.

Only reads the caller knows to be small come here (`Hub.read(..., small=True)`): a
few indexed rows, or work of the same order as what the caller then does on the loop
with the answer. PostgreSQL reads always go to the pool: each is a network round trip.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError


class LoopReader:
    """One connection, used by the thread that first ran a read through it (the event loop's)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._owner: int | None = None
        self._claim = threading.Lock()

    def accepts(self) -> bool:
        """True on the owning thread (the first to ask): another thread goes to the pool."""
        me = threading.get_ident()
        if self._owner is None:
            with self._claim:  # two threads asking first: one only becomes the owner
                if self._owner is None:
                    self._owner = me
        return self._owner == me

    def run(self, fn: Callable[[Connection], Any]) -> Any:
        if self._conn is None:
            self._conn = self._engine.connect()
        conn = self._conn
        try:
            # A transaction per read, ended at once: an open read transaction would hold back checkpoints.
            with conn.begin():
                return fn(conn)
        except DBAPIError:
            self.close()  # the connection may be broken: the next read opens another
            raise

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()
