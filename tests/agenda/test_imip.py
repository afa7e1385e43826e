"""Appointments over real SMTP (smtplib to a served hub): REQUEST, update and CANCEL end in the right state,
the patient's REPLY reaches the professional over IMAP (imaplib) as a valid iMIP REPLY."""

from __future__ import annotations

import email
import email.policy
import smtplib
import time

import icalendar
import pytest

from mssante_hub.hub import Hub
from mssante_hub.reader import read_folder
from storage.models import AuditEvent
from tests.agenda.support import DOCTOR, Submitter, ics, imip_message
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.dossier import support
from tests.dossier.support import INS, PATIENT
from tests.imap.support import imaps
from tests.smtp.support import configure_smtp, make_pki
from tests.support.served import served
from tests.web.conftest import configure
from tests.web.support import WebClient

PATIENT_PASSWORD = "mot de passe de dominique"
OTHER_DOCTOR = "marie.curie@hub.test"
RANGE = "/api/agenda?from=2027-01-01&to=2028-12-31"


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    base = tmp_path_factory.mktemp("agenda")
    data_dir = make_data_dir(base)
    pki = make_pki(base)
    configure(data_dir, {})
    configure_smtp(data_dir, pki)
    hub = Hub.open(data_dir)
    try:
        add_professional(hub, "jean.dupont")
        add_professional(hub, "marie.curie")
        support.provision_patient(hub)
        with served(data_dir, ["web", "submission", "imaps"]) as running:
            web = WebClient(running.port("web")).login(INS, PATIENT_PASSWORD)
            yield running, hub, web, pki
    finally:
        hub.close()


def _send(scene, raw: bytes, sender: str = DOCTOR) -> None:
    running, _, _, pki = scene
    client = Submitter(running.port("submission"), pki, sender)
    try:
        assert client.send(PATIENT, raw) == {}
    finally:
        client.close()


def _items(web, uid_summary: str) -> list[dict]:
    listed = web.call("GET", RANGE)
    assert listed.status == 200, listed.body
    return [i for i in listed.body["items"] if i["title"] == uid_summary]


def test_request_update_and_cancel_end_in_the_right_state(scene):
    _, hub, web, _ = scene
    inbox_before = len(read_folder(hub, PATIENT))
    _send(scene, imip_message(DOCTOR, PATIENT, ics("rdv-1@cabinet.test", attendee=PATIENT,
                                                   summary="Consultation de cardiologie")))
    [item] = _items(web, "Consultation de cardiologie")
    assert (item["start"], item["end"], item["tz"]) == ("2027-12-10T09:00:00+00:00", "2027-12-10T09:30:00+00:00",
                                                        "Europe/Paris")
    assert (item["place"], item["professional"], item["specialty"]) == ("Cabinet du Dr Dupont, Lyon",
                                                                        "Dr Jean Dupont", "Cardiologie")
    assert (item["status"], item["partstat"], item["sequence"]) == ("CONFIRMED", "NEEDS-ACTION", 0)
    # The covering mail stays in the Inbox; the item (the iCalendar attached) is in Agenda.
    assert len(read_folder(hub, PATIENT)) == inbox_before + 1
    [filed] = read_folder(hub, PATIENT, "Agenda")
    attached = email.message_from_bytes(filed.raw, policy=email.policy.default)
    calendar = next(p for p in attached.iter_attachments() if p.get_content_type() == "text/calendar")
    assert icalendar.Calendar.from_ical(calendar.get_content()).get("METHOD") == "REQUEST"

    # An update: a higher SEQUENCE moves it.
    _send(scene, imip_message(DOCTOR, PATIENT, ics("rdv-1@cabinet.test", sequence=1, start="20271211T140000",
                                                   end="20271211T150000", stamp="20261202T100000Z")))
    [item] = _items(web, "Consultation de cardiologie")
    assert (item["start"], item["sequence"]) == ("2027-12-11T13:00:00+00:00", 1)
    # An older one (lower SEQUENCE) changes nothing.
    _send(scene, imip_message(DOCTOR, PATIENT, ics("rdv-1@cabinet.test", sequence=0, start="20270101T080000",
                                                   end="20270101T090000", stamp="20261203T100000Z")))
    assert _items(web, "Consultation de cardiologie")[0]["start"] == "2027-12-11T13:00:00+00:00"
    # Nor does a CANCEL from another professional than the one who sent it.
    _send(scene, imip_message(OTHER_DOCTOR, PATIENT, ics("rdv-1@cabinet.test", method="CANCEL", sequence=2,
                                                         organizer=OTHER_DOCTOR), method="CANCEL"),
          sender=OTHER_DOCTOR)
    assert _items(web, "Consultation de cardiologie")[0]["status"] == "CONFIRMED"
    # The organiser's CANCEL does.
    _send(scene, imip_message(DOCTOR, PATIENT, ics("rdv-1@cabinet.test", method="CANCEL", sequence=2,
                                                   start="20271211T140000", end="20271211T150000",
                                                   status="CANCELLED"), method="CANCEL"))
    [item] = _items(web, "Consultation de cardiologie")
    assert item["status"] == "CANCELLED"
    shown = web.call("GET", f"/api/agenda/{item['id']}").body
    assert shown["state"] == "current" and shown["can_reply"] is False
    assert len(read_folder(hub, PATIENT, "Agenda")) == 3  # request, update, cancel: the history is kept
    with hub.engine.connect() as conn:
        outcomes = [r.outcome for r in conn.execute(AuditEvent.__table__.select().where(
            AuditEvent.action == "agenda.file")) if r.target.startswith("blob:") and " source:" in r.target]
    assert outcomes == ["new", "update", "cancel"]


