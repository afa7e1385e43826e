"""Hardening of the SMTP doors (issue 11): what an outside review broke, each reproduced first."""

from __future__ import annotations

import pytest

from mssante_hub import mime
from mssante_hub.rules.refusals import MALFORMED_MIME, Refusal
from tests.smtp.messages import message
from tests.smtp.support import HOSPITAL_DOMAIN, REMOTE_DOMAIN
from tests.smtp.test_mx import tls_client

JEAN = "jean.dupont@hub.test"
MARIE = "marie.curie@hub.test"
DPI = "dpi@hopital.test"
DEEP = 1000  # levels of nested multipart/mixed that made the recursive parser fail (RecursionError)


def nested_multiparts(sender: str, rcpt: str, depth: int) -> bytes:
    head = (f"From: {sender}\r\nTo: {rcpt}\r\nSubject: deep\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <deep{depth}@test>\r\nMIME-Version: 1.0\r\n").encode()
    opening = b"".join(b"Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n" % (n, n)
                       for n in range(depth))
    closing = b"".join(b"\r\n--b%d--\r\n" % n for n in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nfond\r\n" + closing


LIMITS = mime.Limits(max_message_bytes=25 * 1024 * 1024, max_header_fields=500, max_header_bytes=256 * 1024,
                     max_line_bytes=1000, max_mime_parts=500, max_mime_depth=20)


@pytest.mark.parametrize("depth", [21, 300, DEEP, 5000])
def test_deep_mime_is_refused_before_the_recursive_parser(depth):
    with pytest.raises(Refusal) as refused:
        mime.parse(nested_multiparts(DPI, JEAN, depth), LIMITS)
    assert refused.value.reason is MALFORMED_MIME


def test_mime_nested_to_the_limit_is_accepted():
    mime.parse(nested_multiparts(DPI, JEAN, LIMITS.max_mime_depth), LIMITS)


def test_deep_mime_gets_a_permanent_refusal_over_mx(smtp_hub, pki):
    with tls_client(smtp_hub, pki, pki.hospital) as client:
        assert client.mail(DPI)[0] == 250
        assert client.rcpt(JEAN)[0] == 250
        code, text = client.data(nested_multiparts(DPI, JEAN, DEEP))
    assert (code, text.split(b" ", 1)[0]) == (554, b"5.6.0"), (code, text)


# --- null sender, impersonation at submission -----------------------------------------------

def _patient(hub) -> str:
    from tests.patients.helpers import add_patient_account
    return add_patient_account(hub)


def test_a_null_sender_opens_no_patient_conversation(smtp_hub, pki):
    from mssante_hub.rules import refusals
    from tests.patients.helpers import send

    patient = _patient(smtp_hub.hub)
    cabinet = "cabinet@" + REMOTE_DOMAIN
    body = message(f"MAILER-DAEMON@{HOSPITAL_DOMAIN}", patient, subject="Non remis",
                   extra_headers=f"Reply-To: {cabinet}\r\n")
    with tls_client(smtp_hub, pki, pki.hospital) as client:
        assert client.mail("")[0] == 250
        assert client.rcpt(patient)[0] == 250
        assert client.data(body)[0] == 250  # the bounce is delivered...
    with pytest.raises(Refusal) as refused:  # ...but the patient may not write to its Reply-To
        send(smtp_hub.hub, patient, [cabinet])
    assert refused.value.reason == refusals.PATIENT_NOT_A_CONTACT


def _submit(smtp_hub, pki, header_from: str, sender_field: str = "") -> tuple[int, bytes]:
    from tests.smtp.test_submission import logged_in

    extra = f"Sender: {sender_field}\r\n" if sender_field else ""
    client = logged_in(smtp_hub, pki)
    try:
        assert client.mail(JEAN)[0] == 250
        assert client.rcpt(MARIE)[0] == 250
        return client.data(message(header_from, MARIE, subject="Ordonnance", extra_headers=extra))
    finally:
        client.quit()


def test_header_from_of_another_professional_is_refused_at_submission(smtp_hub, pki):
    code, text = _submit(smtp_hub, pki, f"Dr Other <{MARIE}>")
    assert code == 550 and text.startswith(b"5.7."), (code, text)
    code, text = _submit(smtp_hub, pki, JEAN, sender_field=MARIE)
    assert code == 550 and text.startswith(b"5.7."), (code, text)
    code, text = _submit(smtp_hub, pki, f"Jean Dupont <{JEAN}>")
    assert code == 250, (code, text)


def test_header_from_of_a_delegated_organisation_is_allowed(smtp_hub, pki):
    from sqlalchemy import insert

    from storage import accounts as account_repo
    from storage import folders
    from storage.grants import FolderGrant
    from tests.conftest import add_professional

    hub = smtp_hub.hub
    org = add_professional(hub, "secretariat", type="ORG", password=None)
    other = add_professional(hub, "radiologie", type="ORG", password=None)

    def grant(conn):  # the delegation is the IMAP ACL `p` on the organisation's INBOX
        jean = account_repo.by_address(conn, JEAN)
        inbox = folders.folder_id(conn, account_repo.by_address(conn, org).id, folders.INBOX)
        conn.execute(insert(FolderGrant).values(folder_id=inbox, grantee_id=jean.id, rights="lrsp"))

    hub.committer.run(grant)
    code, text = _submit(smtp_hub, pki, f"Secrétariat <{org}>")
    assert code == 250, (code, text)
    code, text = _submit(smtp_hub, pki, f"Radiologie <{other}>")
    assert code == 550 and text.startswith(b"5.7."), (code, text)
