"""One SQLite writer at a time across the processes of one machine, waited for in the kernel.

Several workers (`serve --workers N`) write to one SQLite file, and SQLite lets one write
transaction in at a time. A writer that finds the lock taken is left to SQLite's busy handler,
which sleeps and retries (1, 2, 5, 10 ms, then longer): under load the workers took turns with
sleeps between them, the cores partly idle and every acknowledgement later. Each process's group
committer (storage/committer.py: every delivery and IMAP change) first takes an exclusive flock on
a file beside the database; the kernel wakes the next one the moment the lock is given back, after
the commit (and its fsync) returned. The SQLite lock stays the authority: a writer that does not
take this one (the relay's claims, an operator's command) still meets SQLite's.
On PostgreSQL, and for an in-memory database, it holds nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import weakref
from typing import Iterator

from sqlalchemy import Engine

LOCK_SUFFIX = "-writer.lock"
_LOCKS: "weakref.WeakKeyDictionary[Engine, WriterLock]" = weakref.WeakKeyDictionary()


class _OpenFile:
    """The lock file as one thread opened it; closed with the thread (its thread-local slot goes, and this with it)."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def __del__(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class WriterLock:
    def __init__(self, path: str | None) -> None:
        self.path = path
        # flock is held per open file: threads of one process each open their own, so they exclude each other too.
        self._local = threading.local()

    def _fd(self) -> int:
        opened = getattr(self._local, "file", None)
        if opened is None:
            opened = self._local.file = _OpenFile(self.path)
        return opened.fd

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        fd = self._fd()
        fcntl.flock(fd, fcntl.LOCK_EX)  # releases the GIL while it waits
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def writer_lock(engine: Engine) -> WriterLock:
    """The engine's writer lock (one per engine, shared by its threads)."""
    found = _LOCKS.get(engine)
    if found is None:
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        path = database + LOCK_SUFFIX if database and database != ":memory:" and not database.startswith("file:") \
            else None
        found = _LOCKS[engine] = WriterLock(path)
    return found
