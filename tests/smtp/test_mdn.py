"""MDN (RFC 8098) sent automatically by patient spaces, parsed back with Python's email package."""

from __future__ import annotations

import email
import email.policy
import time

import pytest

from mssante_hub.accounts.mailboxes import add_account
from mssante_hub.reader import read_folder
from tests.dossier import builder
from tests.smtp.messages import message
from tests.smtp.test_submission import JEAN, logged_in

INS = "279035121518989"
PATIENT = f"{INS}@patient.hub.test"
OPTIONS = "Disposition-Notification-Options: X-DIRECT-FINAL-DESTINATION-DELIVERY=optional,true\r\n"


def add_patient(hub) -> None:
    add_account(hub, type="PATIENT", address=PATIENT, display_name="Marie Martin", ins=INS)


def wait_for_inbox(hub, address: str, count: int, deadline_s: float = 30) -> list:
    """The MDN is sent after the 250, in the background: wait until it has arrived."""
    end = time.monotonic() + deadline_s
    while True:
        inbox = read_folder(hub, address)
        if len(inbox) >= count or time.monotonic() > end:
            return inbox
        time.sleep(0.05)


def dispositions(inbox) -> list[tuple[str, str, str]]:
    found = []
    for stored in inbox:
        report = email.message_from_bytes(stored.raw, policy=email.policy.default)
        assert report.get_content_type() == "multipart/report"
        assert report.get_param("report-type") == "disposition-notification"
        human, notification = report.get_payload()
        assert human.get_content().startswith("Le message") and "The message" in human.get_content()
        assert notification.get_content_type() == "message/disposition-notification"
        fields = notification.get_payload()[0]
        assert fields["Final-Recipient"] == f"rfc822;{PATIENT}"
        assert fields["Reporting-UA"]
        found.append((fields["Disposition"], fields["Original-Message-ID"], report["From"]))
    return found


def test_a_patient_space_sends_processed_and_dispatched_mdns(smtp_hub, pki):
    add_patient(smtp_hub.hub)
    raw = message(JEAN, PATIENT, extra_headers=f"Disposition-Notification-To: <{JEAN}>\r\n{OPTIONS}")
    message_id = email.message_from_bytes(raw)["Message-ID"]
    with logged_in(smtp_hub, pki) as client:
        assert client.sendmail(JEAN, [PATIENT], raw) == {}
    got = sorted(dispositions(wait_for_inbox(smtp_hub.hub, JEAN, 2)))
    assert got == [
        ("automatic-action/MDN-sent-automatically; dispatched", message_id, PATIENT),
        ("automatic-action/MDN-sent-automatically; processed", message_id, PATIENT),
    ]


def test_no_mdn_when_the_notification_address_is_not_the_return_path(smtp_hub, pki):
    add_patient(smtp_hub.hub)
    other = "marie.curie@hub.test"
    with logged_in(smtp_hub, pki) as client:
        client.sendmail(JEAN, [PATIENT], message(JEAN, PATIENT, extra_headers=f"Disposition-Notification-To: {other}\r\n"))
        # A second message that does ask properly: once its MDN is in, the first had its chance.
        client.sendmail(JEAN, [PATIENT], message(JEAN, PATIENT, extra_headers=f"Disposition-Notification-To: {JEAN}\r\n"))
    got = dispositions(wait_for_inbox(smtp_hub.hub, JEAN, 1))
    assert [d for d, _, _ in got] == ["automatic-action/MDN-sent-automatically; processed"]
    assert read_folder(smtp_hub.hub, other) == []


def test_an_integration_error_mdn_carries_the_code_and_subject_prefix():
    from relays.reports import disposition_notification

    raw = disposition_notification(reporting_ua="mx.hub.test; mssante-hub", from_address=PATIENT, to_address=JEAN,
                                   final_recipient=PATIENT, original_message_id="<a@b>",
                                   original_subject="XDM/1.0/DDM+CR", error=("902", "Patient inconnu"))
    report = email.message_from_bytes(raw, policy=email.policy.default)
    assert report["Subject"].startswith("Accusé de réception / Receipt: [KO Intégration système !][902] ")
    fields = report.get_payload()[1].get_payload()[0]
    assert fields["Disposition"] == "automatic-action/MDN-sent-automatically; processed/Error: 902^Patient inconnu"


