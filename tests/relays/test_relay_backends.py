"""Several relay workers on one database never send a message twice: SQLite and PostgreSQL (SKIP LOCKED)."""

from __future__ import annotations

import asyncio

from mssante_hub import relaying
from mssante_hub.delivery import Envelope, accept
from mssante_hub.hub import Hub
from storage.models import OutboundItem
from tests.conftest import add_professional
from tests.relays.peer import free_port, start_peer
from tests.smtp.messages import message
from tests.smtp.support import REMOTE_DOMAIN, LoopThread, configure_smtp, make_pki

MESSAGES = 16
WORKERS = 3


def test_workers_share_the_queue_without_duplicates(any_data_dir, tmp_path):
    pki = make_pki(tmp_path)
    port = free_port()
    configure_smtp(any_data_dir, pki, **{"relay.routes": [f"{REMOTE_DOMAIN}=127.0.0.1:{port}"],
                                         "relay.concurrency": 2})
    hub = Hub.open(any_data_dir)
    loop = LoopThread()
    peer, handler = start_peer(pki, port)
    try:
        sender = add_professional(hub, "jean.dupont")
        rcpt = f"confrere@{REMOTE_DOMAIN}"

        async def enqueue():
            for n in range(MESSAGES):
                await accept(hub, Envelope(sender, (rcpt,), channel="submission"),
                             message(sender, rcpt, subject=f"n={n}"))

        loop.run(enqueue())
        workers = [relaying.build(hub) for _ in range(WORKERS)]

        async def all_workers():
            total = 0
            while True:
                done = await asyncio.gather(*(w.run_once() for w in workers))
                total += sum(done)
                if not any(done):
                    return total

        assert loop.run(all_workers()) == MESSAGES
        subjects = sorted(r.content.split(b"Subject: ")[1].split(b"\r\n")[0] for r in handler.received)
        assert subjects == sorted(f"n={n}".encode() for n in range(MESSAGES))
        states = hub.read_sync(lambda c: c.execute(OutboundItem.__table__.select()).all())
        assert {(s.state, s.attempts) for s in states} == {("sent", 1)}
    finally:
        peer.stop()
        loop.stop()
        hub.close()
