"""Events between workers leave coalesced (mssante_hub/cluster/events.py): what one process publishes within
COALESCE_S is one datagram naming every recipient and folder, and the receiving side acts on all of it. The live
cross-worker wake-ups are tests/test_workers.py and tests/test_several_hubs.py; this checks the shape on a real
Unix datagram socket pair."""

from __future__ import annotations

import asyncio
import json
import socket
from types import SimpleNamespace

from mssante_hub.cluster.events import COALESCE_MAX_ADDRESSES, COALESCE_S, RemoteDelivery, WorkerChannel
from mssante_hub.cluster.pgevents import MAX_PAYLOAD
from mssante_hub.envelope import Delivered

DELIVERIES = 50


class Notifier:
    """What a channel tells the IMAP side: the folders it hears of."""

    def __init__(self) -> None:
        self.folders: list[int] = []
        self.publish_folder = None

    def changed(self, folder_id: int) -> None:
        self.folders.append(folder_id)

    def changed_all(self) -> None:
        self.folders.append(-1)


def received(sock: socket.socket) -> list[dict]:
    sock.setblocking(False)
    found = []
    while True:
        try:
            found.append(json.loads(sock.recv(65536)))
        except BlockingIOError:
            return found


def test_a_burst_of_deliveries_and_folder_changes_leaves_as_one_event():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    hub = SimpleNamespace(delivery_listeners=[], listener_failures=0, imap_notifier=Notifier())
    channel = WorkerChannel(hub, ours)

    async def burst() -> None:
        loop = asyncio.get_running_loop()
        channel.start(loop)
        for n in range(DELIVERIES):
            for listener in list(hub.delivery_listeners):
                listener(Delivered(f"blob{n}", {f"dr.{n}@hub.test": n + 1}, ("remote",) if n == 7 else ()))
        hub.imap_notifier.publish_folder(11)
        hub.imap_notifier.publish_folder(12)
        await asyncio.sleep(COALESCE_S * 10)
        channel.stop(loop)

    asyncio.run(burst())
    events = received(theirs)
    assert len(events) == 1, events
    assert set(events[0]["d"]) == {f"dr.{n}@hub.test" for n in range(DELIVERIES)}
    assert events[0]["q"] is True and events[0]["f"] == [11, 12]


def test_the_receiving_side_acts_on_every_recipient_and_folder_of_one_event():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    seen: list[RemoteDelivery] = []
    hub = SimpleNamespace(delivery_listeners=[seen.append], listener_failures=0, imap_notifier=Notifier())
    channel = WorkerChannel(hub, ours)
    channel.receive(json.dumps({"d": ["a@hub.test", "b@hub.test"], "q": False, "f": [3, 4]}))
    assert hub.imap_notifier.folders == [3, 4]
    assert len(seen) == 1 and set(seen[0].uids) == {"a@hub.test", "b@hub.test"} and seen[0].queued == ()
    channel.receive(json.dumps({"d": [], "q": False, "f": [5]}))  # folders only: no delivery listener woken
    assert hub.imap_notifier.folders == [3, 4, 5] and len(seen) == 1
    theirs.close()
    ours.close()


def test_what_is_pending_at_stop_still_leaves():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    hub = SimpleNamespace(delivery_listeners=[], listener_failures=0, imap_notifier=None)
    channel = WorkerChannel(hub, ours)

    async def publish_and_stop() -> None:
        loop = asyncio.get_running_loop()
        channel.start(loop)
        hub.delivery_listeners[0](Delivered("blob", {"last@hub.test": 1}, ()))
        channel.stop(loop)  # before the window ran out

    asyncio.run(publish_and_stop())
    assert [e["d"] for e in received(theirs)] == [["last@hub.test"]]


def test_a_long_burst_leaves_in_events_that_each_fit_a_notify_and_name_their_recipients():
    """Coalescing never turns a burst into "everyone looks": past COALESCE_MAX_ADDRESSES the event leaves at once."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    hub = SimpleNamespace(delivery_listeners=[], listener_failures=0, imap_notifier=None)
    channel = WorkerChannel(hub, ours)
    burst = COALESCE_MAX_ADDRESSES * 2 + 10
    sizes: list[int] = []

    async def publish() -> None:
        loop = asyncio.get_running_loop()
        channel.start(loop)
        for n in range(burst):
            hub.delivery_listeners[0](Delivered(f"b{n}", {f"dr.prenom.nom.{n:05d}@hopital-exemple.fr": 1}, ()))
        await asyncio.sleep(COALESCE_S * 10)
        channel.stop(loop)

    asyncio.run(publish())
    theirs.setblocking(False)
    events = []
    while True:
        try:
            data = theirs.recv(65536)
        except BlockingIOError:
            break
        sizes.append(len(data))
        events.append(json.loads(data))
    assert len(events) == 3 and not any(e.get("all") for e in events)
    assert sum(len(e["d"]) for e in events) == burst
    assert max(sizes) < MAX_PAYLOAD
