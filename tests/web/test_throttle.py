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
