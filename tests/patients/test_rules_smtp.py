"""The patient rules on the real SMTP listeners (smtplib over TLS).

Patients have no SMTP login (they use the webmail), so on SMTP the rules show as:
professionals and hospital systems open conversations (submission and mx), `FIN`
ends them, and a closed space is refused. The patient's side of each conversation
is sent on the webmail channel ("web") through delivery.accept, as the webmail
API does (the same matrix over real HTTP: tests/web/test_rules_web.py). The
matrix below crosses every professional sender type (and another operator's
system on mx) with every recipient type and, for patients, every earlier state
of the conversation.
"""

from __future__ import annotations

import smtplib

import pytest

from mssante_hub.rules import policy, refusals
from mssante_hub.patients import lifecycle
from mssante_hub.rules.refusals import Refusal
from tests.conftest import TEST_PASSWORD, add_professional
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.smtp.messages import message
from tests.smtp.support import HOSPITAL_DOMAIN

DPI = f"dpi@{HOSPITAL_DOMAIN}"


def submit(smtp_hub, pki, sender: str, rcpt: str, **kwargs) -> dict:
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("submission"), timeout=30) as client:
        client.starttls(context=pki.client_context(None))
        client.login(sender, TEST_PASSWORD)
        return client.sendmail(sender, [rcpt], message(sender, rcpt, **kwargs))


def from_hospital(smtp_hub, pki, rcpt: str, **kwargs) -> dict:
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("mx"), timeout=30) as client:
        client.ehlo("dpi.hopital.test")
        client.starttls(context=pki.client_context(pki.hospital))
        client.ehlo("dpi.hopital.test")
        return client.sendmail(DPI, [rcpt], message(DPI, rcpt, **kwargs))


def test_professionals_open_conversations_over_smtp(matrix_hub):
    smtp_hub, pki, senders, _ = matrix_hub
    hub = smtp_hub.hub
    doctor = senders["PER"]
    patient, _ = active_patient(hub, "smtp@courriel.example")
    with pytest.raises(Refusal) as refused:
        send(hub, patient, [doctor], channel="web")
    assert refused.value.reason == refusals.PATIENT_NOT_A_CONTACT
    assert submit(smtp_hub, pki, doctor, patient, subject="Consultation") == {}
    assert from_hospital(smtp_hub, pki, patient, subject="CR") == {}
    send(hub, patient, [doctor], channel="web")
    delivered = send(hub, patient, [DPI], channel="web")
    assert delivered.queued == (DPI,)
    assert submit(smtp_hub, pki, doctor, patient, subject="[FIN]") == {}
    with pytest.raises(Refusal) as refused:
        send(hub, patient, [doctor], channel="web")
    assert refused.value.reason == refusals.PATIENT_CONVERSATION_ENDED
    send(hub, patient, [DPI], channel="web")  # the hospital did not end its exchange


def test_a_closed_space_is_refused_with_its_reason_over_smtp(matrix_hub):
    smtp_hub, pki, senders, _ = matrix_hub
    hub = smtp_hub.hub
    doctor = senders["PER"]
    patient, _ = active_patient(hub, "smtp-closed@courriel.example")
    lifecycle.close_space(hub, patient.partition("@")[0], actor=patient)
    with pytest.raises(smtplib.SMTPException) as refused:
        submit(smtp_hub, pki, doctor, patient)
    # Refused at RCPT TO with the patient-space words (policy.recipient_reason), in both languages.
    text = str(refused.value)
    assert "550" in text and "Patient space closed" in text and "patient ferm" in text
    with pytest.raises(smtplib.SMTPException) as refused:
        from_hospital(smtp_hub, pki, patient)
    assert "550" in str(refused.value)
    # Past RCPT (delivery.accept, as every front door ends up calling), the specific reason:
    with pytest.raises(Refusal) as specific:
        send(hub, doctor, [patient])
    assert specific.value.reason == refusals.PATIENT_SPACE_CLOSED
    assert policy.recipient_reason("PATIENT", "closed") == refusals.PATIENT_SPACE_CLOSED


def test_patients_have_no_smtp_login(matrix_hub):
    smtp_hub, pki, _, _ = matrix_hub
    hub = smtp_hub.hub
    patient, account_id = active_patient(hub, "smtp-login@courriel.example")
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("submission"), timeout=30) as client:
        client.starttls(context=pki.client_context(None))
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login(patient, "mot de passe de camille")


