"""Small reads on the event loop (storage/loop_reader.py), seen from outside: real IMAP clients on a served
hub, and the hub's own /metrics (`mssante_hub_db_reads_total{where}`) telling where each read ran.

- On SQLite a one-message FETCH of a small message reads on the loop; one of a message past
  imap/fetch.SMALL_BODY_BYTES goes to the read pool (its decryption is not the loop's work).
- `storage.small_reads_on_loop = false` sends everything to the pool; PostgreSQL always does.
- The loop's connection ends each read's transaction (a WAL checkpoint can complete right after), belongs
  to one thread (another goes to the pool), and is replaced after a database error.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from mssante_hub.config import Config
from mssante_hub.hub import Hub
from mssante_hub.imap.fetch import SMALL_BODY_BYTES
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.imap.support import imaps, message
from tests.support.postgres import unique_db_name
from tests.support.served import served
from tests.test_observability import scrape, value

READS = "mssante_hub_db_reads_total"


def _hub(tmp_path, storage_url: str | None = None, **settings) -> tuple:
    data_dir = make_data_dir(tmp_path, storage_url)
    config = Config.load(data_dir)
    for key, val in settings.items():
        config.set(key.replace("__", "."), val)
    config.save()
    hub = Hub.open(data_dir)
    try:
        user = add_professional(hub, "lecteur")
    finally:
        hub.close()
    return data_dir, user


def _reads(port: int) -> tuple[float, float]:
    samples = scrape(port)
    return value(samples, READS, where="loop"), value(samples, READS, where="pool")


def _body(client, number: str) -> bytes:
    return client.fetch(number, "(BODY.PEEK[])")[1][0][1]


def _two_messages(client, user: str) -> tuple[bytes, bytes]:
    small = message("Compte rendu court", to=user)
    big = message("Compte rendu long", to=user, body="Ligne de compte rendu.\r\n" * (SMALL_BODY_BYTES // 16))
    assert len(big) > SMALL_BODY_BYTES > len(small)
    for raw in (small, big):
        assert client.append("INBOX", None, None, raw)[0] == "OK"
    client.select("INBOX")
    return small, big


def test_small_fetch_reads_on_the_loop_and_a_big_body_in_the_pool(tmp_path):
    data_dir, user = _hub(tmp_path)
    with served(data_dir, ["imaps", "web"]) as running:
        client = imaps(running.port("imaps"), user, TEST_PASSWORD)
        small, big = _two_messages(client, user)
        loop0, pool0 = _reads(running.port("web"))
        assert _body(client, "1") == small
        loop1, pool1 = _reads(running.port("web"))
        assert loop1 >= loop0 + 1
        assert _body(client, "2") == big
        loop2, pool2 = _reads(running.port("web"))
        assert pool2 >= pool1 + 1
        assert loop0 > 0  # the login's account read and the folder catching up after APPEND ran there too
        client.logout()


def _assert_every_read_in_the_pool(data_dir, user: str) -> None:
    with served(data_dir, ["imaps", "web"]) as running:
        client = imaps(running.port("imaps"), user, TEST_PASSWORD)
        small, big = _two_messages(client, user)
        assert _body(client, "1") == small and _body(client, "2") == big
        loop, pool = _reads(running.port("web"))
        assert loop == 0 and pool >= 1
        client.logout()


def test_the_setting_off_sends_every_read_to_the_pool(tmp_path):
    _assert_every_read_in_the_pool(*_hub(tmp_path, storage__small_reads_on_loop=False))


def test_postgresql_reads_always_in_the_pool(postgres, tmp_path):
    _assert_every_read_in_the_pool(*_hub(tmp_path, postgres.create_database(unique_db_name())))


@pytest.fixture
def hub(tmp_path):
    data_dir, _ = _hub(tmp_path)
    with Hub.open(data_dir) as opened:
        yield opened


def _read_thread(hub: Hub) -> int:
    return asyncio.run(hub.read(lambda conn: threading.get_ident(), small=True))


def test_loop_reads_belong_to_one_thread_and_end_their_transaction(hub):
    assert _read_thread(hub) == threading.get_ident()  # the first thread to ask owns the connection
    elsewhere: list[int] = []
    other = threading.Thread(target=lambda: elsewhere.append(_read_thread(hub)))
    other.start()
    other.join()
    assert elsewhere[0] != other.ident  # another thread's read went to the pool
    asyncio.run(hub.read(lambda conn: conn.execute(text("SELECT count(*) FROM messages")).scalar_one(), small=True))
    with hub.engine.begin() as conn:  # written after the read: a snapshot still open would pin these frames
        conn.execute(text("CREATE TABLE written_after (x INTEGER)"))
    # The loop's connection stays open between reads, but outside a transaction: a checkpoint of the whole
    # WAL completes (busy = 0) with it open.
    database = hub.engine.url.database
    with sqlite3.connect(database) as probe:
        busy, _, _ = probe.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0


def _break_then_read(conn):
    conn.connection.dbapi_connection.close()  # as a broken connection would be
    return conn.execute(text("SELECT 1"))


def test_loop_connection_replaced_after_a_database_error(hub):
    assert asyncio.run(hub.read(lambda conn: conn.execute(text("SELECT 1")).scalar_one(), small=True)) == 1
    with pytest.raises(DBAPIError):
        asyncio.run(hub.read(_break_then_read, small=True))
    assert asyncio.run(hub.read(lambda conn: conn.execute(text("SELECT 1")).scalar_one(), small=True)) == 1
