"""The patient messaging rules (docs/domain.md §5) through delivery.accept.

Every (sender type x recipient type x earlier conversation x ended or not) case is
sent through delivery.accept, the path every front door calls: patients on the
webmail channel ("web"), local professionals on "submission", another operator's
professional on "mx". The same
rules on the real SMTP listeners: test_rules_smtp.py; over the webmail's HTTP API:
tests/web/test_rules_web.py.
"""

from __future__ import annotations

import itertools

import pytest

from mssante_hub.rules import refusals
from mssante_hub.patients import conversations
from mssante_hub.rules.refusals import Refusal
from tests.conftest import add_professional
from tests.patients.helpers import add_patient_account, make_message, send

PRO_TYPES = ("PER", "ORG", "APP", "CAB")
SENDERS = PRO_TYPES + ("REMOTE", "PATIENT")
RECIPIENTS = PRO_TYPES + ("REMOTE", "PATIENT")
HISTORY = ("none", "open", "ended")
REMOTE_DOMAIN = "autre-operateur.test"


def expected(sender: str, recipient: str, history: str):
    """The specified answer: None for accepted, else the refusal reason."""
    if sender != "PATIENT":
        return None  # professionals, organisations and applications may always write
    if recipient == "PATIENT":
        return refusals.PATIENT_TO_PATIENT
    if history == "none":
        return refusals.PATIENT_NOT_A_CONTACT
    if history == "ended":
        return refusals.PATIENT_CONVERSATION_ENDED
    return None


@pytest.fixture(scope="module")
def rules_hub(tmp_path_factory):
    from mssante_hub.hub import Hub
    from tests.conftest import make_data_dir
    from tests.support.trust import list_domains

    data_dir = make_data_dir(tmp_path_factory.mktemp("rules"))
    list_domains(data_dir, [REMOTE_DOMAIN])  # the other operator is in the trust space
    opened = Hub.open(data_dir)
    yield opened
    opened.close()


def _party(hub, kind: str, case: int) -> str:
    if kind == "PATIENT":
        return add_patient_account(hub)
    if kind == "REMOTE":
        return f"dr.distant{case}@{REMOTE_DOMAIN}"
    return add_professional(hub, f"{kind.lower()}.case{case}", type=kind, password=None)


CASES = list(itertools.product(SENDERS, RECIPIENTS, HISTORY))


@pytest.mark.parametrize("sender_type, recipient_type, history", CASES,
                         ids=[f"{s}-to-{r}-{h}" for s, r, h in CASES])
def test_rules_matrix(rules_hub, sender_type, recipient_type, history):
    hub = rules_hub
    case = CASES.index((sender_type, recipient_type, history))
    sender = _party(hub, sender_type, case)
    recipient = _party(hub, recipient_type, case + 10_000)
    # The earlier conversation, when there is a professional and a patient to have one.
    patient, professional = (sender, recipient) if sender_type == "PATIENT" else (recipient, sender)
    if history != "none" and "PATIENT" in (sender_type, recipient_type) and sender_type != recipient_type:
        send(hub, professional, [patient], subject="Votre rendez-vous")
        if history == "ended":
            send(hub, professional, [patient], subject="Fin", headers={"X-MSS-MES": "FIN"})
    reason = expected(sender_type, recipient_type, history)
    if reason is None:
        delivered = send(hub, sender, [recipient])
        assert recipient in delivered.uids or recipient in delivered.queued
    else:
        with pytest.raises(Refusal) as refused:
            send(hub, sender, [recipient])
        assert refused.value.reason == reason
        assert reason.fr in str(refused.value) and reason.en in str(refused.value)


def test_reply_to_becomes_the_authorised_contact(hub):
    doctor = add_professional(hub, "dr.reply", password=None)
    secretariat = add_professional(hub, "secretariat.reply", type="ORG", password=None)
    patient = add_patient_account(hub)
    send(hub, doctor, [patient], headers={"Reply-To": f"Secrétariat <{secretariat}>"})
    send(hub, patient, [secretariat], subject="Re: Bonjour")
    with pytest.raises(Refusal) as refused:
        send(hub, patient, [doctor])
    assert refused.value.reason == refusals.PATIENT_NOT_A_CONTACT


def test_subject_fin_ends_and_a_new_message_reopens(hub):
    doctor = add_professional(hub, "dr.fin", password=None)
    patient = add_patient_account(hub)
    send(hub, doctor, [patient])
    send(hub, doctor, [patient], subject="[FIN]")
    with pytest.raises(Refusal) as refused:
        send(hub, patient, [doctor])
    assert refused.value.reason == refusals.PATIENT_CONVERSATION_ENDED
    shown = hub.read_sync(lambda conn: conversations.conversation_list(
        conn, _account_id(hub, patient)))
    assert conversations.ended_text(shown[0]).startswith("«Dr Fin» a mis fin à vos échanges")
    send(hub, doctor, [patient], subject="Nouvelle consultation")
    send(hub, patient, [doctor])


