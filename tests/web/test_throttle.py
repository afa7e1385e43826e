"""Failed webmail sign-ins are throttled (per client address and per login) and traced."""

from __future__ import annotations

import pytest

from mssante_hub import audit
from tests.patients.test_notify import active_patient

PATIENT_PASSWORD = "mot de passe de camille"
MAX_FAILURES = 3


@pytest.fixture(scope="module")
def web_settings() -> dict:
    return {"web.max_failed_logins": MAX_FAILURES}


def test_wrong_passwords_lock_the_door_and_are_traced(web_hub):
    address, account_id = active_patient(web_hub.hub, "essais@courriel.example")
    ins = address.partition("@")[0]
    client = web_hub.client()
    for _ in range(MAX_FAILURES):
        assert client.call("POST", "/api/session", {"login": ins, "password": "devinette"}).status == 401
    # Now even the right password is refused, from this address, for this login and any other.
    locked = client.call("POST", "/api/session", {"login": ins, "password": PATIENT_PASSWORD})
    assert locked.status == 429 and locked.error["fr"] and locked.error["en"]
    other, _ = active_patient(web_hub.hub, "autre@courriel.example")
    assert client.call("POST", "/api/session", {"login": other, "password": PATIENT_PASSWORD}).status == 429
    history = web_hub.hub.read_sync(lambda conn: audit.access_history(conn, account_id))
    outcomes = [e.outcome for e in history if e.action == audit.LOGIN]
    assert outcomes.count("refused") == MAX_FAILURES and "throttled" in outcomes and "ok" not in outcomes


def test_one_address_trying_codes_on_many_ins_is_stopped(web_hub):
    from mssante_hub.patients import provision
    from tests.patients.helpers import new_ins

    client = web_hub.client()
    for n in range(MAX_FAILURES):  # a different INS each time: the per-INS lock never triggers
        record = provision.PatientRecord(new_ins(), "DURAND", "Paul", "1970-05-06", "M", f"p{n}@courriel.example")
        provision.add_patient(web_hub.hub, record)
        answer = client.call("POST", "/api/objection", {"ins": record.ins, "code": "AAAA-BBBB-CCCC"})
        assert answer.status == 403
    assert client.call("POST", "/api/objection", {"ins": record.ins, "code": "AAAA-BBBB-CCCC"}).status == 429
