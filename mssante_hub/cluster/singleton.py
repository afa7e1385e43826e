"""What must run once however many hub processes serve: a named lock held while it runs.

On SQLite (one machine) a lock file in the data folder's `run/` (flock: the kernel frees it when
the holder dies, even by kill -9); on PostgreSQL a session advisory lock on a connection kept
open for as long as it is held (freed when that connection ends: several machines agree).
"""

from __future__ import annotations

import fcntl
import os
import zlib
from pathlib import Path

from sqlalchemy import text

from storage.database import is_sqlite

RUN_DIR = "run"
# Advisory lock keys: a fixed namespace (high 32 bits) and the name's CRC32 (low 32 bits).
ADVISORY_NAMESPACE = 0x4D535348  # "MSSH"


def run_dir(data_dir: Path) -> Path:
    path = Path(data_dir) / RUN_DIR
    path.mkdir(mode=0o700, exist_ok=True)
    return path


class RunOnce:
    """`try_acquire()` True means this process holds `name` until `release()` (or its death)."""

    def __init__(self, hub, name: str) -> None:
        self._hub = hub
        self.name = name
        self._file: int | None = None
        self._conn = None

    @property
    def held(self) -> bool:
        return self._file is not None or self._conn is not None

    def try_acquire(self) -> bool:
        if self.held:
            return True
        if is_sqlite(self._hub.config.storage_url()):
            fd = os.open(run_dir(self._hub.config.data_dir) / f"{self.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._file = fd
            return True
        key = (ADVISORY_NAMESPACE << 32) | zlib.crc32(self.name.encode())
        key -= 1 << 63 if key >= 1 << 63 else 0  # bigint is signed
        conn = self._hub.engine.connect()
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
            conn.commit()
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        if self._file is not None:
            os.close(self._file)  # closing the descriptor drops the flock
            self._file = None
        if self._conn is not None:
            self._conn.close()  # the session ends: PostgreSQL frees its advisory locks
            self._conn = None
