"""Several hub processes not under one supervisor (as on several machines), on one PostgreSQL (issue 16):
LISTEN/NOTIFY carries one's commits to the others' IDLE sessions; the relay sends each message once."""

from __future__ import annotations

import collections
import shutil
import smtplib
import time
from contextlib import ExitStack

from mssante_hub.config import Config
from tests.relays.peer import free_port, start_peer
from tests.smtp.support import REMOTE_DOMAIN, configure_smtp, make_pki
from tests.support.mail import make_message
from tests.support.postgres import unique_db_name
from tests.support.served import served
from tests.test_workers import PASSWORD, SENDER, init_hub
from tests.imap.support import Raw, login_raw

RELAY_PROCESSES = 3
RELAYED_EACH = 15


def machines(tmp_path, postgres, count: int, **settings) -> tuple[list, list[str]]:
    """One data folder per 'machine': the same settings and keys (copied, as an operator deploys them)."""
    first, users = init_hub(tmp_path, postgres.create_database(unique_db_name()), **settings)
    folders = [first]
    for n in range(1, count):
        folders.append(shutil.copytree(first, tmp_path / f"hub{n}"))
    return folders, users


def idle(port: int, user: str) -> Raw:
    raw = Raw(port)
    login_raw(raw, user, PASSWORD)
    raw.send(b"s SELECT INBOX\r\n")
    raw.until_tagged(b"s")
    raw.send(b"i IDLE\r\n")
    assert raw.line().startswith(b"+")
    return raw


def test_a_delivery_in_one_hub_process_wakes_idle_in_another(tmp_path, postgres):
    (one, two), users = machines(tmp_path, postgres, 2)
    with served(one, ["mx", "imaps"]) as hub_a, served(two, ["imaps"]) as hub_b:
        watching = idle(hub_b.port("imaps"), users[0])
        with smtplib.SMTP("127.0.0.1", hub_a.port("mx"), timeout=60) as client:
            client.sendmail(SENDER, [users[0]], make_message(SENDER, users[0], "D'une autre machine", "texte"))
        assert watching.line() == b"* 1 EXISTS"  # Raw's 30 s timeout is the guard; IDLE's own look is 600 s
        watching.send(b"DONE\r\n")
        watching.until_tagged(b"i")
        watching.send(b"j IDLE\r\n")
        assert watching.line().startswith(b"+")
        flagging = Raw(hub_a.port("imaps"))
        login_raw(flagging, users[0], PASSWORD)
        flagging.send(b"s SELECT INBOX\r\nf STORE 1 +FLAGS (\\Flagged)\r\n")
        flagging.until_tagged(b"f")
        assert b"\\Flagged" in watching.line()
        flagging.close()
        watching.close()
        assert hub_a.stop() == 0 and hub_b.stop() == 0


def test_three_hub_processes_relay_each_message_once(tmp_path, postgres):
    pki = make_pki(tmp_path)
    port = free_port()
    folders, users = machines(tmp_path, postgres, 1)
    configure_smtp(folders[0], pki, **{"relay.routes": [f"{REMOTE_DOMAIN}=127.0.0.1:{port}"]})
    folders += [shutil.copytree(folders[0], tmp_path / f"relay{n}") for n in range(1, RELAY_PROCESSES)]
    peer, handler = start_peer(pki, port)
    try:
        with ExitStack() as stack:
            hubs = [stack.enter_context(served(folder, ["submission"])) for folder in folders]
            for index, hub in enumerate(hubs):
                with smtplib.SMTP("127.0.0.1", hub.port("submission"), timeout=60) as client:
                    client.starttls(context=pki.client_context(None))
                    client.login(users[0], PASSWORD)
                    for n in range(RELAYED_EACH):
                        to, subject = f"confrere{n}@{REMOTE_DOMAIN}", f"r={index}.{n}"
                        assert client.sendmail(users[0], [to], make_message(users[0], to, subject, "x")) == {}
            expected = RELAY_PROCESSES * RELAYED_EACH
            deadline = time.monotonic() + 120  # a guard: each delivery wakes the relay, wherever it runs
            while len(handler.received) < expected and time.monotonic() < deadline:
                time.sleep(0.05)
            for hub in hubs:
                assert hub.stop() == 0
    finally:
        peer.stop()
    sent = collections.Counter(r.content.split(b"Subject: ")[1].split(b"\r\n")[0].decode() for r in handler.received)
    assert sent == collections.Counter({f"r={i}.{n}": 1 for i in range(RELAY_PROCESSES) for n in range(RELAYED_EACH)})


def test_the_event_connection_comes_back_after_postgresql_dropped_it(tmp_path, postgres):
    """The server ends the listening sessions (as a restart or failover does): the hub reconnects and looks again."""
    import psycopg

    (one, two), users = machines(tmp_path, postgres, 2)
    url = Config.load(one).get("storage.url")
    with served(one, ["mx"]) as hub_a, served(two, ["imaps"]) as hub_b:
        watching = idle(hub_b.port("imaps"), users[0])
        with psycopg.connect(url, autocommit=True) as admin:
            ended = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()").fetchall()
        assert len(ended) == 2  # one per hub process
        with smtplib.SMTP("127.0.0.1", hub_a.port("mx"), timeout=60) as client:
            client.sendmail(SENDER, [users[0]], make_message(SENDER, users[0], "Après la coupure", "texte"))
        assert watching.line() == b"* 1 EXISTS"  # Raw's 30 s timeout is the guard; IDLE's own look is 600 s
        watching.close()
        assert hub_a.stop() == 0 and hub_b.stop() == 0
    assert "event connection to PostgreSQL back" in hub_b.log()
