"""The holder's life-cycle steps over the webmail API: activation, objection, closure, deletion request."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from mssante_hub.patients import provision
from storage.models import Account
from tests.conftest import TEST_PASSWORD, add_professional
from tests.patients.helpers import new_ins
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
