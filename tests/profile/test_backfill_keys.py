"""Profile entries and appointments filed before the professionals' views (storage/views.py), on a served hub: the
store is taken back to what it was before them (no key wrapped for the hub, no view folder), so a professional in
care sees neither; `mssante-hub profile backfill-keys` wraps the keys and completes the views as filing now does
(the hidden entry out, the advance directives in, the patient's own item out), and a second run changes nothing."""

from __future__ import annotations

import email
import email.policy
import json

import pytest
from sqlalchemy import delete, select

from storage import messages, views
from storage.agenda import AgendaItem
from storage.models import Folder, WrappedKey
from storage.profile import ProfileEntry
from tests.agenda.support import ics, imip_message
from tests.conftest import TEST_PASSWORD, add_professional
from tests.dossier.scene import dossier_scene
from tests.dossier.support import INS, PATIENT
from tests.imap.support import imaps
from tests.profile.resources import of_each_kind
from tests.smtp.messages import message
from tests.support.served import run_cli

DOCTOR = "jean.dupont@hub.test"
AGENDA = f"Patients/{INS}/Agenda"
PROFILE = f"Patients/{INS}/Dossier/Profil"


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    with dossier_scene(tmp_path_factory.mktemp("profile-backfill"), lambda hub: add_professional(hub, "jean.dupont")
                       ) as scene:
        scene.deliver(message(DOCTOR, PATIENT, subject="Bonjour"), sender=DOCTOR)
        scene.deliver(imip_message(DOCTOR, PATIENT, ics("rdv-7@cabinet.test")), sender=DOCTOR)
        web = scene.patient()
        resources = of_each_kind()
        ids = {kind: web.call("POST", "/api/profile", resources[kind]).body["id"]
               for kind in ("Condition", "AllergyIntolerance", "DocumentReference")}
        for kind in ("AllergyIntolerance", "DocumentReference"):
            assert web.call("POST", f"/api/profile/{ids[kind]}/visibility",
                            {"hidden_from_professionals": True}).status == 200
        assert web.call("POST", "/api/agenda", {"kind": "own", "title": "Kiné",
                                                "start": "2027-06-02T10:00:00+02:00"}).status == 201
        yield scene, ids


def _as_before_the_views(hub) -> int:
    """No key wrapped for the hub on the patient's entries and appointments, no view folder: a store of before."""
    system = hub.system_account()

    def work(conn) -> int:
        placed = 0
        for folder_id, account_id, name in conn.execute(select(Folder.id, Folder.account_id, Folder.name).where(
                Folder.name.in_(views.VIEWS))).all():
            placed += len(views.placed(conn, account_id, name))
            messages.delete_folder(conn, folder_id)
        items = select(ProfileEntry.blob_id).union(select(AgendaItem.blob_id))
        conn.execute(delete(WrappedKey).where(WrappedKey.account_id == system.id, WrappedKey.blob_id.in_(items)))
        return placed
    return hub.committer.run(work)


def _kinds(client) -> set[str]:
    status, data = client.fetch("1:*", "(BODY.PEEK[])")
    assert status == "OK"
    found = set()
    for part in (d for d in data if isinstance(d, tuple)):
        item = email.message_from_bytes(part[1], policy=email.policy.default)
        fhir = next(p for p in item.iter_attachments() if p.get_content_type() == "application/fhir+json")
        found.add(json.loads(fhir.get_payload(decode=True))["resourceType"])
    return found


def test_backfill_keys_completes_the_views(scene):
    scene, ids = scene
    hub, data_dir = scene.hub, str(scene.hub.config.data_dir)
    assert _as_before_the_views(hub) == 3  # the appointment, the condition, the directives
    client = imaps(scene.running.port("imaps"), DOCTOR, TEST_PASSWORD)
    try:
        assert client.select(AGENDA, readonly=True)[0] == "NO" and client.select(PROFILE, readonly=True)[0] == "NO"
    finally:
        client.logout()
    done = run_cli("profile", "backfill-keys", "--data-dir", data_dir)
    # Keys: the appointment and the three current entries (the hidden allergy too: shown again, it comes back).
    assert done.returncode == 0 and done.stdout.strip() == "spaces 1, keys wrapped 4, placements made 3", done
    client = imaps(scene.running.port("imaps"), DOCTOR, TEST_PASSWORD)
    try:
        assert client.select(AGENDA, readonly=True) == ("OK", [b"1"])  # not the patient's own item
        status, data = client.fetch("1", "(BODY.PEEK[])")
        item = email.message_from_bytes(data[0][1], policy=email.policy.default)
        calendar = next(p for p in item.iter_attachments() if p.get_content_type() == "text/calendar")
        assert status == "OK" and b"UID:rdv-7@cabinet.test" in calendar.get_payload(decode=True)
        assert client.select(PROFILE, readonly=True) == ("OK", [b"2"])
        assert _kinds(client) == {"Condition", "DocumentReference"}
        web = scene.patient()
        assert web.call("POST", f"/api/profile/{ids['AllergyIntolerance']}/visibility",
                        {"hidden_from_professionals": False}).status == 200
        assert client.select(PROFILE, readonly=True) == ("OK", [b"3"])
    finally:
        client.logout()
    again = run_cli("profile", "backfill-keys", "--data-dir", data_dir)
    assert again.stdout.strip() == "spaces 1, keys wrapped 0, placements made 0", again
