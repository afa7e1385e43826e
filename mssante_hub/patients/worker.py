"""The notification worker of a serving hub: sends due notifications soon after each delivery.

Started beside the relay by `mssante-hub serve` (service.start_workers); it wakes on
every committed delivery and otherwise looks every `POLL_SECONDS`, so news held back
by the interval goes out as a digest once the interval has passed.
"""

from __future__ import annotations

import asyncio
import logging

from mssante_hub import notify
from mssante_hub.hub import Hub

POLL_SECONDS = 60.0
log = logging.getLogger("mssante_hub.notify")


class NotifyWorker:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._wake = asyncio.Event()
        self._listener = lambda _delivered: self._wake.set()  # deliveries end on the loop thread
        hub.delivery_listeners.append(self._listener)
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            try:
                await notify.send_due(self.hub)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - never content in this log: the exception type only
                log.exception("notification round failed; retrying later")
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def stop(self) -> None:
        if self._listener in self.hub.delivery_listeners:
            self.hub.delivery_listeners.remove(self._listener)
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


def start(hub: Hub) -> NotifyWorker:
    """Start on the running loop; `await worker.stop()` at shutdown."""
    return NotifyWorker(hub)
