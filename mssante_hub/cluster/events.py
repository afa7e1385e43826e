"""Events between hub processes: what one commits, the others' IDLE sessions, relay and notifications learn.

Every serving process publishes, after commit, each delivery (its local recipients' addresses
and whether the relay has work) and each folder an IMAP session of its own changed (flags,
expunge, copy, move); told of another process's, it wakes its IDLE sessions, its relay and its
notification worker through the same calls as for its own (hub.delivery_listeners,
Notifier.changed). Nothing is written to disk; an event lost is caught up by IDLE's periodic
look (imap.idle_poll_seconds). What one process publishes within COALESCE_S goes out as one
event (the addresses and folders of all of it): under SMTP load a datagram and a wake-up of
every other worker per delivery cost ~0.15 CPU-ms a message (bench/smtp_ingest.py, two workers),
and an IDLE session learns 5 ms later, well inside its second. EventChannel is what both
transports share:

- WorkerChannel (here, SQLite under `serve --workers N`): the supervisor hands each worker one end
  of a Unix datagram socket pair (its descriptor in MSSANTE_HUB_EVENTS_FD) and forwards every
  datagram a worker sends to all the others (one machine only);
- PgChannel (pgevents.py, PostgreSQL): LISTEN/NOTIFY on the hub's database, so processes on
  several machines, under a supervisor or not, reach each other.
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
COALESCE_S = 0.005
# Past this many recipients pending, the event leaves at once: it stays within a NOTIFY payload (pgevents.py),
# where a longer one would become "everyone looks" and wake every IDLE session of the other processes.
COALESCE_MAX_ADDRESSES = 100
log = logging.getLogger("mssante_hub.cluster.events")


@dataclass(frozen=True)
class RemoteDelivery:
    """What a delivery listener reads of a Delivered, for a delivery another process committed."""

    uids: dict[str, None]
    queued: tuple[str, ...]


class EventChannel:
    """The events' shape and what a received one does; a transport gives `_send` and calls `_apply`."""

    max_event = MAX_DATAGRAM

    def __init__(self, hub) -> None:
        self._hub = hub
        self.received = 0
        self.dropped = 0
        self._pending_addresses: dict[str, None] = {}
        self._pending_queued = False
        self._pending_folders: set[int] = set()
        self._flush_handle: asyncio.TimerHandle | None = None

    def attach(self) -> None:
        """After the front doors started (the IMAP notifier exists then, if IMAP listens)."""
        self._hub.delivery_listeners.append(self._publish_delivery)
        notifier = getattr(self._hub, "imap_notifier", None)
        if notifier is not None:
            notifier.publish_folder = self._publish_folder

    def detach(self) -> None:
        self.flush()  # what is pending leaves before the channel closes
        if self._publish_delivery in self._hub.delivery_listeners:
            self._hub.delivery_listeners.remove(self._publish_delivery)
        notifier = getattr(self._hub, "imap_notifier", None)
        if notifier is not None and notifier.publish_folder == self._publish_folder:
            notifier.publish_folder = None

    # -- out -------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        raise NotImplementedError

    def encode(self, event: dict) -> bytes:
        data = json.dumps(event, separators=(",", ":")).encode()
        if len(data) > self.max_event:
            # Too many recipients to name: everyone looks.
            data = json.dumps({"d": [], "q": bool(event.get("q")), "all": True, **self.stamp()}).encode()
        return data

    def stamp(self) -> dict:
        """Extra fields every event carries (PgChannel: its origin, to skip its own)."""
        return {}

    def _publish_delivery(self, delivered) -> None:
        if isinstance(delivered, RemoteDelivery):
            return
        self._pending_addresses.update(dict.fromkeys(delivered.uids))
        self._pending_queued = self._pending_queued or bool(delivered.queued)
        if len(self._pending_addresses) >= COALESCE_MAX_ADDRESSES:
            self.flush()
            return
        self._schedule()

    def _publish_folder(self, folder_id: int) -> None:
        self._pending_folders.add(int(folder_id))
        self._schedule()

    def _schedule(self) -> None:
        if self._flush_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # published off the loop (a command-line tool): at once
            self.flush()
            return
        self._flush_handle = loop.call_later(COALESCE_S, self.flush)

    def flush(self) -> None:
        """Send what was published since the last event, as one event (nothing if nothing was)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if not (self._pending_addresses or self._pending_queued or self._pending_folders):
            return
        event: dict = {"d": list(self._pending_addresses), "q": self._pending_queued, **self.stamp()}
        if self._pending_folders:
            event["f"] = sorted(self._pending_folders)
        self._pending_addresses, self._pending_queued, self._pending_folders = {}, False, set()
        self._send(self.encode(event))

    # -- in --------------------------------------------------------------------------
    def receive(self, data: bytes | str) -> None:
        try:
            self._apply(json.loads(data))
        except Exception as exc:  # noqa: BLE001 - one bad event never stops the process
            log.error("event from another hub process not applied (%s)", type(exc).__name__)

    def catch_up(self) -> None:
        """Events may have been missed (a reconnection): every session and worker looks again."""
        self._apply({"d": [], "q": True, "all": True})

    def _apply(self, event: dict) -> None:
        self.received += 1
        notifier = getattr(self._hub, "imap_notifier", None)
        if notifier is not None:
            for folder_id in event.get("f", ()):
                notifier.changed(int(folder_id))
        if not event.get("d") and not event.get("q") and not event.get("all"):
            return  # folders only
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
                log.error("after-delivery listener failed on another process's delivery (%s)", type(exc).__name__)


class WorkerChannel(EventChannel):
    """The workers of one supervisor (SQLite): datagrams relayed by the parent."""

    def __init__(self, hub, sock: socket.socket) -> None:
        super().__init__(hub)
        self._sock = sock
        self._sock.setblocking(False)

    @classmethod
    def from_environment(cls, hub) -> "WorkerChannel | None":
        fd = os.environ.get(ENV_FD)
        if not fd:
            return None
        return cls(hub, socket.socket(fileno=int(fd)))

    def start(self, loop) -> None:
        loop.add_reader(self._sock.fileno(), self._receive)
        self.attach()

    def stop(self, loop) -> None:
        loop.remove_reader(self._sock.fileno())
        self.detach()
        self._sock.close()

    def _send(self, data: bytes) -> None:
        try:
            self._sock.send(data)
        except (BlockingIOError, OSError):
            self.dropped += 1  # the others' periodic look catches up

    def _receive(self) -> None:
        while True:
            try:
                data = self._sock.recv(MAX_DATAGRAM)
            except OSError:  # BlockingIOError included: nothing more to read now
                return
            self.receive(data)