def test_a_subject_merely_containing_fin_does_not_end(hub):
    doctor = add_professional(hub, "dr.notfin", password=None)
    patient = add_patient_account(hub)
    send(hub, doctor, [patient], subject="[FIN] de traitement")
    send(hub, patient, [doctor])


def test_pharmacy_that_wrote_before_stays_reachable_after_fin(hub):
    from mssante_hub.patients.conversations import flag_pharmacy

    pharmacy = add_professional(hub, "pharmacie.centrale", type="ORG", password=None)
    other_org = add_professional(hub, "laboratoire", type="ORG", password=None)
    hub.committer.run(lambda conn: flag_pharmacy(conn, pharmacy))
    patient = add_patient_account(hub)
    for org in (pharmacy, other_org):
        send(hub, org, [patient])
        send(hub, org, [patient], headers={"X-MSS-MES": "FIN"})
    send(hub, patient, [pharmacy], subject="Ordonnance",
         attachments=[("ordonnance.pdf", "application/pdf", b"%PDF-1.4 prescription")])
    with pytest.raises(Refusal):
        send(hub, patient, [other_org])
    unvisited = add_professional(hub, "pharmacie.jamais.vue", type="ORG", password=None)
    hub.committer.run(lambda conn: flag_pharmacy(conn, unvisited))
    with pytest.raises(Refusal) as refused:
        send(hub, patient, [unvisited])
    assert refused.value.reason == refusals.PATIENT_NOT_A_CONTACT


def test_patient_attachment_types_and_budget(hub):
    doctor = add_professional(hub, "dr.pieces", password=None)
    patient = add_patient_account(hub)
    send(hub, doctor, [patient])
    for name in ("photo.JPG", "scan.jpeg", "image.png", "radio.tiff", "cr.pdf", "note.txt", "lettre.rtf",
                 "vieux.doc"):
        send(hub, patient, [doctor], attachments=[(name, "application/octet-stream", b"data")])
    for name in ("virus.exe", "archive.zip", "page.html", "sans-extension", "lettre.docx"):
        with pytest.raises(Refusal) as refused:
            send(hub, patient, [doctor], attachments=[(name, "application/octet-stream", b"data")])
        assert refused.value.reason == refusals.PATIENT_ATTACHMENT_TYPE
    budget = hub.config.get("patients.attachment_budget_bytes")
    half = b"x" * (budget // 2 + 1)
    with pytest.raises(Refusal) as refused:
        send(hub, patient, [doctor],
             attachments=[("a.pdf", "application/pdf", half), ("b.pdf", "application/pdf", half)])
    assert refused.value.reason == refusals.PATIENT_ATTACHMENTS_TOO_BIG
    assert "La taille du ou des documents dépasse la limite autorisée" in str(refused.value)
    # A professional is not held to the patients' list.
    send(hub, doctor, [patient], attachments=[("IHE_XDM.zip", "application/zip", b"PK")])


def test_imap_append_is_not_sending(hub):
    patient = add_patient_account(hub)
    other = add_patient_account(hub)
    delivered = send(hub, patient, [patient], channel="imap", raw=make_message(patient, [other]))
    assert patient in delivered.uids


def test_webmail_channel_takes_the_same_rules(hub):
    patient = add_patient_account(hub)
    other = add_patient_account(hub)
    with pytest.raises(Refusal) as refused:
        send(hub, patient, [other], channel="web")
    assert refused.value.reason == refusals.PATIENT_TO_PATIENT


def test_patient_address_arriving_on_mx_is_not_trusted(hub):
    doctor = add_professional(hub, "dr.spoof", password=None)
    patient = add_patient_account(hub)
    send(hub, doctor, [patient])
    with pytest.raises(Refusal) as refused:
        send(hub, patient, [doctor], channel="mx")
    assert refused.value.reason == refusals.PATIENT_SENDER_NOT_ALLOWED


def test_conversation_state_is_written_with_the_delivery_only(hub):
    doctor = add_professional(hub, "dr.atomic", password=None)
    patient = add_patient_account(hub)
    with pytest.raises(Refusal):  # one unknown local recipient refuses the whole message
        send(hub, doctor, [patient, "personne@hub.test"])
    with pytest.raises(Refusal) as refused:
        send(hub, patient, [doctor])
    assert refused.value.reason == refusals.PATIENT_NOT_A_CONTACT


def _account_id(hub, address):
    from storage import accounts as account_repo

    return hub.read_sync(lambda conn: account_repo.by_address(conn, address)).id
