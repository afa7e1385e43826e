"""MDN (RFC 8098) sent automatically by patient spaces, parsed back with Python's email package."""

from __future__ import annotations

import email
import email.policy
import time

from mssante_hub.accounts import add_account
from mssante_hub.reading import read_folder
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
