"""Where the ciphertext of message bodies lives: in the database (the default) or in a directory.

Either way the bytes are the same: nonce || ciphertext || tag, as crypto.envelope seals them. The
`blobs` row always exists (id, summary, size): it is what makes a message visible. With the
directory store its `body` column holds nothing (:data:`IN_DIRECTORY`) and the ciphertext is the
file `<dir>/<id[:2]>/<id>`, written durably BEFORE the transaction that inserts the row commits
(temporary name, fsync of the file, rename, fsync of the directory). A crash in between leaves a
file with no row: no message is visible, and :meth:`DirectoryStore.sweep` deletes such orphans
once older than a grace period (never a younger one: its commit may be in flight).

Every writer and reader of body bytes goes through the store attached to the engine
(:func:`attach`, :func:`of`): the store step (storage/deliveries.py), the reader (Reader.body),
the deletions (which call :meth:`forget`), the backup.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import secrets
import threading
import time
import weakref
from pathlib import Path

from sqlalchemy import Connection, Engine

from storage import driver

DATABASE = "database"
DIRECTORY = "directory"
KINDS = (DATABASE, DIRECTORY)
IN_DIRECTORY = b""  # blobs.body of a body kept in the directory (a sealed body is never empty)
FILE_MODE = 0o600
DIR_MODE = 0o700
TMP_PREFIX = ".tmp-"
SWEEP_CHUNK = 500
# Tests only (docs/operations.md): after the blob files of a batch are durable and before its commit, the writer
# writes its pid to the file this names and stops there, so that a test can kill the process at that very point.
PAUSE_HOOK_ENV = "MSSANTE_HUB_TEST_PAUSE_AFTER_BLOB_WRITE"
_BLOB_ID = re.compile(r"^[0-9a-f]{32}$")


class BlobStoreError(Exception):
    """A blob is missing or its id is not one the hub makes."""


class DatabaseStore:
    """Bodies in `blobs.body`, in the same transaction as the rest (today's behaviour)."""

    kind = DATABASE
    root: Path | None = None

    def column(self, body: bytes) -> bytes:
        return body

    def put_many(self, items: list[tuple[str, bytes]]) -> None:
        """Nothing to do: the row carries the body."""

    def body(self, blob_id: str, column: bytes) -> bytes:
        return column

    def forget(self, blob_ids: list[str]) -> None:
        """Nothing to do: deleting the row deleted the body."""

    def sweep(self, engine: Engine, grace_s: float) -> int:
        return 0

    def files(self) -> list[tuple[str, Path]]:
        return []

    def close(self) -> None:
        pass


class DirectoryStore:
    """Bodies as files named by blob id, for a filesystem several hubs share."""

    kind = DIRECTORY

    def __init__(self, root: Path, write_threads: int = 4) -> None:
        self.root = root
        root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        # Bounded: a batch of 256 deliveries writes with this many fsyncs in flight, not 256 threads.
        self._pool = concurrent.futures.ThreadPoolExecutor(write_threads, "blob-write")
        self._forgotten: set[str] = set()
        self._made: set[str] = set()
        self._lock = threading.Lock()

    def path(self, blob_id: str) -> Path:
        if not _BLOB_ID.match(blob_id):
            raise BlobStoreError("not a blob id")
        return self.root / blob_id[:2] / blob_id

    def column(self, body: bytes) -> bytes:
        return IN_DIRECTORY

    def _write(self, blob_id: str, body: bytes) -> Path:
        final = self.path(blob_id)
        if final.parent.name not in self._made:  # 256 fan-out folders at most: made once, then known
            final.parent.mkdir(mode=DIR_MODE, exist_ok=True)
            self._made.add(final.parent.name)
        tmp = final.with_name(f"{TMP_PREFIX}{blob_id}-{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            view = memoryview(body)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        return final.parent

    def put_many(self, items: list[tuple[str, bytes]]) -> None:
        """Every body durable on return (file and directory entry), in the bounded pool."""
        if not items:
            return
        if len(items) == 1:
            parents = {self._write(*items[0])}
        else:
            parents = set(self._pool.map(lambda item: self._write(*item), items))
        parents.add(self.root)  # the renames, and a new fan-out directory's own entry
        if len(parents) <= 2:
            for parent in parents:
                _fsync_dir(parent)
        else:  # a batch spreads over many fan-out folders: their fsyncs in flight together too
            list(self._pool.map(_fsync_dir, parents))
        _pause_if_asked()

    def body(self, blob_id: str, column: bytes) -> bytes:
        if column:  # stored before this install chose the directory: still in its row
            return column
        try:
            return self.path(blob_id).read_bytes()
        except FileNotFoundError:
            raise BlobStoreError(f"blob {blob_id} is missing from the blob directory") from None

    def forget(self, blob_ids: list[str]) -> None:
        """Rows being deleted in the caller's transaction: their files go at the next sweep, once that is
        committed (a row still there then, rolled back or not yet committed, keeps its file)."""
        with self._lock:
            self._forgotten.update(blob_ids)

    def files(self) -> list[tuple[str, Path]]:
        return files(self.root)

    def sweep(self, engine: Engine, grace_s: float) -> int:
        """Delete body files with no row: the forgotten ones at once, any other once older than `grace_s`
        (a younger one may belong to a commit in flight). Returns how many were deleted."""
        with self._lock:
            forgotten, self._forgotten = self._forgotten, set()
        cutoff = time.time() - grace_s
        candidates: dict[str, Path] = {}
        for sub in self.root.iterdir():
            if not (sub.is_dir() and len(sub.name) == 2):
                continue
            for path in sub.iterdir():
                try:
                    old = path.stat().st_mtime < cutoff
                except FileNotFoundError:
                    continue
                if path.name.startswith(TMP_PREFIX):
                    if old:  # a write a crash interrupted before its rename
                        path.unlink(missing_ok=True)
                elif _BLOB_ID.match(path.name) and (old or path.name in forgotten):
                    candidates[path.name] = path
        ids = sorted(candidates)
        deleted = 0
        with engine.connect() as conn:
            for start in range(0, len(ids), SWEEP_CHUNK):
                chunk = ids[start:start + SWEEP_CHUNK]
                kept = _existing(conn, chunk)
                for blob_id in chunk:
                    if blob_id not in kept:
                        candidates[blob_id].unlink(missing_ok=True)
                        deleted += 1
        return deleted

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def files(root: Path) -> list[tuple[str, Path]]:
    """(blob id, path) of every body file of a directory store (none if the directory does not exist)."""
    if not root.is_dir():
        return []
    found = []
    for sub in sorted(root.iterdir()):
        if sub.is_dir() and len(sub.name) == 2:
            found.extend((p.name, p) for p in sorted(sub.iterdir()) if _BLOB_ID.match(p.name))
    return found


def _existing(conn: Connection, ids: list[str]) -> set[str]:
    sql = f"SELECT id FROM blobs WHERE id IN ({driver.placeholders(len(ids))})"
    return {row[0] for row in driver.rows(conn, sql, ids)}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pause_if_asked() -> None:
    marker = os.environ.get(PAUSE_HOOK_ENV)
    if not marker:
        return
    Path(marker).write_text(str(os.getpid()))  # the process to kill (a worker, under a supervising parent)
    while True:  # held here, before the commit, until the test kills the process
        time.sleep(1)


BlobStore = DatabaseStore | DirectoryStore
_DEFAULT = DatabaseStore()
_STORES: "weakref.WeakKeyDictionary[Engine, BlobStore]" = weakref.WeakKeyDictionary()


def make(kind: str, root: Path, write_threads: int = 4) -> BlobStore:
    if kind == DATABASE:
        return DatabaseStore()
    if kind == DIRECTORY:
        return DirectoryStore(root, write_threads)
    raise BlobStoreError(f"unknown blob store {kind!r} (one of {', '.join(KINDS)})")


def attach(engine: Engine, store: BlobStore) -> None:
    """Make `store` the one every storage function reaches through this engine."""
    _STORES[engine] = store


def of_engine(engine: Engine) -> BlobStore:
    return _STORES.get(engine, _DEFAULT)


def of(conn: Connection) -> BlobStore:
    """The store of the engine this connection belongs to (the database one unless another is attached)."""
    return _STORES.get(conn.engine, _DEFAULT)
