"""Group commit: many writes, one transaction, one fsync.

Callers submit units of work (a function of a Connection). One writer thread takes
whatever has queued up, runs each unit in its own SAVEPOINT inside one transaction
and commits once; only after that commit does any caller learn its result. A unit
that fails rolls back to its savepoint alone and gets its exception; the others
still commit.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Connection, Engine

from storage.database import WRITER_OPTION

Work = Callable[[Connection], Any]
_STOP = object()


@dataclass
class _Item:
    work: Work
    future: concurrent.futures.Future


class GroupCommitter:
    def __init__(self, engine: Engine, window_ms: float = 1.0, max_batch: int = 256) -> None:
        self._engine = engine
        self._window = window_ms / 1000
        self._max_batch = max_batch
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()
        self.batches = 0
        self.units = 0

    def submit(self, work: Work) -> concurrent.futures.Future:
        """Queue a unit of work; the future resolves once it is committed (or failed)."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        if not self._thread.is_alive():
            future.set_exception(RuntimeError("the group committer is stopped"))
            return future
        self._queue.put(_Item(work, future))
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
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stop = self._gather(first)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Item]) -> None:
        outcomes: list[tuple[_Item, bool, Any]] = []
        try:
            with self._engine.connect().execution_options(**{WRITER_OPTION: True}) as conn:
                with conn.begin():
                    for item in batch:
                        savepoint = conn.begin_nested()
                        try:
                            result = item.work(conn)
                        except BaseException as exc:  # noqa: BLE001 - handed to the caller
                            savepoint.rollback()
                            outcomes.append((item, False, exc))
                        else:
                            savepoint.commit()
                            outcomes.append((item, True, result))
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
