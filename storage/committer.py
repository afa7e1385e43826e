"""Group commit: many writes, one transaction, one fsync.

Callers submit units of work. One writer thread takes whatever has queued up and
commits it in ONE transaction; only after that commit does any caller learn its
result.

- A plain unit is a function of a Connection; it runs in its own SAVEPOINT, so one
  that fails rolls back alone and gets its exception while the others commit.
- A batched unit names a `kind`: a function applying a whole list of items at once
  (executemany, one UID allocation per folder). Items of one kind gathered together
  are applied in one call; if that call fails, they are retried one by one, each in
  its own savepoint, so only the faulty item fails.
- A batched item may come with a `before` step, run by the writer thread before the
  transaction begins, which turns it into the item to apply (deliveries of small
  messages are parsed and encrypted there: see delivery.py for why). If it raises,
  the item fails alone and is never written.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Connection, Engine

from storage.database import WRITER_OPTION
from storage.writer_lock import writer_lock

Work = Callable[[Connection], Any]
BatchKind = Callable[[Connection, list], list]
_STOP = object()


@dataclass
class _Item:
    work: Any
    future: concurrent.futures.Future
    kind: BatchKind | None = None
    before: Callable[[], Any] | None = None


class GroupCommitter:
    def __init__(self, engine: Engine, window_ms: float = 1.0, max_batch: int = 256) -> None:
        self._engine = engine
        self._window = window_ms / 1000
        self._max_batch = max_batch
        self._queue: queue.Queue = queue.Queue()
        self._conn: Connection | None = None  # the writer thread's own, kept between batches
        self._writer_lock = writer_lock(engine)  # other processes' writers on one SQLite file wait in the kernel
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()
        self.batches = 0
        self.units = 0
        # Told (units, seconds) after each transaction, committed or not: the hub's metrics. Never raises into us.
        self.on_commit: Callable[[int, float], None] | None = None

    def submit(self, work: Work) -> concurrent.futures.Future:
        """Queue a unit of work; the future resolves once it is committed (or failed)."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        if not self._thread.is_alive():
            future.set_exception(RuntimeError("the group committer is stopped"))
            return future
        self._queue.put(_Item(work, future))
        return future

    def submit_batched(self, kind: BatchKind, item: Any, future: concurrent.futures.Future | None = None,
                       before: Callable[[], Any] | None = None) -> concurrent.futures.Future:
        """Queue one item to be applied together with others of the same kind (its result in `future`).

        With `before`, the item is what `before()` returns, called in the writer thread
        outside any transaction.
        """
        future = future if future is not None else concurrent.futures.Future()
        if not self._thread.is_alive():
            future.set_exception(RuntimeError("the group committer is stopped"))
            return future
        self._queue.put(_Item(item, future, kind, before))
        return future

    def run(self, work: Work) -> Any:
        """Submit and wait: for synchronous callers (command line, tests)."""
        return self.submit(work).result()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    def _gather(self, first: _Item) -> tuple[list[_Item], bool]:
        batch, stop = [first], False
        deadline = time.monotonic() + self._window
        while len(batch) < self._max_batch:
            timeout = deadline - time.monotonic()
            try:
                item = self._queue.get_nowait() if timeout <= 0 else self._queue.get(timeout=timeout)
            except queue.Empty:
                break
            if item is _STOP:
                stop = True
                break
            batch.append(item)
        return batch, stop

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @contextlib.contextmanager
    def _transaction(self):
        """One transaction on the writer's connection.

        The connection stays open between batches: taking one from the pool and giving
        it back (which resets it) cost ~0.2 ms a batch, and every message of the batch
        waits for it. After a failure it is replaced, in case the failure broke it.
        """
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(**{WRITER_OPTION: True})
        try:
            with self._writer_lock.held(), self._conn.begin():
                yield self._conn
        except BaseException:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
            raise

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stop = self._gather(first)
            # Running futures can no longer be cancelled (a client that hung up while its unit was queued);
            # one cancelled before is dropped: nobody waits for it, nothing of it was acknowledged.
            batch = [item for item in batch if item.future.set_running_or_notify_cancel()]
            batch = [item for item in batch if item.before is None or self._run_before(item)]
            if batch:
                started = time.monotonic()
                self._commit(batch)
                if self.on_commit is not None:
                    with contextlib.suppress(Exception):
                        self.on_commit(len(batch), time.monotonic() - started)
            if stop:
                return

    @staticmethod
    def _run_before(item: _Item) -> bool:
        """Run the item's step before the transaction; False (and its owner told) if it failed."""
        try:
            item.work = item.before()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller (a Refusal, mostly)
            item.future.set_exception(exc)
            return False
        return True

    @staticmethod
    def _apply_one(conn: Connection, item: _Item) -> tuple[bool, Any]:
        savepoint = conn.begin_nested()
        try:
            result = item.kind(conn, [item.work])[0] if item.kind else item.work(conn)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            savepoint.rollback()
            return False, exc
        savepoint.commit()
        return True, result

    def _apply_kind(self, conn: Connection, kind: BatchKind, items: list[_Item]) -> list[tuple[bool, Any]]:
        if len(items) > 1:
            savepoint = conn.begin_nested()
            try:
                results = kind(conn, [item.work for item in items])
            except Exception:  # noqa: BLE001 - fall back to one by one to find the faulty item
                savepoint.rollback()
            else:
                savepoint.commit()
                return [(True, r) for r in results]
        return [self._apply_one(conn, item) for item in items]

    def _commit_one_kind(self, batch: list[_Item]) -> bool:
        """The common case, a batch of one kind only: applied with no savepoint at all.

        Returns False, having rolled everything back, if it failed; the caller then
        applies the batch the careful way (savepoints) to find what failed.
        """
        kind = batch[0].kind
        try:
            with self._transaction() as conn:
                results = kind(conn, [item.work for item in batch])
        except Exception:  # noqa: BLE001 - retried the careful way, which reports the error to its owner
            return False
        self.batches += 1
        self.units += len(batch)
        for item, result in zip(batch, results):
            item.future.set_result(result)
        return True

    def _commit_single(self, item: _Item) -> None:
        """A batch of one unit needs no savepoint: if it fails, rolling back the transaction undoes it alone.

        (A SAVEPOINT and its RELEASE per IMAP STORE or EXPUNGE were ~13 % of the hub's time under load.)
        """
        try:
            with self._transaction() as conn:
                result = item.kind(conn, [item.work])[0] if item.kind else item.work(conn)
        except BaseException as exc:  # noqa: BLE001 - the unit's own failure, or the commit's: handed to its owner
            item.future.set_exception(exc)
            return
        self.batches += 1
        self.units += 1
        item.future.set_result(result)

    def _commit(self, batch: list[_Item]) -> None:
        if len(batch) == 1:
            self._commit_single(batch[0])
            return
        if batch[0].kind is not None and all(item.kind is batch[0].kind for item in batch):
            if self._commit_one_kind(batch):
                return
        outcomes: list[tuple[_Item, bool, Any]] = []
        try:
            with self._transaction() as conn:
                kinds: dict[BatchKind, list[_Item]] = {}
                for item in batch:
                    if item.kind is None:
                        outcomes.append((item, *self._apply_one(conn, item)))
                    else:
                        kinds.setdefault(item.kind, []).append(item)
                for kind, items in kinds.items():
                    outcomes.extend((item, *r) for item, r in zip(items, self._apply_kind(conn, kind, items)))
        except BaseException as exc:  # the commit itself failed: nothing of the batch is durable
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        self.batches += 1
        self.units += len(batch)
        for item, ok, value in outcomes:
            if ok:
                item.future.set_result(value)
            else:
                item.future.set_exception(value)