def test_notify_success_on_a_local_recipient_gives_a_delivered_dsn(smtp_hub, pki):
    marie = "marie.curie@hub.test"
    with logged_in(smtp_hub, pki) as client:
        client.mail(JEAN, ["RET=HDRS", "ENVID=lot-42"])
        assert client.rcpt(marie, ["NOTIFY=SUCCESS", f"ORCPT=rfc822;{marie}"])[0] == 250
        assert client.data(message(JEAN, marie, subject="Avec accusé"))[0] == 250
    inbox = wait_for_inbox(smtp_hub.hub, JEAN, 1)
    report = email.message_from_bytes(inbox[0].raw, policy=email.policy.default)
    assert report.get_content_type() == "multipart/report" and report.get_param("report-type") == "delivery-status"
    per_message, per_recipient = report.get_payload()[1].get_payload()
    assert per_message["Original-Envelope-Id"] == "lot-42"
    assert (per_recipient["Action"], per_recipient["Status"]) == ("delivered", "2.0.0")
    assert per_recipient["Original-Recipient"] == f"rfc822;{marie}"
    assert report.get_payload()[2].get_content_type() == "text/rfc822-headers"


# --- Document messages: the integration check decides the processed MDN (codes 902-906) ----

def provision_patient(hub, birth_date: str = "1979-03-28") -> None:
    """The fixtures' patient with identity traits (as `patient provision` creates them), activated."""
    from mssante_hub.patients import lifecycle
    from mssante_hub.patients.provision import PatientRecord, add_patient as add_space

    code = add_space(hub, PatientRecord(INS, "PAT-TROIS", "DOMINIQUE MARIE-LOUISE", birth_date, "F",
                                        "dominique@example.org"))
    lifecycle.activate(hub, INS, code, "mot de passe de dominique")


def send_document(smtp_hub, pki, xdm_zip: bytes | None, options: bool = True) -> str:
    headers = {"Disposition-Notification-To": f"<{JEAN}>"}
    if options:
        headers["Disposition-Notification-Options"] = OPTIONS.partition(":")[2].strip()
    raw = builder.document_message(JEAN, PATIENT, xdm_zip, extra_headers=headers)
    with logged_in(smtp_hub, pki) as client:
        assert client.sendmail(JEAN, [PATIENT], raw) == {}
    return email.message_from_bytes(raw)["Message-ID"]


def subjects(inbox) -> list[str]:
    return [email.message_from_bytes(m.raw, policy=email.policy.default)["Subject"] for m in inbox]


PROCESSED = "automatic-action/MDN-sent-automatically; processed"
DISPATCHED = "automatic-action/MDN-sent-automatically; dispatched"
RECEIPT = "Accusé de réception / Receipt: "
KO = "[KO Intégration système !]"


def test_a_document_that_integrates_is_processed_and_dispatched_one_that_fails_only_processed(
        smtp_hub, pki):
    add_patient(smtp_hub.hub)
    cda = builder.generated_cda()
    failing = send_document(smtp_hub, pki, builder.cda_package(builder.with_patient_ins(cda, None)))
    wait_for_inbox(smtp_hub.hub, JEAN, 1)
    passing = send_document(smtp_hub, pki, builder.cda_package(cda, "87273-9"))
    inbox = wait_for_inbox(smtp_hub.hub, JEAN, 3)
    assert sorted(dispositions(inbox)) == sorted([
        (f"{PROCESSED}/Error: 903^INS absent du document", failing, PATIENT),
        (PROCESSED, passing, PATIENT),
        (DISPATCHED, passing, PATIENT),
    ])
    assert sorted(s.startswith(RECEIPT + KO) for s in subjects(inbox)) == [False, False, True]
    assert len(read_folder(smtp_hub.hub, PATIENT)) == 2  # both delivered: the MDN reports, it does not refuse


