"""Filing, updates, cancellation, listing and reminder marking on SQLite and PostgreSQL; nothing of the
appointment in clear in the index."""

from __future__ import annotations

import asyncio
import datetime as dt

from mssante_hub import delivery
from mssante_hub.agenda import listing, reminders
from storage import agenda as agenda_store
from storage.patients import NotificationState
from tests.agenda.support import DOCTOR, ics, imip_message
from tests.conftest import add_professional
from tests.dossier import support
from tests.dossier.support import PATIENT

UTC = dt.timezone.utc


def _deliver(hub, raw: bytes) -> None:
    envelope = delivery.Envelope(mail_from=DOCTOR, rcpt_to=(PATIENT,), channel=delivery.Channel.SUBMISSION)
    asyncio.run(delivery.accept(hub, envelope, raw, delivery.Identity(DOCTOR, None, "PER")))


def _listed(hub, patient) -> list[dict]:
    return [shown for shown, _ in hub.read_sync(lambda conn: listing.items(
        conn, hub, patient, dt.datetime(2027, 1, 1, tzinfo=UTC), dt.datetime(2028, 12, 31, tzinfo=UTC), 100))]


def test_the_agenda_on_each_backend(any_hub):
    hub = any_hub
    add_professional(hub, "jean.dupont")
    support.provision_patient(hub)
    patient = support.account(hub)
    _deliver(hub, imip_message(DOCTOR, PATIENT, ics("b-1@cabinet.test", summary="Consultation de cardiologie",
                                                    extra="RRULE:FREQ=WEEKLY;COUNT=2")))
    _deliver(hub, imip_message(DOCTOR, PATIENT, ics("b-2@cabinet.test", summary="Bilan sanguin",
                                                    start="20270105T080000", end="20270105T081500")))
    assert [(i["title"], i["start"]) for i in _listed(hub, patient)] == [
        ("Bilan sanguin", "2027-01-05T07:00:00+00:00"), ("Consultation de cardiologie", "2027-12-10T09:00:00+00:00"),
        ("Consultation de cardiologie", "2027-12-17T09:00:00+00:00")]
    # An update replaces the series' occurrences; a cancel keeps the event, cancelled.
    _deliver(hub, imip_message(DOCTOR, PATIENT, ics("b-1@cabinet.test", sequence=1, summary="Consultation de "
                                                    "cardiologie", start="20280110T100000", end="20280110T110000")))
    _deliver(hub, imip_message(DOCTOR, PATIENT, ics("b-2@cabinet.test", method="CANCEL", sequence=1,
                                                    summary="Bilan sanguin", start="20270105T080000",
                                                    end="20270105T081500"), method="CANCEL"))
    assert [(i["title"], i["start"], i["status"]) for i in _listed(hub, patient)] == [
        ("Bilan sanguin", "2027-01-05T07:00:00+00:00", "CANCELLED"),
        ("Consultation de cardiologie", "2028-01-10T09:00:00+00:00", "CONFIRMED")]
    # The index holds nothing of what the appointments are about.
    with hub.engine.connect() as conn:
        rows = conn.execute(agenda_store.AgendaItem.__table__.select()).all()
    clear = repr([tuple(r) for r in rows]).lower()
    assert len(rows) == 4 and all(word not in clear for word in ("cardiologie", "bilan", "b-1@", "cabinet", "dupont"))
    # Reminders: the occurrence within the next day, once; the cancelled one never.
    at = dt.datetime(2028, 1, 9, 12, 0, tzinfo=UTC)
    assert asyncio.run(reminders.mark_due(hub, at)) == 1
    assert asyncio.run(reminders.mark_due(hub, at + dt.timedelta(hours=1))) == 0
    assert asyncio.run(reminders.mark_due(hub, dt.datetime(2027, 1, 4, 12, 0, tzinfo=UTC))) == 0
    with hub.engine.connect() as conn:
        pending = conn.execute(NotificationState.__table__.select().where(
            NotificationState.account_id == patient.id)).one().pending
    assert "reminder" in pending.split()


def test_child_processes_file_and_refuse_appointments(data_dir):
    """limits.parse_processes > 0: the plan (items, index rows) and the refusals cross the process boundary."""
    import pytest

    from mssante_hub.config import Config
    from mssante_hub.delivery import prepare_pool
    from mssante_hub.hub import Hub
    from mssante_hub.rules.refusals import Refusal

    config = Config.load(data_dir)
    config.set("limits.parse_processes", 1)
    config.save()
    hub = Hub.open(data_dir)
    try:
        add_professional(hub, "jean.dupont")
        support.provision_patient(hub)
        patient = support.account(hub)
        _deliver(hub, imip_message(DOCTOR, PATIENT, ics("pool-1@cabinet.test", summary="Radiographie")))
        with pytest.raises(Refusal) as refused:
            _deliver(hub, imip_message(DOCTOR, PATIENT, ics("pool-2@cabinet.test", extra="RRULE:FREQ=DAILY")))
        assert prepare_pool.of(hub) is not None
        assert refused.value.reason.status == "5.6.0"
        assert [i["title"] for i in _listed(hub, patient)] == ["Radiographie"]
    finally:
        hub.close()


def test_floating_times_and_dates_are_taken_in_paris():
    from mssante_hub.agenda import ical

    limits = ical.Limits(64 * 1024, 10, 100)
    floating = ics("f-1@x").replace("DTSTART;TZID=Europe/Paris:", "DTSTART:").replace("DTEND;TZID=Europe/Paris:",
                                                                                        "DTEND:")
    [event] = ical.parse(floating.encode(), limits).events
    assert event.start.astimezone(UTC).isoformat() == "2027-12-10T09:00:00+00:00" and event.tz == ""
    all_day = ics("f-2@x").replace("DTSTART;TZID=Europe/Paris:20271210T100000", "DTSTART;VALUE=DATE:20270701") \
        .replace("DTEND;TZID=Europe/Paris:20271210T103000\r\n", "")
    [event] = ical.parse(all_day.encode(), limits).events
    assert event.all_day and event.start.astimezone(UTC).isoformat() == "2027-06-30T22:00:00+00:00"
    assert event.end - event.start == dt.timedelta(days=1)
