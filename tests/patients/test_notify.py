"""Content-free notifications: scan for leaks, per-type preferences, one per interval (digest)."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select, update

from crypto.envelope import decrypt_body, decrypt_summary, unwrap_key
from mssante_hub.patients import notifications, worker
from mssante_hub.patients import lifecycle, provision
from storage.models import Account, AccountStatus, AuditEvent, Blob, OutboundItem, WrappedKey
from storage.patients import NotificationState
from tests.conftest import add_professional
from tests.patients.helpers import new_ins, send

PERSONAL = "camille.perso@courriel.example"
SECRET_SUBJECT = "Résultats oncologie biopsie"
SECRET_BODY = "Votre marqueur tumoral CA-125 est de 412 U/mL"
SECRET_FILE = "compte-rendu-chimiotherapie.pdf"
# A valid calendar: an invalid one to a patient is refused (docs/agenda.md).
CALENDAR = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:prefs@x\r\n"
            b"DTSTAMP:20261201T100000Z\r\nDTSTART:20271201T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def active_patient(hub, email: str = PERSONAL) -> tuple[str, int]:
    record = provision.PatientRecord(new_ins(), "PETIT", "Camille", "1985-03-04", "F", email)
    code = provision.add_patient(hub, record)
    account_id = lifecycle.activate(hub, record.ins, code, "mot de passe de camille")
    return f"{record.ins.lower()}@{hub.config.get('hub.patient_domain')}", account_id


def queued_to(hub, email: str) -> list[tuple[bytes, bytes]]:
    """(raw, summary) of every message queued to a personal address, oldest first, opened with the relay key."""
    system = hub.system_account()
    private = hub.keyring.private_key(system.key_id, system.sealed_private_key)
    rows = hub.read_sync(lambda conn: conn.execute(
        select(Blob.id, Blob.body, Blob.summary, WrappedKey.wrapped).join(OutboundItem, OutboundItem.blob_id == Blob.id)
        .join(WrappedKey, (WrappedKey.blob_id == Blob.id) & (WrappedKey.account_id == system.id))
        .where(OutboundItem.rcpt_to == email).order_by(OutboundItem.id)).all())
    opened = []
    for row in rows:
        key = unwrap_key(row.wrapped, row.id, private)
        opened.append((decrypt_body(key, row.id, row.body), decrypt_summary(key, row.id, row.summary)))
    return opened


def send_due(hub, now=None) -> int:
    return asyncio.run(worker.send_due(hub, now))


def test_a_notification_carries_nothing_of_the_original(hub):
    patient, account_id = active_patient(hub)
    doctor = add_professional(hub, "gregory.house", password=None)
    send(hub, doctor, [patient], from_name="Dr Gregory House", subject=SECRET_SUBJECT, body=SECRET_BODY,
         attachments=[(SECRET_FILE, "application/pdf", b"%PDF-1.4 " + SECRET_BODY.encode())])
    assert send_due(hub) == 1
    raw, summary = queued_to(hub, PERSONAL)[-1]
    text = (raw + summary).decode("utf-8", "replace").lower()
    assert "du nouveau vous attend" in text and "there is something new" in text
    assert "un nouveau message" in text
    leaks = [SECRET_SUBJECT, "oncologie", "biopsie", SECRET_BODY, "CA-125", "412 U/mL", SECRET_FILE, "chimiotherapie",
             doctor, "gregory", "house"]
    found = [leak for leak in leaks if leak.lower() in text]
    assert found == []
    events = hub.read_sync(lambda conn: conn.execute(select(AuditEvent.target).where(
        AuditEvent.action == "notify", AuditEvent.subject_account_id == account_id)).scalars().all())
    assert events == ["kinds:message"]


def test_at_most_one_per_interval_then_a_digest(hub):
    patient, account_id = active_patient(hub, "digest@courriel.example")
    doctor = add_professional(hub, "dr.digest", password=None)
    now = dt.datetime.now(dt.timezone.utc)
    send(hub, doctor, [patient])
    assert send_due(hub, now) == 1
    send(hub, doctor, [patient], subject="Encore")
    send(hub, doctor, [patient], subject="CR", headers={"X-MSS-CODECDA": "11490-0"})
    assert send_due(hub, now + dt.timedelta(minutes=1)) == 0  # within the interval: waits
    later = now + dt.timedelta(minutes=hub.config.get("notify.interval_minutes") + 1)
    assert send_due(hub, later) == 1
    assert send_due(hub, later) == 0  # nothing left pending
    notices = queued_to(hub, "digest@courriel.example")
    assert len(notices) == 3  # the provisioning letter, then one notification, then one digest
    digest = notices[-1][0].decode()
    assert "un nouveau message" in digest and "un nouveau document" in digest


def test_per_type_preferences(hub):
    patient, account_id = active_patient(hub, "prefs@courriel.example")
    doctor = add_professional(hub, "dr.prefs", password=None)
    notifications.set_preferences(hub, account_id, {notifications.MESSAGE})
    send(hub, doctor, [patient])
    assert send_due(hub) == 0
    send(hub, doctor, [patient], subject="Agenda", attachments=[("rdv.ics", "text/calendar", CALENDAR)])
    assert send_due(hub) == 1
    assert "un rendez-vous" in queued_to(hub, "prefs@courriel.example")[-1][0].decode()
    pending = hub.read_sync(lambda conn: conn.execute(select(NotificationState.pending).where(
        NotificationState.account_id == account_id)).scalar())
    assert pending == ""


def test_pending_news_is_written_with_the_delivery(hub):
    patient, account_id = active_patient(hub, "tx@courriel.example")
    doctor = add_professional(hub, "dr.tx", password=None)
    send(hub, doctor, [patient])
    state = hub.read_sync(lambda conn: conn.execute(select(NotificationState.pending).where(
        NotificationState.account_id == account_id)).scalar())
    assert state == "message"


def test_inactive_spaces_are_not_notified(hub):
    patient, account_id = active_patient(hub, "closed@courriel.example")
    doctor = add_professional(hub, "dr.closed", password=None)
    send(hub, doctor, [patient])
    hub.committer.run(lambda conn: conn.execute(
        update(Account).where(Account.id == account_id).values(status=AccountStatus.SUSPENDED.value)))
    assert send_due(hub) == 0


def test_the_serving_worker_notifies_after_a_delivery(hub):
    from mssante_hub import delivery
    from mssante_hub.patients import worker
    from tests.patients.helpers import identity_of, make_message

    patient, _ = active_patient(hub, "worker@courriel.example")
    doctor = add_professional(hub, "dr.worker", password=None)

    async def scenario() -> int:
        running = worker.start(hub)
        try:
            await delivery.accept(hub, delivery.Envelope(mail_from=doctor, rcpt_to=(patient,), channel="submission"),
                                  make_message(doctor, [patient]), identity_of(hub, doctor))
            for _ in range(600):  # waits for the condition, not for a duration
                if len(queued_to(hub, "worker@courriel.example")) == 2:
                    break
                await asyncio.sleep(0.05)
            return len(queued_to(hub, "worker@courriel.example"))
        finally:
            await running.stop()

    assert asyncio.run(scenario()) == 2  # the provisioning letter and the notification


def test_the_worker_sleeps_through_mail_among_professionals(hub):
    """Only a delivery to a patient space wakes the worker (it cost ~10 % of SMTP ingest when all did)."""
    from mssante_hub import delivery
    from mssante_hub.patients import worker
    from tests.patients.helpers import identity_of, make_message

    patient, _ = active_patient(hub, "reveil@courriel.example")
    doctor = add_professional(hub, "dr.reveil", password=None)
    colleague = add_professional(hub, "dr.collegue", password=None)

    async def scenario() -> tuple[bool, bool]:
        running = worker.start(hub)
        try:
            await asyncio.sleep(0.1)  # its first round is done; it waits now
            await delivery.accept(hub, delivery.Envelope(mail_from=doctor, rcpt_to=(colleague,), channel="submission"),
                                  make_message(doctor, [colleague]), identity_of(hub, doctor))
            among_professionals = running._wake.is_set()
            await delivery.accept(hub, delivery.Envelope(mail_from=doctor, rcpt_to=(patient,), channel="submission"),
                                  make_message(doctor, [patient]), identity_of(hub, doctor))
            return among_professionals, running._wake.is_set()
        finally:
            await running.stop()

    assert asyncio.run(scenario()) == (False, True)


def test_a_serving_hub_notifies_after_a_delivery_over_smtp(tmp_path):
    """`serve` runs the notification worker: a message to a patient over mx queues a content-free notice."""
    import smtplib
    import time

    from mssante_hub.config import Config
    from mssante_hub.hub import Hub
    from tests.conftest import make_data_dir
    from tests.support.mail import make_message
    from tests.support.served import served

    data_dir = make_data_dir(tmp_path)
    config = Config.load(data_dir)
    config.set("mx.trusted_networks", ["127.0.0.0/8"])
    config.set("relay.enabled", False)  # keep the notice in the queue, where the test reads it
    config.save()
    with Hub.open(data_dir) as hub:
        patient, _ = active_patient(hub)
        before = len(queued_to(hub, PERSONAL))
    with served(data_dir, ["mx"]) as server:
        with smtplib.SMTP("127.0.0.1", server.port("mx"), timeout=30) as client:
            client.sendmail("secretariat@chu.example", [patient],
                            make_message("secretariat@chu.example", patient, "Résultat IRM", "Lésion stable"))
        with Hub.open(data_dir, upgrade_schema=False) as hub:
            deadline = time.monotonic() + 20
            while len(queued_to(hub, PERSONAL)) == before and time.monotonic() < deadline:
                time.sleep(0.2)
            queued = queued_to(hub, PERSONAL)
    assert len(queued) == before + 1
    raw, _ = queued[-1]
    assert b"IRM" not in raw and "Lésion".encode() not in raw and b"chu.example" not in raw
