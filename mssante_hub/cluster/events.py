"""A worker's side of the event relay between the workers of one machine.

The supervisor hands each worker one end of a Unix datagram socket pair (its descriptor in
MSSANTE_HUB_EVENTS_FD) and forwards every datagram a worker sends to all the others. A worker
publishes, after commit, each delivery (its local recipients' addresses and whether the relay has
work) and each folder an IMAP session of its own changed (flags, expunge, copy, move); told of
another worker's, it wakes its IDLE sessions, its relay and its notification worker through the
same calls as for its own (hub.delivery_listeners, Notifier.changed). Nothing is written to disk;
a datagram lost (a full buffer) is caught up by IDLE's periodic look (imap.idle_poll_seconds).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from dataclasses import dataclass

ENV_FD = "MSSANTE_HUB_EVENTS_FD"
MAX_DATAGRAM = 64 * 1024
log = logging.getLogger("mssante_hub.cluster.events")


@dataclass(frozen=True)
class RemoteDelivery:
    """What a delivery listener reads of a Delivered, for a delivery another worker committed."""

    uids: dict[str, None]
    queued: tuple[str, ...]


class WorkerChannel:
    def __init__(self, hub, sock: socket.socket) -> None:
        self._hub = hub
        self._sock = sock
        self._sock.setblocking(False)
        self.received = 0
        self.dropped = 0

    @classmethod
    def from_environment(cls, hub) -> "WorkerChannel | None":
        fd = os.environ.get(ENV_FD)
        if not fd:
            return None
        return cls(hub, socket.socket(fileno=int(fd)))

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """After the front doors started (the IMAP notifier exists then, if IMAP listens)."""
        loop.add_reader(self._sock.fileno(), self._receive)
        self._hub.delivery_listeners.append(self._publish_delivery)
        notifier = getattr(self._hub, "imap_notifier", None)
        if notifier is not None:
            notifier.publish_folder = self._publish_folder

    def stop(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.remove_reader(self._sock.fileno())
        if self._publish_delivery in self._hub.delivery_listeners:
            self._hub.delivery_listeners.remove(self._publish_delivery)
        self._sock.close()

    # -- out -------------------------------------------------------------------------
    def _send(self, event: dict) -> None:
        data = json.dumps(event, separators=(",", ":")).encode()
        if len(data) > MAX_DATAGRAM:
            event = {"d": [], "q": bool(event.get("q")), "all": True}  # too many recipients: everyone looks
            data = json.dumps(event).encode()
        try:
            self._sock.send(data)
        except (BlockingIOError, OSError):
            self.dropped += 1  # the others' periodic look catches up

    def _publish_delivery(self, delivered) -> None:
        if isinstance(delivered, RemoteDelivery):
            return
        self._send({"d": list(delivered.uids), "q": bool(delivered.queued)})

    def _publish_folder(self, folder_id: int) -> None:
        self._send({"f": int(folder_id)})

    # -- in --------------------------------------------------------------------------
    def _receive(self) -> None:
        while True:
            try:
                data = self._sock.recv(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            try:
                event = json.loads(data)
                self._apply(event)
            except Exception as exc:  # noqa: BLE001 - one bad event never stops the worker
                log.error("event from another worker not applied (%s)", type(exc).__name__)

    def _apply(self, event: dict) -> None:
        self.received += 1
        notifier = getattr(self._hub, "imap_notifier", None)
        if "f" in event:
            if notifier is not None:
                notifier.changed(int(event["f"]))
            return
        if event.get("all") and notifier is not None:
            notifier.changed_all()
        remote = RemoteDelivery({str(a): None for a in event.get("d", ())}, ("remote",) if event.get("q") else ())
        for listener in list(self._hub.delivery_listeners):
            if listener is self._publish_delivery:
                continue
            try:
                listener(remote)
            except Exception as exc:  # noqa: BLE001 - as delivery.accept guards its listeners
                self._hub.listener_failures += 1
                log.error("after-delivery listener failed on another worker's delivery (%s)", type(exc).__name__)
