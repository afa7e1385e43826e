"""Professionals' read-only IMAP view of a patient's agenda and profil médical: Patients/<INS>/Agenda and
Patients/<INS>/Dossier/Profil, with the advance directives under emergency access (imaplib).

A served hub (`mssante-hub serve`): a doctor sends appointments by iMIP over submission, the patient writes the
profile and hides entries through the webmail API, professionals read over IMAPS.
"""

from __future__ import annotations

import email
import email.policy
import json
import time

import pytest

from storage.models import AuditEvent
from tests.agenda.support import ics, imip_message
from tests.conftest import TEST_PASSWORD, add_professional
from tests.dossier.scene import dossier_scene
from tests.dossier.support import INS, PATIENT
from tests.imap.support import imaps
from tests.profile.resources import of_each_kind
from tests.smtp.messages import message

DOCTOR = "jean.dupont@hub.test"  # in care: wrote to the patient, sent the appointment
LAB = "labo@hub.test"  # an ORG in care
STRANGER = "marie.curie@hub.test"  # never exchanged with the patient
EMERGENCY = "sam.urgence@hub.test"  # never exchanged: reads only by emergency access
BLOCKED = "paul.bloque@hub.test"  # in care, then blocked by the patient
AGENDA = f"Patients/{INS}/Agenda"
PROFILE = f"Patients/{INS}/Dossier/Profil"
KINDS_SHOWN = {"Condition", "MedicationStatement", "DocumentReference"}  # the allergy is hidden


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    def accounts(hub):
        for local in ("jean.dupont", "marie.curie", "sam.urgence", "paul.bloque"):
            add_professional(hub, local)
        add_professional(hub, "labo", type="ORG")

    with dossier_scene(tmp_path_factory.mktemp("space-views"), accounts) as scene:
        for sender in (DOCTOR, LAB, BLOCKED):
            scene.deliver(message(sender, PATIENT, subject="Bonjour"), sender=sender)
        # An appointment, then its update: the view holds the current version only.
        scene.deliver(imip_message(DOCTOR, PATIENT, ics("rdv-1@cabinet.test", attendee=PATIENT)), sender=DOCTOR)
        scene.deliver(imip_message(DOCTOR, PATIENT, ics("rdv-1@cabinet.test", sequence=1, attendee=PATIENT,
                                                        start="20271211T100000", end="20271211T103000")),
                      sender=DOCTOR)
        web = scene.patient()
        resources = of_each_kind()
        ids = {}
        for kind in ("Condition", "AllergyIntolerance", "MedicationStatement", "DocumentReference"):
            answer = web.call("POST", "/api/profile", resources[kind])
            assert answer.status == 201, answer.body
            ids[kind] = answer.body["id"]
        edited = dict(resources["MedicationStatement"], effectiveDateTime="2022-02-02")
        assert web.call("PUT", f"/api/profile/{ids['MedicationStatement']}", edited).status == 200
        for kind in ("AllergyIntolerance", "DocumentReference"):  # directives: hidden, yet always shown
            assert web.call("POST", f"/api/profile/{ids[kind]}/visibility",
                            {"hidden_from_professionals": True}).status == 200
        # The patient's own agenda item is theirs alone.
        assert web.call("POST", "/api/agenda", {"kind": "own", "title": "Kiné",
                                                "start": "2027-06-02T10:00:00+02:00"}).status == 201
        assert web.call("POST", f"/api/dossier/professionals/{BLOCKED}/block").status == 200
        yield scene.running, scene.hub, web, ids


def _list(client) -> list[str]:
    status, lines = client.list('""', '"Patients/*"')
    assert status == "OK"
    return sorted(line.decode().rsplit(' "/" ', 1)[1].strip('"') for line in lines if line and b"Noselect" not in line)


def _items(client) -> list[email.message.EmailMessage]:
    status, data = client.fetch("1:*", "(BODY.PEEK[])")
    assert status == "OK"
    return [email.message_from_bytes(part[1], policy=email.policy.default) for part in data if isinstance(part, tuple)]


def _resources(client) -> list[dict]:
    found = []
    for item in _items(client):
        part = next(p for p in item.iter_attachments() if p.get_content_type() == "application/fhir+json")
        found.append(json.loads(part.get_payload(decode=True)))
    return found


def _traces(hub, action: str, actor: str) -> list:
    with hub.engine.connect() as conn:
        return conn.execute(AuditEvent.__table__.select().where(AuditEvent.action == action,
                                                                AuditEvent.actor == actor)).all()