# --- The matrix on the real listeners -------------------------------------------------
# Senders on SMTP are professionals (patients have no SMTP login); each case sends on the
# real listener, then checks the patient's side on the webmail channel.

PRO_TYPES = ("PER", "ORG", "APP", "CAB")
SMTP_SENDERS = PRO_TYPES + ("REMOTE",)
SMTP_RECIPIENTS = PRO_TYPES + ("REMOTE", "PATIENT")
HISTORY = ("none", "open", "ended")
# History only means something between a professional and a patient; mx is not a relay between outsiders.
SMTP_CASES = [(s, r, h) for s in SMTP_SENDERS for r in SMTP_RECIPIENTS for h in HISTORY
              if not (s == "REMOTE" and r == "REMOTE") and (r == "PATIENT" or h == "none")]
# Logins are part of every case: cheap password hashes keep the matrix quick (production keeps its own).
FAST_ARGON2 = {"auth.argon2_time_cost": 1, "auth.argon2_memory_kib": 8 * 1024}


@pytest.fixture(scope="module")
def matrix_hub(tmp_path_factory):
    from mssante_hub.hub import Hub
    from mssante_hub.smtp import mx, submission
    from tests.conftest import make_data_dir
    from tests.smtp.conftest import Running
    from tests.smtp.support import LoopThread, configure_smtp, make_pki

    base = tmp_path_factory.mktemp("smtp-matrix")
    pki_ = make_pki(base)
    data_dir = make_data_dir(base)
    configure_smtp(data_dir, pki_, **FAST_ARGON2)
    hub = Hub.open(data_dir)
    senders = {kind: add_professional(hub, f"{kind.lower()}.expediteur", type=kind) for kind in PRO_TYPES}
    recipients = {kind: add_professional(hub, f"{kind.lower()}.destinataire", type=kind, password=None)
                  for kind in PRO_TYPES}
    loop = LoopThread()
    listeners = {"mx": loop.run(mx.start(hub, "127.0.0.1", 0)),
                 "submission": loop.run(submission.start(hub, "127.0.0.1", 0))}
    yield Running(hub, loop, listeners), pki_, senders, recipients
    for listener in listeners.values():
        loop.run(listener.close())
    loop.stop()
    hub.close()


def _smtp_send(running, pki_, sender_kind: str, senders: dict, rcpt: str, **kwargs) -> dict:
    if sender_kind == "REMOTE":
        return from_hospital(running, pki_, rcpt, **kwargs)
    return submit(running, pki_, senders[sender_kind], rcpt, **kwargs)


@pytest.mark.parametrize("sender_kind, recipient_kind, history", SMTP_CASES,
                         ids=[f"{s}-to-{r}-{h}" for s, r, h in SMTP_CASES])
def test_rules_matrix_over_smtp(matrix_hub, sender_kind, recipient_kind, history):
    running, pki_, senders, recipients = matrix_hub
    hub = running.hub
    sender = DPI if sender_kind == "REMOTE" else senders[sender_kind]
    if recipient_kind == "PATIENT":
        from tests.patients.helpers import add_patient_account
        rcpt = add_patient_account(hub)
    elif recipient_kind == "REMOTE":
        rcpt = "dr.distant@autre-operateur.test"
    else:
        rcpt = recipients[recipient_kind]
    if recipient_kind == "PATIENT" and history != "none":
        _smtp_send(running, pki_, sender_kind, senders, rcpt, subject="Avant")
        if history == "ended":
            _smtp_send(running, pki_, sender_kind, senders, rcpt, subject="Fin", extra_headers="X-MSS-MES: FIN\r\n")
    # A professional may always write, whatever came before.
    assert _smtp_send(running, pki_, sender_kind, senders, rcpt, subject="Message") == {}
    if recipient_kind == "PATIENT":
        # The message just received (re)opens the exchange: the patient may answer on the webmail path...
        send(hub, rcpt, [sender], channel="web")
        # ...but never to a professional who has not written, nor to another patient.
        with pytest.raises(Refusal) as refused:
            send(hub, rcpt, [recipients["PER"]], channel="web")
        assert refused.value.reason == refusals.PATIENT_NOT_A_CONTACT
        # FIN on SMTP ends it for the webmail path.
        _smtp_send(running, pki_, sender_kind, senders, rcpt, subject="[FIN]")
        with pytest.raises(Refusal) as refused:
            send(hub, rcpt, [sender], channel="web")
        assert refused.value.reason == refusals.PATIENT_CONVERSATION_ENDED
