"""Connection-level behaviour: TLS before credentials, pipelining, IDLE, logout."""

from __future__ import annotations

import base64
import imaplib
import smtplib

import pytest
import sqlalchemy as sa

from mssante_hub.config import Config
from mssante_hub.imap import responses
from storage.models import AuditEvent
from tests.imap.support import HOST, TIMEOUT_S, Raw, client_tls, imaps, login_raw, message


def test_cleartext_session_refuses_credentials_and_offers_starttls(imap_hub):
    client = imaplib.IMAP4(HOST, imap_hub.port("imap"), timeout=TIMEOUT_S)
    assert "LOGINDISABLED" in client.capabilities and "STARTTLS" in client.capabilities
    assert not any(c.startswith("AUTH=") for c in client.capabilities)
    raw = Raw(imap_hub.port("imap"), tls=False)
    raw.send(b'a LOGIN "%s" "%s"\r\n' % (imap_hub.alice.encode(), imap_hub.password.encode()))
    assert raw.until_tagged(b"a")[-1] == b"a NO " + responses.NO_TLS_REQUIRED
    plain = base64.b64encode(b"\0" + imap_hub.alice.encode() + b"\0" + imap_hub.password.encode())
    raw.send(b"b AUTHENTICATE PLAIN " + plain + b"\r\n")
    assert raw.until_tagged(b"b")[-1] == b"b NO " + responses.NO_TLS_REQUIRED
    raw.close()
    client.starttls(client_tls())
    assert "LOGINDISABLED" not in client.capabilities and "AUTH=PLAIN" in client.capabilities
    assert client.login(imap_hub.alice, imap_hub.password)[0] == "OK"
    client.logout()


def test_implicit_tls_login_and_wrong_password(imap_hub):
    client = imaps(imap_hub.port("imaps"))
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login(imap_hub.alice, "wrong password")
    assert client.login(imap_hub.alice, imap_hub.password)[0] == "OK"
    assert client.logout()[0] == "BYE"
    engine = sa.create_engine(Config.load(imap_hub.data_dir).storage_url())
    with engine.connect() as conn:  # the audit trail: both attempts, no password
        events = conn.execute(sa.select(AuditEvent.action, AuditEvent.outcome, AuditEvent.target)
                              .where(AuditEvent.actor == imap_hub.alice)).all()
    engine.dispose()
    assert ("imap.login_failed", "refused") in {(e.action, e.outcome) for e in events}
    assert ("imap.login", "ok") in {(e.action, e.outcome) for e in events}
    assert not any("wrong" in e.target or imap_hub.password in e.target for e in events)


def test_authenticate_plain_with_and_without_initial_response(imap_hub):
    raw = Raw(imap_hub.port("imaps"))
    plain = base64.b64encode(b"\0" + imap_hub.alice.encode() + b"\0" + imap_hub.password.encode())
    raw.send(b"a AUTHENTICATE PLAIN " + plain + b"\r\n")
    assert raw.until_tagged(b"a")[-1].startswith(b"a OK")
    raw.close()
    raw = Raw(imap_hub.port("imaps"))
    raw.send(b"a AUTHENTICATE PLAIN\r\n")
    assert raw.line().startswith(b"+")
    raw.send(plain + b"\r\n")
    assert raw.until_tagged(b"a")[-1].startswith(b"a OK")
    raw.close()


def test_pipelined_commands_are_answered_in_order(imap_hub):
    raw = Raw(imap_hub.port("imaps"))
    raw.send(b'p1 LOGIN "%s" "%s"\r\np2 SELECT INBOX\r\np3 FETCH 1:* (FLAGS)\r\np4 NOOP\r\np5 LOGOUT\r\n'
             % (imap_hub.alice.encode(), imap_hub.password.encode()))
    tagged = []
    for tag in (b"p1", b"p2", b"p3", b"p4", b"p5"):
        tagged.append(raw.until_tagged(tag)[-1])
    assert [t.split()[0] for t in tagged] == [b"p1", b"p2", b"p3", b"p4", b"p5"]
    assert all(t.split()[1] == b"OK" for t in tagged), tagged
    raw.close()