def _wait_inbox(running, user: str, count: int, deadline_s: float = 30) -> list[bytes]:
    end = time.monotonic() + deadline_s
    while True:
        client = imaps(running.port("imaps"), user, TEST_PASSWORD)
        try:
            status, data = client.select("INBOX", readonly=True)
            total = int(data[0])
            found = []
            for n in range(1, total + 1):
                _, fetched = client.fetch(str(n), "(BODY.PEEK[])")
                found.append(fetched[0][1])
        finally:
            client.logout()
        if len(found) >= count or time.monotonic() > end:
            return found
        time.sleep(0.2)


def test_the_patients_reply_reaches_the_professional_over_imap_as_an_imip_reply(scene):
    running, hub, web, _ = scene
    _send(scene, imip_message(DOCTOR, PATIENT, ics("rdv-2@cabinet.test", attendee=PATIENT, sequence=3,
                                                   summary="Échographie cardiaque")))
    [item] = _items(web, "Échographie cardiaque")
    answer = web.call("POST", f"/api/agenda/{item['id']}/reply", {"partstat": "ACCEPTED"})
    assert answer.status == 200, answer.body
    assert answer.body["delivered"] == [DOCTOR]
    assert _items(web, "Échographie cardiaque")[0]["partstat"] == "ACCEPTED"  # recorded with the REPLY
    assert web.call("POST", f"/api/agenda/{item['id']}/reply", {"partstat": "MAYBE"}).status == 400
    replies = [m for m in _wait_inbox(running, DOCTOR, 1) if b"method=REPLY" in m or b'method="REPLY"' in m]
    assert len(replies) == 1
    mail = email.message_from_bytes(replies[0], policy=email.policy.default)
    assert mail["From"].addresses[0].addr_spec == PATIENT
    part = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
    assert part.get_param("method") == "REPLY"
    calendar = icalendar.Calendar.from_ical(part.get_content())
    assert calendar["METHOD"] == "REPLY"
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == "rdv-2@cabinet.test" and int(event["SEQUENCE"]) == 3
    attendee = event["ATTENDEE"]
    assert str(attendee).lower() == f"mailto:{PATIENT}" and attendee.params["PARTSTAT"] == "ACCEPTED"
    assert str(event["ORGANIZER"]).lower() == f"mailto:{DOCTOR}"
    # Declining afterwards: a second REPLY, and the state follows.
    assert web.call("POST", f"/api/agenda/{item['id']}/reply", {"partstat": "DECLINED"}).status == 200
    assert _items(web, "Échographie cardiaque")[0]["partstat"] == "DECLINED"


def test_a_patient_cannot_send_a_calendar_of_their_own_making(scene):
    """The REPLY exemption is for the hub's inline REPLY part only: an .ics attachment stays refused."""
    _, _, web, _ = scene
    import base64

    answer = web.call("POST", "/api/messages", {"to": [DOCTOR], "subject": "x", "body": "y", "attachments": [
        {"filename": "rdv.ics", "content_type": "text/calendar",
         "content_base64": base64.b64encode(ics("x@y", method="REPLY").encode()).decode()}]})
    assert answer.status == 422