def _reads(hub, actor: str, count: int) -> list[str]:
    """The body reads traced for `actor`: queued to the committer without waiting (imap/dossier_view.py), durable
    with its next commit, so looked for until `count` are there (or a few seconds have passed)."""
    deadline = time.monotonic() + 10
    while True:
        found = [t.target for t in _traces(hub, "read", actor)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_a_professional_in_care_reads_the_agenda_and_the_profile_read_only(scene):
    running, hub, web, _ = scene
    client = imaps(running.port("imaps"), DOCTOR, TEST_PASSWORD)
    try:
        listed = _list(client)
        assert AGENDA in listed and PROFILE in listed
        assert client.select(AGENDA, readonly=True) == ("OK", [b"1"])  # the update only; not the patient's own
        (item,) = _items(client)
        calendar = next(p for p in item.iter_attachments() if p.get_content_type() == "text/calendar")
        text = calendar.get_payload(decode=True).decode()
        assert "UID:rdv-1@cabinet.test" in text and "SEQUENCE:1" in text
        assert client.myrights(AGENDA)[1][0].endswith(b" lr")
        assert client.select(PROFILE, readonly=True) == ("OK", [b"3"])
        resources = _resources(client)
        assert {r["resourceType"] for r in resources} == KINDS_SHOWN  # the hidden allergy is not there
        medication = next(r for r in resources if r["resourceType"] == "MedicationStatement")
        assert medication["effectiveDateTime"] == "2022-02-02"  # the current version only
    finally:
        client.logout()
    assert [t.target for t in _traces(hub, "agenda.access", DOCTOR)] == ["agenda reason:care via:imap"]
    assert [t.target for t in _traces(hub, "profile.read", DOCTOR)] == ["profil reason:care via:imap"]
    reads = _reads(hub, DOCTOR, 4)
    assert sum(t.startswith("agenda-item:") for t in reads) == 1 and sum(
        t.startswith("profile-entry:") for t in reads) == 3
    history = web.call("GET", "/api/history").body["history"]
    assert any(e["action"] == "profile.read" and e["actor"] == "Jean Dupont"
               and e["action_label"] == "Consultation du profil médical" for e in history)
    assert any(e["action"] == "agenda.access" and e["actor"] == "Jean Dupont" for e in history)


def test_one_not_in_care_sees_nothing(scene):
    running, _, _, _ = scene
    client = imaps(running.port("imaps"), STRANGER, TEST_PASSWORD)
    try:
        assert _list(client) == []
        assert client.select(AGENDA, readonly=True)[0] == "NO"
        assert client.select(PROFILE, readonly=True)[0] == "NO"
    finally:
        client.logout()


def test_emergency_access_shows_the_advance_directives(scene):
    running, hub, _, _ = scene
    client = imaps(running.port("imaps"), EMERGENCY, TEST_PASSWORD)
    try:
        assert client.select(PROFILE, readonly=True)[0] == "NO"
        # The explicit act: the emergency namespace; the directives are there though the patient hid them.
        assert client.select(f"Urgence/{INS}/Dossier/Profil", readonly=True) == ("OK", [b"3"])
        kinds = {r["resourceType"] for r in _resources(client)}
        assert "DocumentReference" in kinds and "AllergyIntolerance" not in kinds
        assert AGENDA in _list(client)  # the emergency opens the whole dossier for its hours
    finally:
        client.logout()
    assert [t.outcome for t in _traces(hub, "dossier.emergency", EMERGENCY)] == ["opened"]
    assert [t.target for t in _traces(hub, "profile.read", EMERGENCY)] == ["profil reason:emergency via:imap"]


def test_a_blocked_professional_reads_only_by_emergency_access(scene):
    running, _, _, _ = scene
    client = imaps(running.port("imaps"), BLOCKED, TEST_PASSWORD)
    try:
        assert _list(client) == []
        assert client.select(PROFILE, readonly=True)[0] == "NO"
        assert client.select(AGENDA, readonly=True)[0] == "NO"
        assert client.select(f"Urgence/{INS}/Dossier/Profil", readonly=True)[0] == "OK"
        assert "DocumentReference" in {r["resourceType"] for r in _resources(client)}
    finally:
        client.logout()


def test_hiding_and_showing_an_entry_take_effect_at_once(scene):
    running, _, web, ids = scene
    client = imaps(running.port("imaps"), LAB, TEST_PASSWORD)
    path = f"/api/profile/{ids['Condition']}/visibility"
    try:
        assert client.select(PROFILE, readonly=True) == ("OK", [b"3"])
        answer = web.call("POST", path, {"hidden_from_professionals": True})
        assert (answer.status, answer.body["shown_to_professionals"]) == (200, False)
        assert client.select(PROFILE, readonly=True) == ("OK", [b"2"])
        assert "Condition" not in {r["resourceType"] for r in _resources(client)}
        # An edit of a hidden entry keeps it hidden.
        edited = dict(of_each_kind()["Condition"], onsetDateTime="2016-06-01")
        assert web.call("PUT", f"/api/profile/{ids['Condition']}", edited).status == 200
        assert client.select(PROFILE, readonly=True) == ("OK", [b"2"])
        assert web.call("GET", f"/api/profile/{ids['Condition']}").body.get("hidden_from_professionals") is True
        assert web.call("POST", path, {"hidden_from_professionals": False}).status == 200
        assert client.select(PROFILE, readonly=True) == ("OK", [b"3"])
        # The directives cannot leave: hidden again, they stay.
        directives = f"/api/profile/{ids['DocumentReference']}/visibility"
        answer = web.call("POST", directives, {"hidden_from_professionals": True})
        assert (answer.status, answer.body["shown_to_professionals"]) == (200, True)
        assert client.select(PROFILE, readonly=True) == ("OK", [b"3"])
    finally:
        client.logout()