def test_idle_ends_only_on_done(imap_hub):
    raw = Raw(imap_hub.port("imaps"))
    login_raw(raw, imap_hub.alice, imap_hub.password)
    raw.send(b"s SELECT INBOX\r\n")
    raw.until_tagged(b"s")
    raw.send(b"i IDLE\r\n")
    assert raw.line().startswith(b"+")
    raw.send(b"x NOOP\r\n")
    assert raw.line() == b"* BAD " + responses.BAD_EXPECTED_DONE
    raw.send(b"DONE\r\n")
    assert raw.until_tagged(b"i")[-1] == b"i OK " + responses.OK_IDLE
    raw.send(b"n NOOP\r\n")
    assert raw.until_tagged(b"n")[-1].startswith(b"n OK")
    raw.close()


def test_idle_is_woken_by_an_smtp_delivery(imap_hub):
    user = imap_hub.fresh_user()
    raw = Raw(imap_hub.port("imaps"))
    login_raw(raw, user, imap_hub.password)
    raw.send(b"s SELECT INBOX\r\n")
    assert b"* 0 EXISTS" in raw.until_tagged(b"s")
    raw.send(b"i IDLE\r\n")
    assert raw.line().startswith(b"+")
    with smtplib.SMTP(HOST, imap_hub.port("mx"), timeout=TIMEOUT_S) as smtp:
        smtp.sendmail("sender@hub.test", [user], message("Réunion de service", to=user))
    assert raw.line() == b"* 1 EXISTS"
    raw.send(b"DONE\r\n")
    raw.until_tagged(b"i")
    raw.send(b"f FETCH 1 (ENVELOPE)\r\n")
    lines = raw.until_tagged(b"f")
    assert "Réunion de service".encode() in b"\n".join(lines)
    raw.close()


def test_id_enable_namespace_unselect(imap_hub):
    raw = Raw(imap_hub.port("imaps"))
    login_raw(raw, imap_hub.alice, imap_hub.password)
    raw.send(b'a ID ("name" "test")\r\n')
    lines = raw.until_tagged(b"a")
    assert lines[0].startswith(b"* ID (") and lines[-1].startswith(b"a OK")
    raw.send(b"b ENABLE CONDSTORE\r\n")
    assert raw.until_tagged(b"b")[0] == b"* ENABLED CONDSTORE"
    raw.send(b"c NAMESPACE\r\n")
    assert raw.until_tagged(b"c")[0].startswith(b'* NAMESPACE (("" "/"))')
    raw.send(b"d SELECT INBOX\r\ne UNSELECT\r\nf FETCH 1 FLAGS\r\n")
    raw.until_tagged(b"d")
    assert raw.until_tagged(b"e")[-1].startswith(b"e OK")
    assert raw.until_tagged(b"f")[-1] == b"f BAD " + responses.BAD_WRONG_STATE
    raw.close()


def test_commands_sent_in_clear_after_starttls_are_dropped(imap_hub):
    raw = Raw(imap_hub.port("imap"), tls=False)
    raw.send(b"a STARTTLS\r\nb CAPABILITY\r\n")  # b is an injection attempt
    assert raw.line() == b"a OK " + responses.OK_STARTTLS
    raw.sock = client_tls().wrap_socket(raw.sock)
    raw.buffer = b""
    raw.send(b"c NOOP\r\n")
    assert raw.line() == b"c OK " + responses.OK_DONE  # nothing answered for b
    raw.close()


