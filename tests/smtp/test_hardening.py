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


# --- SMTP AUTH failures counted per login too -------------------------------------------------

@pytest.mark.parametrize("smtp_settings", [{"auth.failed_login_delay_s": 0.01, "auth.max_failed_login_delay_s": 0.05}])
def test_auth_failures_spread_over_addresses_are_counted_per_login(smtp_hub, pki):
    import smtplib

    from tests.conftest import TEST_PASSWORD

    def attempt(source: str, password: str) -> int:
        with smtplib.SMTP("127.0.0.1", smtp_hub.port("submission"), timeout=30,
                          source_address=(source, 0)) as client:
            client.starttls(context=pki.client_context(None))
            client.ehlo("x")
            client.user, client.password = JEAN, password
            try:
                client.auth("PLAIN", client.auth_plain)  # one mechanism: one guess per attempt
            except smtplib.SMTPAuthenticationError as refused:
                return refused.smtp_code
            return 235

    for n in range(5):  # 20 wrong passwords from 5 addresses, 4 each (under the per-address limit of 5)
        for _ in range(4):
            assert attempt(f"127.0.0.{30 + n}", "not the password") != 235
    assert attempt("127.0.0.40", TEST_PASSWORD) == 421  # a sixth address is refused too


# --- greeting, bare LF in commands ----------------------------------------------------------

def _raw_session(port: int):
    import socket

    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    return sock, sock.makefile("rb")


@pytest.mark.parametrize("door", ["mx", "submission"])
def test_the_greeting_names_no_library_or_version(smtp_hub, door):
    sock, reader = _raw_session(smtp_hub.port(door))
    greeting = reader.readline().decode()
    sock.close()
    assert greeting.startswith("220 ")
    assert "Python" not in greeting and "aiosmtpd" not in greeting.lower() and "1.4" not in greeting, greeting


@pytest.mark.parametrize("smtp_settings", [{"mx.trusted_networks": ["127.0.0.0/8"]}])
def test_command_lines_ending_in_bare_lf_are_refused(smtp_hub):
    sock, reader = _raw_session(smtp_hub.port("mx"))
    reader.readline()
    sock.sendall(b"EHLO bare.example\n")
    reply = reader.readline()
    assert reply.startswith(b"500 5.5."), reply
    sock.sendall(b"EHLO crlf.example\r\n")
    line = reader.readline()
    while line.startswith(b"250-"):
        line = reader.readline()
    assert line.startswith(b"250 ")
    sock.sendall(b"MAIL FROM:<dpi@hopital.test>\n")
    assert reader.readline().startswith(b"500 5.5.")
    sock.close()


# --- a global budget of message bytes in flight -----------------------------------------------

IN_FLIGHT = 3 * 1024 * 1024


def _data_session(smtp_hub, pki, size: int | None):
    client = tls_client(smtp_hub, pki, pki.hospital)
    assert client.mail(DPI, [f"SIZE={size}"] if size else [])[0] == 250
    assert client.rcpt(JEAN)[0] == 250
    return client


@pytest.mark.parametrize("smtp_settings", [{"smtp.max_buffered_bytes": IN_FLIGHT}])
def test_message_bytes_in_flight_have_a_global_budget(smtp_hub, pki):
    first = _data_session(smtp_hub, pki, 2 * 1024 * 1024)
    code, _ = first.docmd("DATA")
    assert code == 354
    first.send(b"Subject: x\r\n\r\n" + b"a" * 76 + b"\r\n")  # DATA under way: its 2 MiB are held
    declared = _data_session(smtp_hub, pki, 2 * 1024 * 1024)
    code, text = declared.docmd("DATA")
    assert (code, text[:5]) == (452, b"4.3.1"), (code, text)  # before 354: nothing sent for nothing
    undeclared = _data_session(smtp_hub, pki, None)
    body = message(DPI, JEAN, body=("b" * 76 + "\r\n") * 30_000)  # 2.3 MB, no SIZE
    code, text = undeclared.data(body)
    assert (code, text[:5]) == (452, b"4.3.1"), (code, text)
    first.close()
    for client in (declared, undeclared):
        client.close()


# --- slow drip --------------------------------------------------------------------------------

DRIP_DEADLINE_S = 2
DRIP_STEPS = 24  # a byte every 0.25 s for up to 6 s, past the deadline, well within the idle timeout


@pytest.mark.parametrize("smtp_settings", [{"smtp.data_timeout_s": DRIP_DEADLINE_S}])
def test_a_slow_drip_in_data_meets_a_total_deadline(smtp_hub, pki):
    client = _data_session(smtp_hub, pki, None)
    assert client.docmd("DATA")[0] == 354
    client.sock.settimeout(0.25)
    answer = b""
    for _ in range(DRIP_STEPS):
        try:
            client.sock.sendall(b"x")
        except OSError:
            break
        try:
            answer += client.sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            break
        if answer:
            break
    assert answer.startswith(b"451 4.4.2"), answer
    client.close()
