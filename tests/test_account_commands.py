"""`account passwd|list|show|suspend|resume|delete` and `patient list|show|passwd`, as real subprocesses
against a served hub: a new password ends webmail sessions and the old one opens nothing, IMAP included."""

from __future__ import annotations

import asyncio
import imaplib
import re
import ssl

import sqlalchemy as sa

from mssante_hub.delivery import Envelope, accept
from mssante_hub.hub import Hub
from storage.models import AuditEvent, Blob
from tests.conftest import TEST_PASSWORD, add_professional
from tests.support.mail import make_message
from tests.support.served import run_cli, served
from tests.web.support import WebClient

EXIT_FAILURE, EXIT_USAGE = 1, 2
NEW_PASSWORD = "un tout nouveau mot de passe"


def imap_login(port: int, user: str, password: str) -> bool:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the demo's self-signed certificate
    client = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context, timeout=30)
    try:
        client.login(user, password)
        return True
    except imaplib.IMAP4.error:
        return False
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def audit_actions(data_dir) -> list[str]:
    hub = Hub.open(data_dir)
    try:
        return list(hub.read_sync(lambda c: c.execute(sa.select(AuditEvent.action).order_by(AuditEvent.id))
                                  .scalars().all()))
    finally:
        hub.close()


def test_passwd_ends_sessions_and_the_old_password_opens_nothing(tmp_path):
    data_dir = tmp_path / "demo"
    done = run_cli("init", "--demo", "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    professional, pro_password = re.search(r"demo professional: (\S+)\s+password: (\S+)", done.stdout).groups()
    patient, patient_password = re.search(r"demo patient:\s+(\S+)\s+password: (\S+)", done.stdout).groups()
    ins = patient.partition("@")[0]
    with served(data_dir, ["web", "imaps"]) as running:
        browser = WebClient(running.port("web")).login(ins, patient_password)
        assert browser.call("GET", "/api/messages").status == 200
        # Twice: the second login is answered from the IMAP login cache.
        assert imap_login(running.port("imaps"), professional, pro_password)
        assert imap_login(running.port("imaps"), professional, pro_password)

        short = run_cli("account", "passwd", "--data-dir", str(data_dir), "--address", professional,
                        "--password-stdin", input="court\n")
        assert short.returncode == EXIT_USAGE and "12 characters" in short.stderr
        changed = run_cli("account", "passwd", "--data-dir", str(data_dir), "--address", professional,
                          "--password-stdin", input=NEW_PASSWORD + "\n")
        assert changed.returncode == 0, changed.stderr
        reset = run_cli("patient", "passwd", "--data-dir", str(data_dir), "--ins", ins, "--password-stdin",
                        input=NEW_PASSWORD + "\n")
        assert reset.returncode == 0, reset.stderr
        assert "1 webmail sessions ended" in reset.stdout

        assert browser.call("GET", "/api/messages").status == 401  # the signed-in browser is out
        assert not imap_login(running.port("imaps"), professional, pro_password)  # cache or not
        assert imap_login(running.port("imaps"), professional, NEW_PASSWORD)
        assert WebClient(running.port("web")).call(
            "POST", "/api/session", {"login": ins, "password": patient_password}).status == 401
        WebClient(running.port("web")).login(ins, NEW_PASSWORD)
    assert audit_actions(data_dir).count("account.password") == 2
    for secret in (pro_password, NEW_PASSWORD, patient_password):
        assert secret not in changed.stdout + changed.stderr + reset.stdout + reset.stderr


def test_list_show_suspend_resume_and_delete_a_professional_mailbox(data_dir):
    hub = Hub.open(data_dir)
    doctor = add_professional(hub, "dr.partant")
    other = add_professional(hub, "dr.reste")
    asyncio.run(accept(hub, Envelope("labo@bio.example", (doctor,), channel="mx"),
                       make_message("labo@bio.example", doctor, "résultats", "corps")))
    asyncio.run(accept(hub, Envelope("labo@bio.example", (other,), channel="mx"),
                       make_message("labo@bio.example", other, "autres", "corps")))
    blobs = hub.read_sync(lambda c: c.execute(sa.select(sa.func.count()).select_from(Blob)).scalar_one())
    hub.close()
    cli = ("--data-dir", str(data_dir))

    listed = run_cli("account", "list", *cli)
    assert listed.returncode == 0 and doctor in listed.stdout and other in listed.stdout
    assert "postmaster@" not in listed.stdout and "2 mailboxes" in listed.stdout
    shown = run_cli("account", "show", *cli, "--address", doctor.upper())
    assert shown.returncode == 0 and "status: active" in shown.stdout and "messages: 1" in shown.stdout

    assert run_cli("account", "suspend", *cli, "--address", doctor).returncode == 0
    assert "status: suspended" in run_cli("account", "show", *cli, "--address", doctor).stdout
    assert run_cli("account", "suspend", *cli, "--address", doctor).returncode == EXIT_FAILURE
    with served(data_dir, ["imaps"]) as running:
        assert not imap_login(running.port("imaps"), doctor, TEST_PASSWORD)
        assert run_cli("account", "resume", *cli, "--address", doctor).returncode == 0
        assert imap_login(running.port("imaps"), doctor, TEST_PASSWORD)
    assert doctor in run_cli("account", "list", *cli, "--status", "active").stdout

    unconfirmed = run_cli("account", "delete", *cli, "--address", doctor, "--yes", other)
    assert unconfirmed.returncode == EXIT_USAGE
    deleted = run_cli("account", "delete", *cli, "--address", doctor, "--yes", doctor)
    assert deleted.returncode == 0, deleted.stderr
    gone = run_cli("account", "show", *cli, "--address", doctor)
    assert gone.returncode == EXIT_FAILURE and "no " in gone.stderr
    assert run_cli("account", "delete", *cli, "--address", "postmaster@hub.test", "--yes",
                   "postmaster@hub.test").returncode == EXIT_FAILURE  # not a professional mailbox
    hub = Hub.open(data_dir)
    try:  # the body only the deleted mailbox could read is gone with its key; the other stays
        left = hub.read_sync(lambda c: c.execute(sa.select(sa.func.count()).select_from(Blob)).scalar_one())
        assert left == blobs - 1
    finally:
        hub.close()
    actions = audit_actions(data_dir)
    assert {"mailbox.suspend", "mailbox.resume", "account.delete"} <= set(actions)


def test_patient_list_and_show(tmp_path):
    data_dir = tmp_path / "demo"
    assert run_cli("init", "--demo", "--data-dir", str(data_dir)).returncode == 0
    listed = run_cli("patient", "list", "--data-dir", str(data_dir))
    assert listed.returncode == 0 and "279035121518989@" in listed.stdout and "1 mailboxes" in listed.stdout
    shown = run_cli("patient", "show", "--data-dir", str(data_dir), "--ins", "279035121518989")
    assert shown.returncode == 0 and "type: PATIENT" in shown.stdout and "messages: 1" in shown.stdout
    bad = run_cli("patient", "show", "--data-dir", str(data_dir), "--ins", "123")
    assert bad.returncode == EXIT_USAGE
