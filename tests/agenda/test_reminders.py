"""Reminders: a content-free notification the day before an appointment, once, through the notification
worker; none for a cancelled appointment."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from mssante_hub import delivery
from mssante_hub.patients import worker
from storage.models import AuditEvent
from tests.agenda.support import ics, imip_message
from tests.conftest import add_professional
from tests.patients.test_notify import PERSONAL, active_patient, queued_to

SECRET_SUMMARY = "Consultation d'oncologie"
SECRET_PLACE = "Institut du cancer, pavillon B"


def _deliver(hub, sender: str, patient: str, raw: bytes) -> None:
    envelope = delivery.Envelope(mail_from=sender, rcpt_to=(patient,), channel=delivery.Channel.SUBMISSION)
    asyncio.run(delivery.accept(hub, envelope, raw, delivery.Identity(sender, None, "PER")))


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def test_a_reminder_is_sent_the_day_before_once_and_says_nothing_of_the_appointment(hub):
    patient, account_id = active_patient(hub)
    doctor = add_professional(hub, "gregory.house", password=None)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start = now + dt.timedelta(hours=30)
    calendar = ics("onco-1@institut.test", organizer=doctor, summary=SECRET_SUMMARY, location=SECRET_PLACE,
                   specialty="Oncologie").replace(
        "DTSTART;TZID=Europe/Paris:20271210T100000", f"DTSTART:{_stamp(start)}").replace(
        "DTEND;TZID=Europe/Paris:20271210T103000", f"DTEND:{_stamp(start + dt.timedelta(hours=1))}")
    _deliver(hub, doctor, patient, imip_message(doctor, patient, calendar))
    # A cancelled one the same day is never reminded.
    cancelled = calendar.replace("onco-1@", "onco-2@")
    _deliver(hub, doctor, patient, imip_message(doctor, patient, cancelled))
    _deliver(hub, doctor, patient, imip_message(doctor, patient, cancelled.replace(
        "METHOD:REQUEST", "METHOD:CANCEL").replace("SEQUENCE:0", "SEQUENCE:1"), method="CANCEL"))

    assert asyncio.run(worker.send_due(hub, now)) == 1  # the news of the appointment itself, not yet a reminder
    rounds = [now + dt.timedelta(hours=h) for h in (3, 7, 8, 20, 29)]
    sent = [asyncio.run(worker.send_due(hub, at)) for at in rounds]
    assert sent == [0, 1, 0, 0, 0]  # 30 h before: not yet; 23 h before: the reminder; then never again
    kinds = hub.read_sync(lambda conn: conn.execute(select(AuditEvent.target).where(
        AuditEvent.action == "notify", AuditEvent.subject_account_id == account_id)
        .order_by(AuditEvent.id)).scalars().all())
    assert kinds == ["kinds:appointment", "kinds:reminder"]
    raw, summary = queued_to(hub, PERSONAL)[-1]
    text = (raw + summary).decode("utf-8", "replace").lower()
    assert "un rappel" in text and "a reminder" in text
    leaks = [SECRET_SUMMARY, "oncologie", SECRET_PLACE, "institut", doctor, "gregory", "house",
             start.strftime("%H:%M"), "onco-1"]
    assert [leak for leak in leaks if leak.lower() in text] == []


def test_a_campaign_notifies_the_patients_it_targets_only(hub):
    from mssante_hub.agenda import prevention
    from mssante_hub.patients import lifecycle, provision
    from storage.patients import NotificationState
    from tests.patients.helpers import new_ins

    woman, woman_id = active_patient(hub, "femme@courriel.example")  # F, born 1985
    record = provision.PatientRecord(new_ins(), "MARTIN", "Claude", "1950-01-01", "M", "homme@courriel.example")
    man_id = lifecycle.activate(hub, record.ins, provision.add_patient(hub, record), "mot de passe de claude")
    campaigns = prevention.parse_campaigns(b'{"id": "sein", "kind": "exam", "sex": "F", "min_age": 40, '
                                           b'"max_age": 74, "window": {"start": "2020-01-01", "end": "2099-12-31"}, '
                                           b'"title": {"fr": "D\\u00e9pistage du cancer du sein"}}')
    prevention.load(hub, campaigns)
    assert prevention.notify_targeted(hub, campaigns, dt.date(2026, 12, 2)) == 1
    pending = dict(hub.read_sync(lambda conn: conn.execute(select(
        NotificationState.account_id, NotificationState.pending)).all()))
    assert pending.get(woman_id) == "screening" and "screening" not in (pending.get(man_id) or "")
    assert asyncio.run(worker.send_due(hub)) == 1
    raw, summary = queued_to(hub, "femme@courriel.example")[-1]
    text = (raw + summary).decode("utf-8", "replace").lower()
    assert "une invitation de prévention" in text and "sein" not in text and "dépistage" not in text
