"""Submission: TLS before AUTH, AUTH before MAIL, sender ownership, trust space, X-MSS-NIL, throttling."""

from __future__ import annotations

import base64
import smtplib

import pytest

from mssante_hub.reader import read_folder
from mssante_hub.smtp import replies
from storage.models import AuditEvent
from tests.conftest import TEST_PASSWORD
from tests.smtp.messages import message
from tests.smtp.support import REMOTE_DOMAIN
from tests.smtp.test_mx import ascii_reply, reply

JEAN = "jean.dupont@hub.test"
MARIE = "marie.curie@hub.test"


def logged_in(smtp_hub, pki, user: str = JEAN, password: str = TEST_PASSWORD) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", smtp_hub.port("submission"), timeout=30)
    client.starttls(context=pki.client_context(None))
    client.login(user, password)
    return client


def test_auth_before_starttls_is_refused(smtp_hub):
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("submission"), timeout=30) as client:
        client.ehlo("poste")
        assert "auth" not in client.esmtp_features
        code, text = client.docmd("AUTH", "PLAIN " + base64.b64encode(f"\0{JEAN}\0{TEST_PASSWORD}".encode()).decode())
        assert reply(code, text) == ascii_reply(replies.AUTH_NEEDS_TLS)
        code, text = client.mail(JEAN)
        assert reply(code, text) == ascii_reply(replies.NEED_STARTTLS)


@pytest.mark.parametrize("method", ["PLAIN", "LOGIN"])
def test_a_professional_logs_in_and_sends_to_a_colleague(smtp_hub, pki, method):
    client = smtplib.SMTP("127.0.0.1", smtp_hub.port("submission"), timeout=30)
    client.starttls(context=pki.client_context(None))
    client.ehlo("poste")
    assert {"PLAIN", "LOGIN"} <= set(client.esmtp_features["auth"].split())
    client.user, client.password = JEAN, TEST_PASSWORD
    code, _ = client.auth(method, getattr(client, f"auth_{method.lower()}"), initial_response_ok=method == "PLAIN")
    assert code == 235
    assert client.sendmail(JEAN, [MARIE], message(JEAN, MARIE, subject="Avis")) == {}
    client.quit()
    inbox = read_folder(smtp_hub.hub, MARIE)
    assert [m.summary["subject"] for m in inbox] == ["Avis"]
    assert b"X-MSS-NIL: mssante-hub\r\n" in inbox[0].raw


def test_an_existing_x_mss_nil_is_kept(smtp_hub, pki):
    with logged_in(smtp_hub, pki) as client:
        client.sendmail(JEAN, [MARIE], message(JEAN, MARIE, extra_headers="X-MSS-NIL: DPI-Test 4.2\r\n"))
    raw = read_folder(smtp_hub.hub, MARIE)[0].raw
    assert raw.count(b"X-MSS-NIL") == 1 and b"X-MSS-NIL: DPI-Test 4.2" in raw


def test_mail_before_auth_and_wrong_password_are_refused(smtp_hub, pki):
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("submission"), timeout=30) as client:
        client.starttls(context=pki.client_context(None))
        client.ehlo("poste")
        code, text = client.mail(JEAN)
        assert reply(code, text) == ascii_reply(replies.AUTH_REQUIRED)
        client.user, client.password = JEAN, "wrong password here"
        with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
            client.auth("PLAIN", client.auth_plain)
        assert failed.value.smtp_code == 535
    events = smtp_hub.hub.read_sync(lambda c: c.execute(
        AuditEvent.__table__.select().where(AuditEvent.action == "auth.failure")).all())
    assert [e.actor for e in events] == [JEAN]
    assert all("wrong password" not in (e.target + e.actor) for e in events)


def test_sender_must_be_the_authenticated_mailbox(smtp_hub, pki):
    with logged_in(smtp_hub, pki) as client:
        code, text = client.mail(MARIE)
    assert reply(code, text) == ascii_reply(replies.NOT_OWNER)


def test_remote_domain_outside_the_whitelist_is_refused(smtp_hub, pki):
    with logged_in(smtp_hub, pki) as client:
        client.mail(JEAN)
        code, text = client.rcpt("someone@not-in-trust-space.example")
    assert reply(code, text) == ascii_reply(replies.REMOTE_NOT_WHITELISTED)


@pytest.mark.parametrize("smtp_settings", [{"smtp.max_failed_logins": 3}])
def test_failed_logins_are_throttled(smtp_hub, pki):
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("submission"), timeout=30) as client:
        client.starttls(context=pki.client_context(None))
        client.ehlo("x")
        client.user, client.password = JEAN, "not the password at all"
        for _ in range(3):
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.auth("PLAIN", client.auth_plain)
        code, text = client.docmd("AUTH", "PLAIN " + base64.b64encode(f"\0{JEAN}\0{TEST_PASSWORD}".encode()).decode())
    assert reply(code, text) == ascii_reply(replies.TOO_MANY_FAILED_LOGINS)


def test_open_relay_is_refused_without_authentication(smtp_hub, pki):
    """Unauthenticated mail to a remote domain: refused on submission (and on mx, see test_mx)."""
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("submission"), timeout=30) as client:
        client.starttls(context=pki.client_context(None))
        client.ehlo("x")
        code, _ = client.mail("spammer@example.com")
        assert code == 530
        code, _ = client.rcpt(f"someone@{REMOTE_DOMAIN}")
        assert code >= 500


def test_dsn_parameters_are_accepted_and_queued(smtp_hub, pki):
    from storage.models import OutboundItem
    with logged_in(smtp_hub, pki) as client:
        rcpt = f"confrere@{REMOTE_DOMAIN}"
        assert client.mail(JEAN, ["RET=HDRS", "ENVID=QQ+2B1"])[0] == 250
        assert client.rcpt(rcpt, ["NOTIFY=SUCCESS,FAILURE", f"ORCPT=rfc822;{rcpt}"])[0] == 250
        assert client.data(message(JEAN, rcpt))[0] == 250
    rows = smtp_hub.hub.read_sync(lambda c: c.execute(OutboundItem.__table__.select()).all())
    assert [(r.rcpt_to, r.dsn_notify, r.dsn_ret, r.dsn_envid, r.dsn_orcpt) for r in rows] == [
        (rcpt, "SUCCESS,FAILURE", "HDRS", "QQ+2B1", f"rfc822;{rcpt}")]


def test_a_member_may_send_as_a_delegated_organisation_only(smtp_hub, pki):
    from sqlalchemy import insert

    from storage import accounts as account_repo
    from storage import folders
    from storage.grants import FolderGrant
    from tests.conftest import add_professional

    org = add_professional(smtp_hub.hub, "cardiologie", type="ORG")
    other_org = add_professional(smtp_hub.hub, "radiologie", type="ORG")

    def grant(conn):
        org_row = account_repo.by_address(conn, org)
        jean = account_repo.by_address(conn, JEAN)
        inbox = folders.folder_id(conn, org_row.id, folders.INBOX)
        conn.execute(insert(FolderGrant).values(folder_id=inbox, grantee_id=jean.id, rights="lrsp"))

    smtp_hub.hub.committer.run(grant)
    with logged_in(smtp_hub, pki) as client:
        assert client.sendmail(org, [MARIE], message(org, MARIE, subject="Secrétariat")) == {}
        code, text = client.mail(other_org)
        assert reply(code, text) == ascii_reply(replies.NOT_OWNER)
