"""The IMAP store queries on PostgreSQL (flags with backslashes in LIKE, RETURNING, grants)."""

from __future__ import annotations

import re

from mssante_hub.config import Config
from mssante_hub.hub import Hub
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.imap.support import imaps, message
from tests.support.postgres import unique_db_name
from tests.support.served import served


def test_imap_session_on_postgresql(postgres, tmp_path):
    data_dir = make_data_dir(tmp_path, postgres.create_database(unique_db_name()))
    assert Config.load(data_dir).get("storage.url").startswith("postgresql")
    hub = Hub.open(data_dir)
    try:
        user = add_professional(hub, "pg.user")
    finally:
        hub.close()
    with served(data_dir, ["imaps"]) as running:
        client = imaps(running.port("imaps"), user, TEST_PASSWORD)
        client.create("Travail")
        for n in range(4):
            client.append("Travail", "(\\Seen)" if n % 2 else None, None, message(f"Dossier {n}", to=user))
        client.select("Travail")
        client.store("1", "+FLAGS", "(\\Deleted \\Flagged)")
        assert client.search(None, "SEEN")[1] == [b"2 4"]
        assert client.search(None, "UNSEEN", "SUBJECT", "dossier")[1] == [b"1 3"]
        assert client.search(None, "FLAGGED")[1] == [b"1"]
        status, data = client.status("Travail", "(MESSAGES UNSEEN)")
        assert b"MESSAGES 4" in data[0] and b"UNSEEN 2" in data[0]
        assert re.match(rb"\[COPYUID \d+ 2 1\]", client.copy("2", "Archive")[1][0])
        assert client.uid("MOVE", "3", "Trash")[0] == "OK"
        client.expunge()
        assert client.uid("SEARCH", "ALL")[1] == [b"2 4"]
        # A second session catches up from the changes since its MODSEQ (driver-cursor reads).
        other = imaps(running.port("imaps"), user, TEST_PASSWORD)
        other.select("Travail")
        client.store("1", "+FLAGS", "(\\Answered)")
        client.append("Travail", None, None, message("Dossier 9", to=user))
        client.store("2", "+FLAGS", "(\\Deleted)")
        client.expunge()
        assert other.noop()[0] == "OK"
        flags = b" ".join(d for d in other.fetch("1:*", "(UID FLAGS)")[1] if isinstance(d, bytes))
        assert re.match(rb"1 \(UID 2 FLAGS \([^)]*\\Answered", flags) and b"UID 4" not in flags, flags
        body = other.fetch("2", "(BODY.PEEK[])")[1][0][1]
        assert b"Dossier 9" in body
        # SORT and THREAD (imap/sortkeys.py: the folder's token and listing on the driver's cursor), again
        # after a change.
        assert other.sort("(REVERSE SUBJECT)", "UTF-8", "ALL")[1] == [b"2 1"]
        client.append("Travail", None, None, message("Dossier 99", to=user))
        assert other.noop()[0] == "OK"
        assert other.sort("(REVERSE SUBJECT)", "UTF-8", "ALL")[1] == [b"3 2 1"]
        assert other.thread("ORDEREDSUBJECT", "UTF-8", "ALL")[1][0].count(b"(") == 3
        other.logout()
        client.logout()
