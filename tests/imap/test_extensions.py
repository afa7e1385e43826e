"""aioimaplib as a second client; CONDSTORE, QUOTA, auto-logout."""

from __future__ import annotations

import asyncio
import re
import smtplib
import time

import aioimaplib

from mssante_hub.imap import responses
from tests.imap.conftest import ImapHub, start
from tests.imap.support import HOST, TIMEOUT_S, Raw, client_tls, imaps, login_raw, message
from tests.support.served import served


def test_aioimaplib_session_with_idle_woken_by_smtp(imap_hub):
    user = imap_hub.fresh_user()

    async def scenario() -> None:
        client = aioimaplib.IMAP4_SSL(HOST, imap_hub.port("imaps"), ssl_context=client_tls(), timeout=TIMEOUT_S)
        await client.wait_hello_from_server()
        assert (await client.login(user, imap_hub.password)).result == "OK"
        listing = await client.list('""', "*")
        assert any(b"\\Sent" in line for line in listing.lines if isinstance(line, bytes))
        appended = await client.append(message("Avis de passage", to=user), mailbox="INBOX")
        assert appended.result == "OK" and b"APPENDUID" in appended.lines[-1], appended
        assert (await client.select("INBOX")).result == "OK"
        fetched = await client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] ENVELOPE)")
        assert fetched.result == "OK" and any(b"Avis de passage" in line for line in fetched.lines)
        idle = await client.idle_start(timeout=TIMEOUT_S)
        await asyncio.get_running_loop().run_in_executor(None, send_by_smtp, imap_hub, user)
        pushed = await client.wait_server_push()
        while not any(b"EXISTS" in line for line in pushed if isinstance(line, bytes)):
            pushed = await client.wait_server_push()
        assert b"2 EXISTS" in pushed
        client.idle_done()
        assert (await asyncio.wait_for(idle, TIMEOUT_S)).result == "OK"
        searched = await client.uid_search("ALL")
        assert searched.lines[0] == b"1 2"
        moved = await client.uid("move", "2", "Archive")
        assert moved.result == "OK"
        await client.logout()

    asyncio.run(scenario())


def send_by_smtp(imap_hub: ImapHub, user: str) -> None:
    with smtplib.SMTP(HOST, imap_hub.port("mx"), timeout=TIMEOUT_S) as smtp:
        smtp.sendmail("sender@hub.test", [user], message("Second", to=user))


def test_condstore_modseq_changedsince_unchangedsince(imap_hub):
    client = imaps(imap_hub.port("imaps"), imap_hub.alice, imap_hub.password)
    client.create("Condstore")
    for n in range(3):
        client.append("Condstore", None, None, message(f"c{n}"))
    client.logout()
    raw = Raw(imap_hub.port("imaps"))
    login_raw(raw, imap_hub.alice, imap_hub.password)
    raw.send(b"s SELECT Condstore (CONDSTORE)\r\n")
    lines = raw.until_tagged(b"s")
    highest = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"\n".join(lines))[1])
    raw.send(b"a STORE 2 +FLAGS (\\Flagged)\r\n")
    stored = raw.until_tagged(b"a")
    modseq = int(re.search(rb"MODSEQ \((\d+)\)", stored[0])[1])
    assert modseq > highest
    raw.send(b"b FETCH 1:* (FLAGS) (CHANGEDSINCE %d)\r\n" % highest)
    lines = raw.until_tagged(b"b")
    assert len(lines) == 2 and lines[0].startswith(b"* 2 FETCH") and b"MODSEQ" in lines[0]
    raw.send(b"c STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)\r\n" % highest)
    lines = raw.until_tagged(b"c")
    assert lines[-1].startswith(b"c OK [MODIFIED 2]") or lines[-1].startswith(b"c NO [MODIFIED 2]")
    raw.send(b"d STATUS Condstore (HIGHESTMODSEQ)\r\n")
    assert b"HIGHESTMODSEQ" in raw.until_tagged(b"d")[0]
    raw.close()