def test_the_patients_own_items(scene):
    _, hub, web, _ = scene
    made = web.call("POST", "/api/agenda", {"kind": "reminder", "title": "Prendre rendez-vous chez le dentiste",
                                            "start": "2027-06-01T08:00:00+02:00"})
    assert made.status == 201, made.body
    own = web.call("POST", "/api/agenda", {"kind": "own", "title": "Kiné", "start": "2027-06-02T10:00:00+02:00",
                                           "end": "2027-06-02T10:45:00+02:00", "place": "Cabinet de kiné"})
    assert own.status == 201
    listed = {i["title"]: i for i in web.call("GET", "/api/agenda?from=2027-06-01&to=2027-06-03").body["items"]}
    assert listed["Prendre rendez-vous chez le dentiste"]["kind"] == "reminder"
    assert (listed["Kiné"]["kind"], listed["Kiné"]["place"], listed["Kiné"]["end"]) == (
        "own", "Cabinet de kiné", "2027-06-02T08:45:00+00:00")
    assert web.call("POST", f"/api/agenda/{own.body['id']}/reply", {"partstat": "ACCEPTED"}).status == 422
    assert web.call("POST", "/api/agenda", {"kind": "own", "title": "", "start": "x"}).status == 422
    assert web.call("GET", "/api/agenda?from=2027-06-03&to=2027-06-01").status == 400
    with hub.engine.connect() as conn:
        actions = {r.action for r in conn.execute(AuditEvent.__table__.select().where(
            AuditEvent.actor == PATIENT))}
    assert {"agenda.access", "agenda.change"} <= actions


def test_the_listing_in_pages(scene):
    _, _, web, _ = scene
    for title, start in (("Un", "2029-03-01T08:00:00+01:00"), ("Deux", "2029-03-02T08:00:00+01:00"),
                         ("Deux bis", "2029-03-02T08:00:00+01:00"), ("Trois", "2029-03-03T08:30:00+01:00"),
                         ("Quatre", "2029-03-04T08:00:00+01:00")):
        assert web.call("POST", "/api/agenda", {"kind": "own", "title": title, "start": start}).status == 201
    window = "/api/agenda?from=2029-03-01&to=2029-03-31"
    whole = web.call("GET", window).body
    assert [i["title"] for i in whole["items"]] == ["Un", "Deux", "Deux bis", "Trois", "Quatre"]
    assert (whole["truncated"], whole["next"]) == (False, None)
    pages, after = [], None
    while True:
        answer = web.call("GET", window + "&limit=2" + (f"&after={after}" if after else ""))
        assert answer.status == 200, answer.body
        pages.append([i["title"] for i in answer.body["items"]])
        after = answer.body["next"]
        assert answer.body["truncated"] == (after is not None)
        if after is None:
            break
    # Two items at the same start (Deux, Deux bis) split across pages without loss or repeat.
    assert pages == [["Un", "Deux"], ["Deux bis", "Trois"], ["Quatre"]]
    # A page larger than agenda.max_listed is that many; nonsense is refused.
    assert web.call("GET", window + "&limit=100000").body["items"] == whole["items"]
    for bad in ("&limit=0", "&limit=x", "&limit=-1", "&after=nonsense", "&after=20290301T070000.000000Z~x"):
        assert web.call("GET", window + bad).status == 400, bad


def test_hostile_calendars_are_refused_with_a_permanent_error(scene):
    running, _, _, pki = scene
    hostile = {
        "unbounded": ics("h1@x", extra="RRULE:FREQ=DAILY"),
        "too many events": ics("h2@x", events=60),
        # Folded as RFC 5545 says (lines of 75 octets): only the unfolded property is huge.
        "huge property": ics("h3@x", extra="\n ".join(("X-BIG:" + "a" * 20000)[i:i + 70] for i in range(0, 20006, 70))),
        "never occurs": ics("h4@x", extra="RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=3"),
        "secondly": ics("h5@x", extra="RRULE:FREQ=SECONDLY;COUNT=5"),
        "no start": ics("h6@x").replace("DTSTART;TZID=Europe/Paris:20271210T100000\r\n", ""),
    }
    client = Submitter(running.port("submission"), pki)
    try:
        for name, calendar in hostile.items():
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.send(PATIENT, imip_message(DOCTOR, PATIENT, calendar))
            assert 550 <= refused.value.smtp_code < 560, name
            assert b"iCalendar" in refused.value.smtp_error or b"calendrier" in refused.value.smtp_error or \
                b"currence" in refused.value.smtp_error, (name, refused.value.smtp_error)
    finally:
        client.close()