def test_idle_sees_a_delivery_made_by_another_hub_process(imap_hub):
    """Several hub processes may share one database: IDLE also looks for their changes."""
    import asyncio

    from mssante_hub import delivery
    from mssante_hub.hub import Hub

    user = imap_hub.fresh_user()
    raw = Raw(imap_hub.port("imaps"))
    login_raw(raw, user, imap_hub.password)
    raw.send(b"s SELECT INBOX\r\n")
    raw.until_tagged(b"s")
    raw.send(b"i IDLE\r\n")
    assert raw.line().startswith(b"+")
    other_process = Hub.open(imap_hub.data_dir)  # this test process, not the served one
    try:
        asyncio.run(delivery.accept(other_process, delivery.Envelope(mail_from="x@hub.test", rcpt_to=(user,), channel=delivery.Channel.INTERNAL),
                                    message("D'un autre processus", to=user)))
    finally:
        other_process.close()
    assert raw.line() == b"* 1 EXISTS"
    raw.send(b"DONE\r\n")
    assert raw.until_tagged(b"i")[-1].startswith(b"i OK")
    other_process = Hub.open(imap_hub.data_dir)
    try:
        asyncio.run(delivery.accept(other_process, delivery.Envelope(mail_from="x@hub.test", rcpt_to=(user,), channel=delivery.Channel.INTERNAL),
                                    message("Encore un", to=user)))
    finally:
        other_process.close()
    raw.send(b"n NOOP\r\n")  # a client that polls with NOOP is told as well
    # Both are recent to this session, the first told of them (RFC 3501 §7.3.2: RECENT with EXISTS).
    assert raw.until_tagged(b"n") == [b"* 2 EXISTS", b"* 2 RECENT", b"n OK " + responses.OK_DONE]
    raw.close()


def test_recent_goes_to_one_session_and_is_recorded(imap_hub):
    """RFC 3501 §2.3.2: a new message is \\Recent in one session only; the claim reaches the store."""
    import time

    from mssante_hub.hub import Hub
    from mssante_hub.imap.recent import FLUSH_S
    from storage import accounts, folders

    user = imap_hub.fresh_user()
    with smtplib.SMTP(HOST, imap_hub.port("mx"), timeout=TIMEOUT_S) as smtp:
        for n in range(2):
            smtp.sendmail("sender@hub.test", [user], message(f"Nouveau {n}", to=user))
    first, second = Raw(imap_hub.port("imaps")), Raw(imap_hub.port("imaps"))
    for raw in (first, second):
        login_raw(raw, user, imap_hub.password)
    first.send(b"s SELECT INBOX\r\n")
    assert b"* 2 RECENT" in first.until_tagged(b"s")
    second.send(b"s SELECT INBOX\r\n")
    assert b"* 0 RECENT" in second.until_tagged(b"s")
    time.sleep(FLUSH_S + 1.5)
    hub = Hub.open(imap_hub.data_dir)  # what another hub process would read
    try:
        account = hub.read_sync(lambda conn: accounts.by_address(conn, user))
        assert hub.read_sync(lambda conn: folders.folder_by_name(conn, account.id, "INBOX")).recent_uid == 2
    finally:
        hub.close()
    first.close()
    second.close()


def test_a_session_follows_another_sessions_flags_and_expunges(imap_hub):
    user = imap_hub.fresh_user()
    with smtplib.SMTP(HOST, imap_hub.port("mx"), timeout=TIMEOUT_S) as smtp:
        for n in range(3):
            smtp.sendmail("sender@hub.test", [user], message(f"Suivi {n}", to=user))
    watcher, actor = Raw(imap_hub.port("imaps")), Raw(imap_hub.port("imaps"))
    for raw in (watcher, actor):
        login_raw(raw, user, imap_hub.password)
        raw.send(b"s SELECT INBOX\r\n")
        assert b"* 3 EXISTS" in raw.until_tagged(b"s")
    actor.send(b"a STORE 1 +FLAGS.SILENT (\\Flagged)\r\nb STORE 2 +FLAGS.SILENT (\\Deleted)\r\nc EXPUNGE\r\n")
    assert actor.until_tagged(b"c")[-1].startswith(b"c OK")
    watcher.send(b"f FETCH 1:* (FLAGS)\r\n")  # no EXPUNGE during FETCH (RFC 3501 §7.4.1): flags only
    lines = watcher.until_tagged(b"f")
    assert not any(line.endswith(b"EXPUNGE") for line in lines), lines
    assert any(line.startswith(b"* 1 FETCH") and b"\\Flagged" in line for line in lines), lines
    watcher.send(b"n NOOP\r\n")
    assert watcher.until_tagged(b"n")[0] == b"* 2 EXPUNGE"
    watcher.send(b"g FETCH 1:* (UID)\r\n")
    assert [line for line in watcher.until_tagged(b"g") if line.startswith(b"*")] == [
        b"* 1 FETCH (UID 1)", b"* 2 FETCH (UID 3)"]
    watcher.close()
    actor.close()
