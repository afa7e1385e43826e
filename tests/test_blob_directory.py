"""The directory blob store (issue 16): a crash between the blob write and its commit leaves no visible message,
the sweeper leaves the in-flight file alone, then deletes the orphan; on SQLite and PostgreSQL.

The crash is real: a served hub with the store's test hook (storage/blobstore.PAUSE_HOOK_ENV) stops after the
batch's files are durable and before the commit, and is killed with SIGKILL there."""

from __future__ import annotations

import os
import signal
import smtplib
import threading
import time

from mssante_hub.hub import Hub
from mssante_hub.reader import read_folder
from storage import blobstore
from tests.support.mail import make_message
from tests.support.served import served
from tests.test_workers import SENDER, init_hub

HOOK_GUARD_S = 60  # a guard against hangs, not a timing assertion


def _send_in_background(port: int, to: str) -> threading.Thread:
    def send() -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=HOOK_GUARD_S * 2) as smtp:
                smtp.sendmail(SENDER, [to], make_message(SENDER, to, "Compte rendu", "Texte confidentiel"))
        except (smtplib.SMTPException, OSError):
            pass  # the hub is killed before it answers: never acknowledged
    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_a_crash_between_blob_write_and_commit_leaves_no_message_and_the_sweeper_no_orphan(tmp_path, storage_url):
    data_dir, users = init_hub(tmp_path, storage_url, **{"storage.blob_store": blobstore.DIRECTORY})
    blob_dir = data_dir / "blobs"
    marker = tmp_path / "paused"
    with served(data_dir, ["mx"], extra_env={blobstore.PAUSE_HOOK_ENV: str(marker)}) as server:
        sender = _send_in_background(server.port("mx"), users[0])
        deadline = time.monotonic() + HOOK_GUARD_S
        while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the hub never reached the point between blob write and commit"
        assert len(blobstore.files(blob_dir)) == 1  # durable before the commit
        with Hub.open(data_dir, upgrade_schema=False) as other:  # a second hub's sweeper, the commit in flight
            assert other.blobs.sweep(other.engine, other.config.get("storage.blob_sweep_grace_s")) == 0
        assert len(blobstore.files(blob_dir)) == 1
        os.kill(int(marker.read_text()), signal.SIGKILL)
        sender.join(HOOK_GUARD_S)
        server.stop(signal.SIGKILL)
    with Hub.open(data_dir) as hub:
        assert read_folder(hub, users[0]) == []  # nothing visible
        assert len(blobstore.files(blob_dir)) == 1  # the orphan, until the sweep
        assert hub.blobs.sweep(hub.engine, 0) == 1
    assert blobstore.files(blob_dir) == []


def test_bodies_are_files_read_back_and_expunged_files_go_at_the_sweep(tmp_path, storage_url):
    import asyncio

    from mssante_hub.delivery import Envelope, accept
    from storage import folders, messages

    data_dir, users = init_hub(tmp_path, storage_url, **{"storage.blob_store": blobstore.DIRECTORY})
    with Hub.open(data_dir) as hub:
        raws = [make_message(SENDER, users[0], f"Résultat {n}", f"Texte {n}") for n in range(3)]

        async def deliver():
            for raw in raws:
                await accept(hub, Envelope(SENDER, (users[0],), channel="mx"), raw)
        asyncio.run(deliver())
        files = blobstore.files(data_dir / "blobs")
        assert len(files) == 3
        with hub.engine.connect() as conn:  # the rows hold no body: the files do
            bodies = [r[0] for r in conn.exec_driver_sql("SELECT body FROM blobs").all()]
        assert len(bodies) >= 3 and all(len(b) == 0 for b in bodies)
        assert [m.raw for m in read_folder(hub, users[0])] == raws
        account = hub.accounts_by_address([users[0]])[users[0]]

        def expunge_first(conn):
            fid = folders.folder_id(conn, account.id, "INBOX")
            conn.exec_driver_sql(f"UPDATE messages SET flags = '\\Deleted' WHERE folder_id = {fid} AND uid = 1")
            assert messages.expunge(conn, fid) == [1]
        hub.committer.run(expunge_first)
        # Forgotten by this process: gone at the next sweep, whatever its age; the other two stay.
        assert hub.blobs.sweep(hub.engine, hub.config.get("storage.blob_sweep_grace_s")) == 1
        assert len(blobstore.files(data_dir / "blobs")) == 2
        assert [m.raw for m in read_folder(hub, users[0])] == raws[1:]
