"""Hardening of the webmail (issue 11): the trust space, reproduced first over real HTTP."""

from __future__ import annotations

import pytest

from mssante_hub.hub import Hub
from mssante_hub.rules import refusals
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.support.served import served
from tests.web.conftest import REMOTE_DOMAIN as LISTED, WebHub, configure
PATIENT_PASSWORD = "mot de passe de camille"


@pytest.fixture(scope="module")
def trust_hub(tmp_path_factory):
    data_dir = make_data_dir(tmp_path_factory.mktemp("webtrust"))
    configure(data_dir, {})  # lists LISTED only
    hub = Hub.open(data_dir)
    try:
        with served(data_dir, ["web"]) as running:
            yield WebHub(running, hub, data_dir)
    finally:
        hub.close()


def test_the_webmail_applies_the_trust_space_rule(trust_hub):
    address = add_professional(trust_hub.hub, "dr.web", password=TEST_PASSWORD)
    client = trust_hub.client().login(address, TEST_PASSWORD)
    answer = client.send(["x@not-whitelisted.example"], subject="Hors espace de confiance")
    assert answer.status == 403, answer.body  # as submission's 550 5.7.1
    reason = refusals.OUTSIDE_TRUST_SPACE
    assert answer.error == {"code": reason.status, "fr": reason.fr, "en": reason.en}
    assert client.send([f"confrere@{LISTED}"], subject="Dans l'espace").status == 201


def test_a_reply_to_outside_the_trust_space_is_not_a_contact(trust_hub):
    patient, _ = active_patient(trust_hub.hub, "reply-to@courriel.example")
    doctor = f"dr.distant@{LISTED}"
    send(trust_hub.hub, doctor, [patient], subject="Résultats", headers={"Reply-To": "someone@gmail.com"})
    client = trust_hub.client().login(patient.partition("@")[0], PATIENT_PASSWORD)
    answer = client.send(["someone@gmail.com"], subject="Re: Résultats")
    assert answer.status == 403, answer.body
    assert client.send([doctor], subject="Re: Résultats").status == 201  # the sender himself is the contact