def test_identity_traits_held_by_the_hub_are_compared(smtp_hub, pki):
    provision_patient(smtp_hub.hub)
    cda = builder.generated_cda()
    matching = send_document(smtp_hub, pki, builder.cda_package(cda), options=False)
    wait_for_inbox(smtp_hub.hub, JEAN, 1)
    other_birth = cda.replace(b'<birthTime value="19790328"/>', b'<birthTime value="19790329"/>', 1)
    assert other_birth != cda
    differing = send_document(smtp_hub, pki, builder.cda_package(other_birth), options=False)
    inbox = wait_for_inbox(smtp_hub.hub, JEAN, 2)
    assert sorted(dispositions(inbox)) == sorted([
        (PROCESSED, matching, PATIENT),
        (f"{PROCESSED}/Error: 904^INS et traits d'identité incohérents", differing, PATIENT),
    ])
    assert len(read_folder(smtp_hub.hub, PATIENT)) == 1  # the 904 one is held in quarantine


def _other_patient(cda: bytes) -> bytes:
    return builder.cda_package(builder.with_patient_ins(cda, "180012A12345620"))


ERROR_CASES = {
    "902 another patient's INS": (_other_patient, "902^Patient inconnu"),
    "903 no INS": (lambda cda: builder.cda_package(builder.with_patient_ins(cda, None)),
                   "903^INS absent du document"),
    "905 INS key wrong": (lambda cda: builder.cda_package(builder.with_patient_ins(cda, "279035121518988")),
                          "905^INS incomplet ou invalide"),
    "905 INS truncated": (lambda cda: builder.cda_package(builder.with_patient_ins(cda, "2790351215189")),
                          "905^INS incomplet ou invalide"),
    "906 corrupt zip": (lambda cda: builder.cda_package(cda)[:-200], "906^Archive XDM illisible"),
    "906 hash mismatch": (lambda cda: builder.package([builder.Document("DOC0001.XML", cda, listed_hash="c" * 40)]),
                          "906^Empreinte ou taille de document incorrecte"),
    "906 billion laughs": (lambda cda: builder.cda_package(builder.BILLION_LAUGHS), "906^Document XML refusé"),
    "906 zip bomb": (lambda cda: builder.zip_bomb(10), "906^Archive XDM hors limites"),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_an_integration_failure_gives_an_rfc_8098_error_disposition(smtp_hub, pki, case):
    add_patient(smtp_hub.hub)
    build, expected = ERROR_CASES[case]
    message_id = send_document(smtp_hub, pki, build(builder.generated_cda()))
    wait_for_inbox(smtp_hub.hub, JEAN, 1)
    # A plain message after it: once its receipt is in, a dispatched MDN for the first would be too.
    plain = send_document(smtp_hub, pki, None, options=False)
    inbox = wait_for_inbox(smtp_hub.hub, JEAN, 2)
    assert sorted(dispositions(inbox)) == sorted([(f"{PROCESSED}/Error: {expected}", message_id, PATIENT),
                                                  (PROCESSED, plain, PATIENT)])
    code = expected.partition("^")[0]
    failed = [m for m in inbox if f"Error: {code}".encode() in m.raw]
    report = email.message_from_bytes(failed[0].raw, policy=email.policy.default)
    assert report["Subject"].startswith(f"{RECEIPT}{KO}[{code}] XDM/1.0/DDM+")
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "disposition-notification"
    human, notification = report.get_payload()
    assert f"({code} : " in human.get_content()
    assert notification.get_payload()[0]["Original-Message-ID"] == message_id
    # Another patient's document is never shown to this one: held in quarantine, and the receipt says so.
    quarantined = code in ("902", "904")
    assert ("quarantaine" in human.get_content()) is quarantined
    assert len(read_folder(smtp_hub.hub, PATIENT)) == (1 if quarantined else 2)
