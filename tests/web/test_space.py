"""The holder's life-cycle steps over the webmail API: activation, objection, closure, deletion request."""

from __future__ import annotations

import datetime as dt
import http.client
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from sqlalchemy import select

from mssante_hub.patients import provision
from storage.models import Account
from tests.conftest import TEST_PASSWORD, add_professional
from tests.patients.helpers import new_ins, send
from tests.patients.test_export import PASSPHRASE, gpg
from tests.patients.test_notify import active_patient

NEW_PASSWORD = "un mot de passe bien long"


def _provisioned(web_hub) -> tuple[str, str]:
    record = provision.PatientRecord(new_ins(), "MARTIN", "Léa", "1990-01-02", "F", "lea@courriel.example")
    return record.ins, provision.add_patient(web_hub.hub, record)


def _account(web_hub, ins: str):
    return web_hub.hub.read_sync(lambda conn: conn.execute(
        select(Account.status, Account.password_hash).where(Account.ins == ins)).one_or_none())


def test_activation_works_once_then_sign_in(web_hub):
    ins, code = _provisioned(web_hub)
    client = web_hub.client()
    short = client.call("POST", "/api/activation", {"ins": ins, "code": code, "password": "court"})
    assert short.status == 422 and "12" in short.error["fr"] and "12" in short.error["en"]
    wrong = client.call("POST", "/api/activation", {"ins": ins, "code": "AAAA-BBBB-CCCC", "password": NEW_PASSWORD})
    assert wrong.status == 403 and wrong.error["code"] == "code_refused"
    done = client.call("POST", "/api/activation", {"ins": ins, "code": code, "password": NEW_PASSWORD})
    assert done.status == 201 and done.body["address"].startswith(ins.lower())
    again = client.call("POST", "/api/activation", {"ins": ins, "code": code, "password": NEW_PASSWORD})
    assert again.status == 403  # the code is spent
    assert client.login(ins, NEW_PASSWORD).call("GET", "/api/session").status == 200
    bad_ins = client.call("POST", "/api/activation", {"ins": "123", "code": code, "password": NEW_PASSWORD})
    assert bad_ins.status == 422 and bad_ins.error["code"] == "invalid_ins"


def test_objection_with_the_code_deletes_the_space_at_once(web_hub):
    ins, code = _provisioned(web_hub)
    client = web_hub.client()
    assert client.call("POST", "/api/objection", {"ins": ins, "code": "AAAA-BBBB-CCCC"}).status == 403
    assert _account(web_hub, ins) is not None
    done = client.call("POST", "/api/objection", {"ins": ins, "code": code})
    assert done.status == 200 and done.body == {"deleted": True}
    assert _account(web_hub, ins) is None


def test_closure_by_the_holder_needs_the_password_and_ends_every_session(web_hub):
    address, _ = active_patient(web_hub.hub, "cloture@courriel.example")
    ins = address.partition("@")[0].upper()
    first = web_hub.client().login(ins, "mot de passe de camille")
    second = web_hub.client().login(ins, "mot de passe de camille")
    assert first.call("POST", "/api/space/close", {"password": "pas le bon"}).status == 403
    assert first.call("POST", "/api/space/close", {}).status == 400
    assert _account(web_hub, ins).status == "active"
    assert first.call("POST", "/api/space/close", {"password": "mot de passe de camille"}).status == 200
    assert _account(web_hub, ins).status == "closed"
    assert second.call("GET", "/api/messages").status == 401
    failed = web_hub.client().call("POST", "/api/session", {"login": ins, "password": "mot de passe de camille"})
    assert failed.status == 401


def test_deletion_request_is_due_within_three_months(web_hub):
    address, _ = active_patient(web_hub.hub, "suppression@courriel.example")
    me = web_hub.client().login(address, "mot de passe de camille")
    answer = me.call("POST", "/api/space/deletion", {"password": "mot de passe de camille"})
    assert answer.status == 200
    due = dt.datetime.fromisoformat(answer.body["deletion_due_at"])
    assert dt.timedelta(0) < due - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(days=90)


def test_only_a_patient_closes_a_space(web_hub):
    doctor = add_professional(web_hub.hub, "dr.ferme", password=TEST_PASSWORD)
    pro = web_hub.client().login(doctor, TEST_PASSWORD)
    assert pro.call("POST", "/api/space/close", {"password": TEST_PASSWORD}).status == 403


def test_export_from_the_webmail_decrypts_with_gpg(web_hub):
    address, account_id = active_patient(web_hub.hub, "export.web@courriel.example")
    doctor = add_professional(web_hub.hub, "dr.exportweb", password=None)
    send(web_hub.hub, doctor, [address], subject="Compte rendu opératoire", body="Tout s'est bien passé.")
    me = web_hub.client().login(address, "mot de passe de camille")
    refused = me.call("POST", "/api/space/export", {"password": "pas le bon", "passphrase": PASSPHRASE})
    assert refused.status == 403
    connection = http.client.HTTPConnection("127.0.0.1", web_hub.port, timeout=60)
    connection.request("POST", "/api/space/export", headers={
        "Authorization": f"Bearer {me.token}", "Content-Type": "application/json"},
        body=json.dumps({"password": "mot de passe de camille", "passphrase": PASSPHRASE}).encode())
    response = connection.getresponse()
    data = response.read()
    assert response.status == 200 and response.getheader("content-type") == "application/pgp-encrypted"
    assert b"Compte rendu" not in data and "attachment" in response.getheader("content-disposition")
    home = tempfile.mkdtemp(prefix="mhw-", dir="/tmp")  # short: the gpg agent socket path must fit
    sealed = Path(home) / "export.gpg"  # on a file: gpg reads the passphrase alone from its stdin
    sealed.write_bytes(data)
    plain = gpg(home, "--pinentry-mode", "loopback", "--passphrase-fd", "0", "--decrypt", str(sealed),
                input=PASSPHRASE.encode() + b"\n")
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        names = tar.getnames()
        inbox = [tar.extractfile(n).read() for n in names if n.startswith("INBOX/")]
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True, check=False)
    shutil.rmtree(home, ignore_errors=True)
    assert "manifest.json" in names and len(inbox) == 1
    assert "Tout s'est bien passé.".encode() in inbox[0]
    history = me.call("GET", "/api/history").body["history"]
    assert any(e["action"] == "patient.export" for e in history)


def test_notification_preferences(web_hub):
    address, _ = active_patient(web_hub.hub, "preferences@courriel.example")
    me = web_hub.client().login(address, "mot de passe de camille")
    start = me.call("GET", "/api/preferences").body["notifications"]
    assert start and all(start.values())
    changed = me.call("PUT", "/api/preferences", {"notifications": {"message": False, "document": False}})
    assert changed.status == 200
    assert me.call("GET", "/api/preferences").body["notifications"]["message"] is False
    again = me.call("PUT", "/api/preferences", {"notifications": {"message": True}}).body["notifications"]
    assert again["message"] is True and again["document"] is False
    assert me.call("PUT", "/api/preferences", {"notifications": {"inconnu": True}}).status == 422
