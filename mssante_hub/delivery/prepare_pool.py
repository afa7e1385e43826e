"""Processes that prepare incoming mail (parse, policy, encrypt, wrap) beside the serving process.

Parsing MIME and running the rules is pure Python and holds the GIL; in the serving
process it competes with the protocols and the writer. With `limits.parse_processes`
above 0, that work moves to child processes, so a multi-core machine serves and
parses at once. The children open the same data folder read-only (they never write:
the single writer stays in the serving process) and hand back plain data: ciphertext,
wrapped keys, the recipients' rows and the policy's state writes.

Children are started by a fork server, not forked from the serving process, which
already runs threads.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
import weakref
from pathlib import Path
from typing import Any

from mssante_hub.delivery.prepare import prepare
from mssante_hub.hub import Hub

_HUB: Any = None  # the child's own Hub, opened once by the initializer


def _open_child_hub(data_dir: str) -> None:
    global _HUB
    _HUB = Hub.open(Path(data_dir), upgrade_schema=False)


def _prepare_in_child(*args: Any) -> Any:
    return prepare(_HUB, *args)


class PreparePool:
    def __init__(self, data_dir: Path, processes: int) -> None:
        self._executor = ProcessPoolExecutor(
            processes, mp_context=multiprocessing.get_context("forkserver"),
            initializer=_open_child_hub, initargs=(str(data_dir),),
        )

    async def prepare(self, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, _prepare_in_child, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


_POOLS: "weakref.WeakKeyDictionary[Hub, PreparePool]" = weakref.WeakKeyDictionary()


def of(hub: Hub) -> PreparePool | None:
    """The hub's child processes for prepare() when `limits.parse_processes` > 0, started on first use
    and closed with the hub."""
    processes = hub.config.get("limits.parse_processes")
    if not processes:
        return None
    pool = _POOLS.get(hub)
    if pool is None:
        pool = _POOLS[hub] = PreparePool(hub.config.data_dir, processes)
        hub.closers.append(pool.close)
    return pool
