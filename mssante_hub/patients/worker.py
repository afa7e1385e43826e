"""The notification worker of a serving hub: sends due notifications soon after each delivery.

Started beside the relay by `mssante-hub serve` (service.start_workers); it wakes on
a committed delivery to a patient space and otherwise looks every `POLL_SECONDS`, so
news held back by the interval goes out as a digest once the interval has passed.
Deliveries among professionals never wake it, and rounds are at least `MIN_GAP_SECONDS`
apart: under a stream of deliveries it costs one query a second, not one per message
(profiled at ~10 % of the SMTP ingest when it woke on every delivery).
"""

from __future__ import annotations

import asyncio
import logging

from mssante_hub import notify
from mssante_hub.hub import Hub

POLL_SECONDS = 60.0
MIN_GAP_SECONDS = 1.0
log = logging.getLogger("mssante_hub.notify")


class NotifyWorker:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._wake = asyncio.Event()
        self._stopping = False
        self._patient_suffix = "@" + hub.config.get("hub.patient_domain").lower()
        hub.delivery_listeners.append(self._listener)
        self._task = asyncio.ensure_future(self._run())

    def _listener(self, delivered) -> None:
        # Called on the loop thread once a delivery is committed; addresses are lower case.
        if any(address.endswith(self._patient_suffix) for address in delivered.uids):
            self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()  # before the round: a delivery during it wakes the next one
            try:
                await notify.send_due(self.hub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - never content in this log: the exception type only
                log.error("notification round failed (%s); retrying later", type(exc).__name__)
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            except asyncio.TimeoutError:
                pass
            # Python 3.11's wait_for returns, swallowing a cancellation, when the event is set at the
            # same moment: the flag, not the cancellation alone, ends the loop.
            if self._stopping:
                return
            await asyncio.sleep(MIN_GAP_SECONDS)  # deliveries of the next second share one round

    async def stop(self) -> None:
        self._stopping = True
        if self._listener in self.hub.delivery_listeners:
            self.hub.delivery_listeners.remove(self._listener)
        self._wake.set()
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


def start(hub: Hub) -> NotifyWorker:
    """Start on the running loop; `await worker.stop()` at shutdown."""
    return NotifyWorker(hub)
