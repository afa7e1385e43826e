"""The running hub's shared parts: settings, database, keys, writer, thread pools.

One object, built once by the command line or a test, handed explicitly to whatever
needs it (no global registry).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import Connection

from crypto.errors import IntegrityError, MasterKeyError
from crypto.keyring import Keyring
from crypto.masterkey import load_master_key
from mssante_hub.config import Config
from mssante_hub.mime import Limits
from mssante_hub.accounts.passwords import Passwords
from storage import accounts as account_repo
from storage import blobstore, database
from storage.loop_reader import LoopReader
from storage.committer import GroupCommitter
from storage.models import AccountType

SYSTEM_LOCALPART = "postmaster"
ACCOUNT_CACHE_S = 5.0
ACCOUNT_CACHE_SIZE = 10_000
PENDING_MASTER_KEY_SUFFIX = ".new"


def open_master_key(config: Config) -> bytes:
    return load_master_key(config.path_setting("keys.master_key_file"), config.get("keys.master_key_env"))


class Hub:
    def __init__(self, config: Config, master_key: bytes, *, upgrade_schema: bool = True) -> None:
        self.config = config
        self.engine = database.make_engine(config.storage_url(), pool_size=config.get("storage.db_threads") + 2)
        if upgrade_schema:
            database.upgrade(self.engine)
        # Where bodies' ciphertext lives (storage.blob_store): every storage function finds it through the engine.
        self.blobs = blobstore.make(config.get("storage.blob_store"), config.blob_dir(),
                                    config.get("storage.blob_write_threads"))
        blobstore.attach(self.engine, self.blobs)
        self.keyring = Keyring(master_key)
        self.committer = GroupCommitter(
            self.engine, config.get("storage.group_commit_window_ms"), config.get("storage.group_commit_max_batch")
        )
        from mssante_hub.observe import metrics

        self.committer.on_commit = metrics.committed
        self._loop_read_done, self._pool_read_done = metrics.db_read_counters()
        self.read_pool = concurrent.futures.ThreadPoolExecutor(config.get("storage.db_threads"), "db-read")
        self.loop_reader = (LoopReader(self.engine) if config.get("storage.small_reads_on_loop")
                            and self.engine.dialect.name == "sqlite" else None)
        self.parse_pool = concurrent.futures.ThreadPoolExecutor(config.get("limits.parse_threads"), "parse")
        self.passwords = Passwords(
            config.get("auth.argon2_time_cost"), config.get("auth.argon2_memory_kib"),
            config.get("auth.max_concurrent_hashes"),
        )
        self.limits = Limits(
            max_message_bytes=config.get("limits.max_message_bytes"),
            max_header_fields=config.get("limits.max_header_fields"),
            max_header_bytes=config.get("limits.max_header_bytes"),
            max_line_bytes=config.get("limits.max_line_bytes"),
            max_mime_parts=config.get("limits.max_mime_parts"),
            max_mime_depth=config.get("limits.max_mime_depth"),
        )
        self.local_domains = frozenset(
            d.lower() for d in (config.get("hub.domain"), config.get("hub.patient_domain"))
        )
        # Called after each committed delivery (IMAP IDLE, relay worker); never before.
        self.delivery_listeners: list[Callable[[Any], None]] = []
        # Run by close(), last started first (e.g. delivery's child processes, started on first use).
        self.closers: list[Callable[[], None]] = []
        self.listener_failures = 0  # after-commit listeners that raised (logged by type, never fatal)
        self._system: account_repo.AccountRow | None = None
        self._accounts: dict[str, tuple[float, account_repo.AccountRow]] = {}  # address -> (expiry, row)

    @classmethod
    def open(cls, data_dir: Path, **kwargs: Any) -> "Hub":
        config = Config.load(data_dir)
        hub = cls(config, open_master_key(config), **kwargs)
        try:
            hub.check_master_key()
        except BaseException:
            hub.close()
            raise
        return hub

    def check_master_key(self) -> None:
        """Prove the master key opens the hub's own key, finishing an interrupted rotation if needed."""
        system = self.system_account()
        if system is None:
            return
        try:
            self.keyring.private_key(system.key_id, system.sealed_private_key)
        except IntegrityError:
            pending = Path(str(self.config.path_setting("keys.master_key_file")) + PENDING_MASTER_KEY_SUFFIX)
            if pending.exists():
                key = load_master_key(pending)
                Keyring(key).private_key(system.key_id, system.sealed_private_key)  # raises if not it either
                pending.replace(self.config.path_setting("keys.master_key_file"))
                self.keyring = Keyring(key)
                return
            raise MasterKeyError("the master key does not open this hub's keys (wrong key file?)") from None

    def system_account(self) -> account_repo.AccountRow | None:
        """The hub's own account (postmaster; reader of the relay queue), cached once found."""
        if self._system is None:
            with self.engine.connect() as conn:
                self._system = account_repo.first_of_type(conn, AccountType.SYSTEM.value)
        return self._system

    def accounts_by_address(self, addresses: list[str]) -> dict[str, account_repo.AccountRow]:
        """Account rows of delivery recipients, remembered ACCOUNT_CACHE_S (keys and ids do not change).

        A status seen here may be that old: the store step reads it again in its transaction.
        """
        now = time.monotonic()
        found, missing = {}, []
        for address in addresses:
            cached = self._accounts.get(address)
            if cached is not None and cached[0] > now:
                found[address] = cached[1]
            else:
                missing.append(address)
        if missing:
            rows = self.read_sync(lambda conn: account_repo.by_addresses(conn, missing))
            if len(self._accounts) > ACCOUNT_CACHE_SIZE:
                self._accounts.clear()
            for address, row in rows.items():
                self._accounts[address] = (now + ACCOUNT_CACHE_S, row)
            found.update(rows)
        return found

    def is_local(self, address: str) -> bool:
        return address.rpartition("@")[2].lower() in self.local_domains

    @property
    def small_reads_on_loop(self) -> bool:
        """Whether `read(..., small=True)` may run on the loop (SQLite, setting on): else it is a pool read."""
        return self.loop_reader is not None

    async def read(self, fn: Callable[[Connection], Any], *, small: bool = False) -> Any:
        """Run a read-only function of a connection on the bounded read pool.

        `small`: the read touches a few indexed rows (or costs what the caller then spends on the
        loop formatting its answer anyway). On SQLite it then runs on the loop itself, where a trip
        to the pool would cost more than the read (storage/loop_reader.py).
        """
        if small and self.loop_reader is not None and self.loop_reader.accepts():
            self._loop_read_done()
            return self.loop_reader.run(fn)
        self._pool_read_done()

        def run() -> Any:
            with self.engine.connect() as conn:
                return fn(conn)

        return await asyncio.get_running_loop().run_in_executor(self.read_pool, run)

    def read_sync(self, fn: Callable[[Connection], Any]) -> Any:
        with self.engine.connect() as conn:
            return fn(conn)

    async def write(self, fn: Callable[[Connection], Any]) -> Any:
        """Run a unit of work through the group committer; returns once it is durable."""
        return await asyncio.wrap_future(self.committer.submit(fn))

    async def write_batched(self, kind: Callable[[Connection, list], list], item: Any) -> Any:
        """Like write(), for items a batch function applies many at a time."""
        return await asyncio.wrap_future(self.committer.submit_batched(kind, item))

    def __enter__(self) -> "Hub":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        while self.closers:
            self.closers.pop()()
        self.committer.close()
        self.read_pool.shutdown(wait=True)
        if self.loop_reader is not None:
            self.loop_reader.close()
        self.parse_pool.shutdown(wait=True)
        self.blobs.close()  # after the committer: its last batch may still be writing files
        self.engine.dispose()
