"""The patient messaging rules matrix on the webmail path: real HTTP to a served hub.

Every sender who signs in to the webmail (patients, and the professionals' people:
PER, ORG, CAB; applications send by SMTP) writes to every recipient type, after
every earlier state of the conversation. The answers are those of the matrix
through delivery.accept (tests/patients/test_rules.py) and on the SMTP listeners
(tests/patients/test_rules_smtp.py): 201, or the refusal's status code and its
French and English words.
"""

from __future__ import annotations

import itertools

import pytest

from mssante_hub.web.http import refusal_error
from tests.conftest import TEST_PASSWORD, add_professional
from tests.patients.helpers import send
from tests.patients.test_rules import HISTORY, RECIPIENTS, REMOTE_DOMAIN, expected
from tests.patients.test_notify import active_patient

WEB_SENDERS = ("PER", "ORG", "CAB", "PATIENT")
CASES = list(itertools.product(WEB_SENDERS, RECIPIENTS, HISTORY))
PATIENT_PASSWORD = "mot de passe de camille"


@pytest.fixture(scope="module")
def signed_in(web_hub):
    """One webmail session per sender type."""
    clients, addresses = {}, {}
    for kind in WEB_SENDERS:
        if kind == "PATIENT":
            address, _ = active_patient(web_hub.hub, "matrice@courriel.example")
            clients[kind] = web_hub.client().login(address.partition("@")[0], PATIENT_PASSWORD)
        else:
            address = add_professional(web_hub.hub, f"web.{kind.lower()}", type=kind, password=TEST_PASSWORD)
            clients[kind] = web_hub.client().login(address, TEST_PASSWORD)
        addresses[kind] = address
    return clients, addresses


def _recipient(hub, kind: str, case: int) -> str:
    if kind == "PATIENT":
        return active_patient(hub, f"destinataire{case}@courriel.example")[0]
    if kind == "REMOTE":
        return f"dr.web{case}@{REMOTE_DOMAIN}"
    return add_professional(hub, f"{kind.lower()}.web{case}", type=kind, password=None)


@pytest.mark.parametrize("sender_type, recipient_type, history", CASES,
                         ids=[f"{s}-to-{r}-{h}" for s, r, h in CASES])
def test_rules_matrix_on_the_webmail(web_hub, signed_in, sender_type, recipient_type, history):
    clients, addresses = signed_in
    case = CASES.index((sender_type, recipient_type, history))
    sender, recipient = addresses[sender_type], _recipient(web_hub.hub, recipient_type, case)
    patient, professional = (sender, recipient) if sender_type == "PATIENT" else (recipient, sender)
    if history != "none" and "PATIENT" in (sender_type, recipient_type) and sender_type != recipient_type:
        send(web_hub.hub, professional, [patient], subject="Votre rendez-vous")
        if history == "ended":
            send(web_hub.hub, professional, [patient], subject="Fin", headers={"X-MSS-MES": "FIN"})
    answer = clients[sender_type].send([recipient], subject="Question")
    reason = expected(sender_type, recipient_type, history)
    if reason is None:
        assert answer.status == 201, answer.body
        assert answer.body["delivered"] == [recipient] or answer.body["queued"] == [recipient]
    else:
        wanted = refusal_error(reason)
        assert answer.status == wanted.status == 403
        assert answer.error == {"code": reason.status, "fr": reason.fr, "en": reason.en}
