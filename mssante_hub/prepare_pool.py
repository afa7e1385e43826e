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
from pathlib import Path
from typing import Any

_HUB: Any = None  # the child's own Hub, opened once by the initializer


def _open_child_hub(data_dir: str) -> None:
    global _HUB
    from mssante_hub.hub import Hub

    _HUB = Hub.open(Path(data_dir), upgrade_schema=False)


def _prepare_in_child(*args: Any) -> Any:
    from mssante_hub.delivery import prepare

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
