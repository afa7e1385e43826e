"""No plaintext on disk: unique markers in subjects, bodies and attachment names never reach a file."""

import asyncio
import os
import uuid
from pathlib import Path

from mssante_hub.delivery import Envelope, accept
from mssante_hub.hub import Hub
from tests.conftest import add_professional, make_data_dir
from tests.support.mail import make_message
from tests.support.postgres import unique_db_name

MESSAGES = 200


def markers_for(run: str, n: int) -> tuple[str, str, str]:
    return f"SUBJ{run}{n:04d}", f"BODY{run}{n:04d}", f"FILE{run}{n:04d}"


def deliver_marked(hub: Hub, run: str) -> list[bytes]:
    reader = add_professional(hub, "dr.marqueur")

    async def send_all():
        jobs = []
        for n in range(MESSAGES):
            subject, body, filename = markers_for(run, n)
            raw = make_message("labo@bio.example", reader, f"Résultat {subject}", f"Texte {body}",
                               attachment=(f"{filename}.pdf", os.urandom(256)))
            jobs.append(accept(hub, Envelope("labo@bio.example", (reader,), channel="mx"), raw))
        await asyncio.gather(*jobs)

    asyncio.run(send_all())
    return [m.encode() for n in range(MESSAGES) for m in markers_for(run, n)] + [f"{run}".encode()]


def scan(paths: list[Path], needles: list[bytes]) -> list[tuple[str, bytes]]:
    """(file, needle) for every needle found in a file.

    Every marker embeds the run's token, so a file without the token holds no marker:
    the per-needle search runs only on files where the token shows.
    """
    token = min(needles, key=len)
    assert all(token in needle for needle in needles)
    hits = []
    for path in paths:
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # a live server's transient file (PostgreSQL's relcache init) went away
            continue
        if token in data:
            hits += [(str(path), needle) for needle in needles if needle in data]
    return hits


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_no_marker_in_any_file_of_the_sqlite_data_folder(tmp_path):
    data_dir = make_data_dir(tmp_path)
    run = uuid.uuid4().hex[:10].upper()
    hub = Hub.open(data_dir)
    try:
        needles = deliver_marked(hub, run)
        open_files = files_under(data_dir)
        # While the hub is open: database, -wal and -shm as they are at this moment.
        assert any(p.name.endswith("-wal") for p in open_files)
        assert scan(open_files, needles) == []
    finally:
        hub.close()
    assert scan(files_under(data_dir), needles) == []
    assert scan(files_under(tmp_path), needles) == []  # temp files beside it too


def test_no_marker_in_a_postgresql_dump_nor_its_files(tmp_path, postgres):
    name = unique_db_name()
    data_dir = make_data_dir(tmp_path, postgres.create_database(name))
    run = uuid.uuid4().hex[:10].upper()
    hub = Hub.open(data_dir)
    try:
        needles = deliver_marked(hub, run)
    finally:
        hub.close()
    dump = postgres.dump(name)
    assert b"wrapped_keys" in dump  # the dump is real and holds our tables
    assert [n for n in needles if n in dump] == []
    assert scan(files_under(postgres.datadir), needles) == []
    assert scan(files_under(data_dir), needles) == []


def test_served_hub_writes_no_marker_to_disk_nor_to_its_output(tmp_path):
    """Through the real SMTP listener: data folder, temp files and the process's own output stay clean."""
    import smtplib

    from mssante_hub.config import Config
    from tests.support.served import served

    data_dir = make_data_dir(tmp_path)
    config = Config.load(data_dir)
    config.set("mx.trusted_networks", ["127.0.0.0/8"])
    config.save()
    hub = Hub.open(data_dir)
    reader = add_professional(hub, "dr.smtp")
    hub.close()
    run = uuid.uuid4().hex[:10].upper()
    needles = [run.encode()]
    with served(data_dir, ["mx"], extra_env={"TMPDIR": str(tmp_path)}) as server:
        with smtplib.SMTP("127.0.0.1", server.port("mx"), timeout=30) as client:
            for n in range(20):
                subject, body, filename = markers_for(run, n)
                needles += [subject.encode(), body.encode(), filename.encode()]
                raw = make_message("dpi@chu.example", reader, f"Compte rendu {subject}", f"Texte {body}",
                                   attachment=(f"{filename}.pdf", os.urandom(128)))
                client.sendmail("dpi@chu.example", [reader], raw)
        assert server.stop() == 0
        output = (server.process.stdout.read() + server.log()).encode()
    assert [n for n in needles if n in output] == []
    assert scan(files_under(tmp_path), needles) == []
    hub = Hub.open(data_dir)
    try:
        from mssante_hub.reader import read_folder

        assert len(read_folder(hub, reader)) == 20  # the markers were really there to find
    finally:
        hub.close()


def test_no_marker_in_the_blob_directory_nor_the_data_folder(tmp_path):
    """With the directory blob store (issue 16): the body files hold ciphertext only."""
    from mssante_hub.config import Config
    from mssante_hub.reader import read_folder
    from storage import blobstore

    data_dir = make_data_dir(tmp_path)
    config = Config.load(data_dir)
    config.set("storage.blob_store", blobstore.DIRECTORY)
    config.save()
    run = uuid.uuid4().hex[:10].upper()
    hub = Hub.open(data_dir)
    try:
        needles = deliver_marked(hub, run)
        assert len(blobstore.files(config.blob_dir())) == MESSAGES  # the bodies really are files
        assert len(read_folder(hub, "dr.marqueur@" + config.get("hub.domain"))) == MESSAGES
        assert scan(files_under(data_dir), needles) == []
    finally:
        hub.close()
    assert scan(files_under(tmp_path), needles) == []
