"""Events between hub processes on PostgreSQL: LISTEN/NOTIFY (events.py says what they carry).

Every serving process on PostgreSQL, under a supervisor or not, on this machine or another,
keeps one connection of its own in autocommit that LISTENs on CHANNEL; the event loop reads
its notifications when its socket becomes readable (libpq's consume_input and notifies: never
a blocking read). Publishing goes through a second connection in a thread of its own (a NOTIFY
is a round trip to the server, never made on the loop); events queued while one batch is sent
go together in the next transaction. Each process stamps its events with a random origin and
skips its own. If the listening connection breaks (the server restarted, a failover), it
reconnects with a growing pause, then every session and worker looks again (catch_up): what
was committed meanwhile is not lost, only seen late.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import secrets
import threading

import psycopg

from mssante_hub.cluster.events import EventChannel
from storage.database import is_sqlite, libpq_url

CHANNEL = "mssante_hub_events"
MAX_PAYLOAD = 7900  # PostgreSQL refuses a NOTIFY payload of 8000 bytes or more
PUBLISH_BATCH = 256
RECONNECT_PAUSES_S = (0.2, 0.5, 1.0, 2.0, 5.0)  # the last repeats
STOP_WAIT_S = 5.0
log = logging.getLogger("mssante_hub.cluster.pgevents")


class PgChannel(EventChannel):
    max_event = MAX_PAYLOAD

    def __init__(self, hub, conninfo: str) -> None:
        super().__init__(hub)
        self._conninfo = conninfo
        self._origin = secrets.token_hex(8)
        self._listening: psycopg.Connection | None = None
        # Its descriptor, kept: a broken connection no longer says it, and a reader left on a closed descriptor
        # would shadow the next connection's (asyncio would only update its record, never re-register it).
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._publisher: threading.Thread | None = None
        self._reconnecting: asyncio.Task | None = None
        self._stopping = False
        self.reconnections = 0

    @classmethod
    def for_hub(cls, hub) -> "PgChannel | None":
        url = hub.config.storage_url()
        return None if is_sqlite(url) else cls(hub, libpq_url(url))

    def stamp(self) -> dict:
        return {"o": self._origin}

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._listen()
        self._publisher = threading.Thread(target=self._publish_loop, name="pg-notify", daemon=True)
        self._publisher.start()
        self.attach()

    def stop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._stopping = True
        self.detach()
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        self._outbox.put(None)
        if self._publisher is not None:
            self._publisher.join(STOP_WAIT_S)
        self._close_listening()

    # -- listening --------------------------------------------------------------------
    def _listen(self) -> None:
        conn = psycopg.connect(self._conninfo, autocommit=True)
        try:
            conn.execute(f"LISTEN {CHANNEL}")
        except BaseException:
            conn.close()
            raise
        self._watch(conn)

    def _watch(self, conn: psycopg.Connection) -> None:
        self._listening, self._fd = conn, conn.pgconn.socket
        self._loop.add_reader(self._fd, self._readable)

    def _unwatch(self) -> None:
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            self._fd = None

    def _close_listening(self) -> None:
        self._unwatch()  # before the close: the descriptor number may be reused at once
        conn, self._listening = self._listening, None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass

    def _readable(self) -> None:
        pgconn = self._listening.pgconn
        try:
            pgconn.consume_input()
        except psycopg.Error:
            self._lost()
            return
        while True:
            notice = pgconn.notifies()
            if notice is None:
                return
            self._on_notice(notice.extra)

    def _on_notice(self, payload: bytes) -> None:
        try:
            event = json.loads(payload)
        except ValueError:
            log.error("unreadable event on %s", CHANNEL)
            return
        if isinstance(event, dict) and event.get("o") != self._origin:
            self.receive(payload)

    def _lost(self) -> None:
        log.warning("the event connection to PostgreSQL broke; reconnecting")
        self._close_listening()
        if not self._stopping:
            self._reconnecting = asyncio.ensure_future(self._reconnect())

    async def _reconnect(self) -> None:
        attempt = 0
        while not self._stopping:
            await asyncio.sleep(RECONNECT_PAUSES_S[min(attempt, len(RECONNECT_PAUSES_S) - 1)])
            attempt += 1
            try:
                conn = await self._loop.run_in_executor(None, self._open_listening)
            except psycopg.Error as exc:
                log.warning("event connection: still no PostgreSQL (%s)", type(exc).__name__)
                continue
            if self._stopping:
                conn.close()
                return
            self._watch(conn)
            self.reconnections += 1
            log.info("event connection to PostgreSQL back after %d tries", attempt)
            self.catch_up()  # what the others committed while we were away
            return

    def _open_listening(self) -> psycopg.Connection:
        conn = psycopg.connect(self._conninfo, autocommit=True)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    # -- publishing -------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        self._outbox.put(data)

    def _publish_loop(self) -> None:
        conn = None
        while True:
            batch = [self._outbox.get()]
            while len(batch) < PUBLISH_BATCH:
                try:
                    batch.append(self._outbox.get_nowait())
                except queue.Empty:
                    break
            done = None in batch
            events = list(dict.fromkeys(item for item in batch if item is not None))
            if events:
                try:
                    if conn is None:
                        conn = psycopg.connect(self._conninfo, autocommit=True)
                    with conn.transaction():  # delivered together, at its commit
                        for data in events:
                            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, data.decode()))
                except psycopg.Error as exc:
                    self.dropped += len(events)  # the others' periodic look catches up
                    log.warning("events not published (%s)", type(exc).__name__)
                    if conn is not None:
                        conn.close()
                    conn = None
            if done:
                break
        if conn is not None:
            conn.close()
