"""QRESYNC's expunged UIDs are forgotten past `imap.vanished_keep_days` by the daily job, and VANISHED stays true:
a client that last synced before the horizon is told every UID it may hold that the folder lacks (RFC 7162
§3.2.5.2 lets the server name more UIDs than vanished, never fewer)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from mssante_hub.hub import Hub
from mssante_hub.imap.qresync import absent_ranges
from mssante_hub.patients.jobs import run_daily
from storage.sync import ExpungedUid
from tests.imap.support import Raw, imaps, login_raw, message

FOLDER = "Horizon"


def resync_lines(port: int, user: str, password: str, validity: int, known: int, known_uids: bytes) -> list[bytes]:
    client = Raw(port)
    login_raw(client, user, password)
    client.send(b"e ENABLE QRESYNC\r\n")
    client.until_tagged(b"e")
    client.send(b"s SELECT %s (QRESYNC (%d %d %s))\r\n" % (FOLDER.encode(), validity, known, known_uids))
    lines = client.until_tagged(b"s")
    client.send(b"f UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)\r\n" % known)
    lines += client.until_tagged(b"f")
    client.close()
    return lines


def test_expunges_past_the_horizon_are_forgotten_and_vanished_still_names_them(imap_hub):
    user = imap_hub.fresh_user()
    client = imaps(imap_hub.port("imaps"), user, imap_hub.password)
    client.create(FOLDER)
    for n in range(1, 7):
        client.append(FOLDER, None, None, message(f"h{n}"))
    _typ, data = client.select(FOLDER)
    watcher = Raw(imap_hub.port("imaps"))
    login_raw(watcher, user, imap_hub.password)
    watcher.send(b"e ENABLE QRESYNC\r\ns SELECT %s\r\n" % FOLDER.encode())
    watcher.until_tagged(b"e")
    selected = b"\n".join(watcher.until_tagged(b"s"))
    watcher.close()
    validity = int(re.search(rb"UIDVALIDITY (\d+)", selected)[1])
    known = int(re.search(rb"HIGHESTMODSEQ (\d+)", selected)[1])
    client.uid("STORE", "2,5", "+FLAGS", "(\\Deleted)")
    client.expunge()
    client.logout()

    before = resync_lines(imap_hub.port("imaps"), user, imap_hub.password, validity, known, b"1:6")
    assert b"* VANISHED (EARLIER) 2,5" in before

    hub = Hub.open(imap_hub.data_dir)
    try:
        done = asyncio.run(run_daily(hub, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=181)))
        left = hub.read_sync(lambda conn: conn.execute(ExpungedUid.__table__.select()).all())
    finally:
        hub.close()
    assert done["expunges_forgotten"] >= 2 and left == []

    after = resync_lines(imap_hub.port("imaps"), user, imap_hub.password, validity, known, b"1:6")
    # Nothing is remembered one by one now; the absent UIDs among the known ones are still told, twice over.
    assert after.count(b"* VANISHED (EARLIER) 2,5") == 2, after
    # Without known UIDs, every UID given so far and absent.
    bare = resync_lines(imap_hub.port("imaps"), user, imap_hub.password, validity, known, b"")
    assert b"* VANISHED (EARLIER) 2,5" in bare


def test_absent_ranges_are_computed_from_the_present_uids():
    assert absent_ranges([2, 3, 7], [(1, 10)], 10) == [(1, 1), (4, 6), (8, 10)]
    assert absent_ranges([], [(1, 4_294_967_295)], 5) == [(1, 5)]
    assert absent_ranges([5], [(1, 2), (4, 9)], 8) == [(1, 2), (4, 4), (6, 8)]