def test_quota_reports_usage_and_refuses_beyond(tmp_path_factory):
    data_dir, users = start(tmp_path_factory, {"imap.quota_bytes": 4096})
    with served(data_dir, ["imaps"]) as running:
        client = imaps(running.port("imaps"), users[0], "correct horse battery staple")
        status, data = client.getquotaroot("INBOX")
        assert status == "OK"
        quota_lines = [line for group in data for line in group]
        assert b'"" (STORAGE 0 4)' in quota_lines  # KiB used, KiB allowed
        assert client.append("INBOX", None, None, message("small", body="x\r\n"))[0] == "OK"
        status, data = client.append("INBOX", None, None, message("big", body="y" * 900 + "\r\n") * 5)
        assert status == "NO" and b"OVERQUOTA" in data[0]
        client.logout()


def test_autologout_after_inactivity_and_connection_cap(tmp_path_factory):
    data_dir, users = start(tmp_path_factory, {"imap.autologout_seconds": 1, "imap.preauth_timeout_seconds": 1,
                                               "imap.max_connections": 1})
    with served(data_dir, ["imaps"]) as running:
        raw = Raw(running.port("imaps"))
        extra = Raw(running.port("imaps"))
        assert extra.greeting == b"* " + responses.BYE_TOO_MANY  # imap.max_connections
        assert extra.closed()
        assert raw.line() == b"* " + responses.BYE_AUTOLOGOUT  # before login
        assert raw.closed()
        raw.close()
        extra.close()
        raw = connect_when_a_slot_is_free(running.port("imaps"))
        login_raw(raw, users[0], "correct horse battery staple")
        assert raw.line() == b"* " + responses.BYE_AUTOLOGOUT  # after login, idle
        assert raw.closed()


def connect_when_a_slot_is_free(port: int) -> Raw:
    """The server frees a slot when it has seen the old connections close: retry a little."""
    for _ in range(100):
        raw = Raw(port)
        if raw.greeting != b"* " + responses.BYE_TOO_MANY:
            return raw
        raw.close()
        time.sleep(0.1)
    raise AssertionError("no connection slot was freed")


def test_qresync_reports_vanished_and_changed_since_a_known_modseq(imap_hub):
    client = imaps(imap_hub.port("imaps"), imap_hub.alice, imap_hub.password)
    client.create("Qresync")
    for n in range(4):
        client.append("Qresync", None, None, message(f"q{n}"))
    watcher = Raw(imap_hub.port("imaps"))
    login_raw(watcher, imap_hub.alice, imap_hub.password)
    watcher.send(b"e ENABLE QRESYNC\r\ns SELECT Qresync\r\n")
    assert watcher.until_tagged(b"e")[0] == b"* ENABLED QRESYNC"
    selected = b"\n".join(watcher.until_tagged(b"s"))
    validity = int(re.search(rb"UIDVALIDITY (\d+)", selected)[1])
    known = int(re.search(rb"HIGHESTMODSEQ (\d+)", selected)[1])

    client.select("Qresync")
    client.uid("STORE", "2", "+FLAGS", "(\\Flagged)")
    client.uid("STORE", "3", "+FLAGS", "(\\Deleted)")
    client.expunge()
    client.logout()

    watcher.send(b"n NOOP\r\n")
    lines = watcher.until_tagged(b"n")
    assert b"* VANISHED 3" in lines and not any(b"EXPUNGE" in line for line in lines), lines

    later = Raw(imap_hub.port("imaps"))
    login_raw(later, imap_hub.alice, imap_hub.password)
    later.send(b"e ENABLE QRESYNC\r\n")
    later.until_tagged(b"e")
    later.send(b"s SELECT Qresync (QRESYNC (%d %d 1:4))\r\n" % (validity, known))
    lines = later.until_tagged(b"s")
    assert b"* VANISHED (EARLIER) 3" in lines
    changed = [line for line in lines if b" FETCH " in line]
    assert len(changed) == 1 and b"UID 2 " in changed[0] and b"\\Flagged" in changed[0]
    later.send(b"f UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)\r\n" % known)
    lines = later.until_tagged(b"f")
    assert lines[0] == b"* VANISHED (EARLIER) 3" and len([x for x in lines if b"FETCH (" in x]) == 1
    watcher.close()
    later.close()
