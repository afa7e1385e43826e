"""Professionals' read-only IMAP view of a dossier: Patients/<INS>/Dossier/<category> (imaplib, neomutt).

A served hub (`mssante-hub serve`): documents arrive by SMTP from an APP mailbox; professionals
read over IMAPS; the patient's choices go through the webmail API.
"""

from __future__ import annotations

import email
import email.policy

import pytest

from storage.models import AuditEvent
from storage.patients import NotificationState
from tests.conftest import TEST_PASSWORD, add_professional
from tests.dossier import builder, support
from tests.dossier.builder import fixture
from tests.dossier.scene import dossier_scene
from tests.dossier.support import APP, INS, PATIENT
from tests.imap.support import imaps
from tests.support.neomutt import neomutt
from tests.smtp.messages import message

DOCTOR = "jean.dupont@hub.test"  # in care: wrote to the patient
STRANGER = "marie.curie@hub.test"  # never exchanged with the patient
LAB = "labo@hub.test"  # an ORG in care, blocked later
PATIENT_PASSWORD = "mot de passe de dominique"


def _box(category: str, root: str = "Patients") -> str:
    return f"{root}/{INS}/Dossier/{category}"


@pytest.fixture(scope="module")
def scene(tmp_path_factory, module_fixtures_dir):
    fixtures_dir = module_fixtures_dir

    def accounts(hub):
        add_professional(hub, "jean.dupont")
        add_professional(hub, "marie.curie")
        add_professional(hub, "labo", type="ORG")

    with dossier_scene(tmp_path_factory.mktemp("dossier-imap"), accounts) as scene:
        send = scene.deliver
        vaccination = fixture(fixtures_dir, builder.SMALL_FIXTURE)
        send(support.document_message(builder.cda_package(vaccination, "87273-9")))
        send(support.document_message(builder.cda_package(support.set_version(vaccination, 2), "87273-9")))
        send(support.document_message(builder.cda_package(fixture(fixtures_dir, "BIO-CR-BIO_2024.01_TSH_1.xml"))))
        send(support.document_message(builder.cda_package(fixture(fixtures_dir, "LDL-SES_2022.01.xml"),
                                                          "11490-0", ("N", "MASQUE_PS"))))
        send(support.document_message(builder.cda_package(fixture(fixtures_dir, "IMG_CR_IMG_2024.01.xml"),
                                                          "18748-4", ("N", "INVISIBLE_PATIENT"))))
        send(message(DOCTOR, PATIENT, subject="Rendez-vous"), sender=DOCTOR)
        send(message(LAB, PATIENT, subject="Vos résultats"), sender=LAB)
        yield scene.running, scene.hub, scene.patient()


def _list(client) -> list[str]:
    status, lines = client.list('""', '"Patients/*"')
    assert status == "OK"
    return sorted(line.decode().rsplit(' "/" ', 1)[1].strip('"') for line in lines if line and b"Noselect" not in line)


def _traces(hub, action: str) -> list:
    with hub.engine.connect() as conn:
        return conn.execute(AuditEvent.__table__.select().where(AuditEvent.action == action)).all()


def test_a_professional_in_care_lists_and_reads_the_dossier_read_only(scene):
    running, hub, _ = scene
    client = imaps(running.port("imaps"), DOCTOR, TEST_PASSWORD)
    try:
        # MASQUE_PS (CPT_REND) is absent; INVISIBLE_PATIENT (RADIO_SC) is for professionals.
        assert _list(client) == [_box("BIOLOGIE"), _box("CAR_VAC"), _box("RADIO_SC")]
        assert client.select(_box("CAR_VAC"), readonly=True) == ("OK", [b"1"])  # v2 only: v1 was replaced
        status, data = client.fetch("1", "(BODY.PEEK[])")
        item = email.message_from_bytes(data[0][1], policy=email.policy.default)
        cda = next(p for p in item.iter_attachments() if p.get_content_type() == "text/xml").get_payload(decode=True)
        assert status == "OK" and item["Subject"] == "NOTE DE VACCINATION" and b'<versionNumber value="2"/>' in cda
        assert client.myrights(_box("CAR_VAC"))[1][0].endswith(b" lr")
        assert client.store("1", "+FLAGS", "\\Seen")[0] == "NO"
        assert client.append(_box("CAR_VAC"), None, None, b"Subject: x\r\n\r\ny\r\n")[0] == "NO"
        assert client.select(_box("CPT_REND"), readonly=True)[0] == "NO"  # MASQUE_PS: never placed
    finally:
        client.logout()
    opened = [t for t in _traces(hub, "dossier.access") if t.actor == DOCTOR]
    assert opened and all("reason:care" in t.target for t in opened)
    reads = [t for t in _traces(hub, "read") if t.actor == DOCTOR]
    assert reads and all(t.target.startswith("dossier-document:") for t in reads)
    patient = support.account(hub)
    with hub.engine.connect() as conn:
        pending = conn.execute(NotificationState.__table__.select().where(
            NotificationState.account_id == patient.id)).one().pending
    assert "access" in pending.split()


def test_one_not_in_care_sees_nothing_until_emergency_access(scene):
    running, hub, web = scene
    client = imaps(running.port("imaps"), STRANGER, TEST_PASSWORD)
    try:
        assert _list(client) == []
        assert client.select(_box("CAR_VAC"), readonly=True)[0] == "NO"
        # The explicit act: selecting the patient's category under the emergency namespace.
        assert client.select(_box("CAR_VAC", "Urgence"), readonly=True) == ("OK", [b"1"])
        assert _list(client) == [_box("BIOLOGIE"), _box("CAR_VAC"), _box("RADIO_SC")]
    finally:
        client.logout()
    emergencies = [t for t in _traces(hub, "dossier.emergency") if t.actor == STRANGER]
    assert len(emergencies) == 1 and emergencies[0].outcome == "opened"
    history = web.call("GET", "/api/history").body["history"]
    assert any(e["action"] == "dossier.emergency" and e["actor"] == "Marie Curie" for e in history)
    found = {p["address"]: p["reason"] for p in web.call("GET", "/api/dossier/professionals").body["professionals"]}
    assert found[STRANGER] == "emergency"
    # Flagged for review: the operator lists it and marks it reviewed.
    from tests.support.served import run_cli
    listed = run_cli("dossier", "emergencies", "--data-dir", str(hub.config.data_dir))
    assert listed.stdout.splitlines()[-1] == "to review 1" and STRANGER in listed.stdout
    emergency_id = listed.stdout.split()[0]
    assert run_cli("dossier", "emergencies", "--data-dir", str(hub.config.data_dir),
                   "--mark-reviewed", emergency_id).returncode == 0
    assert run_cli("dossier", "emergencies", "--data-dir", str(hub.config.data_dir)).stdout == "to review 0\n"


def test_software_has_no_view_and_no_emergency_access(scene):
    running, _, _ = scene
    client = imaps(running.port("imaps"), APP, TEST_PASSWORD)
    try:
        assert _list(client) == []
        assert client.select(_box("CAR_VAC", "Urgence"), readonly=True)[0] == "NO"
    finally:
        client.logout()


def test_blocking_and_hiding_take_effect_at_once(scene):
    running, _, web = scene
    lab = imaps(running.port("imaps"), LAB, TEST_PASSWORD)
    try:
        assert _box("BIOLOGIE") in _list(lab)
        assert web.call("POST", f"/api/dossier/professionals/{LAB}/block").status == 200
        assert _list(lab) == [] and lab.select(_box("BIOLOGIE"), readonly=True)[0] == "NO"
        assert web.call("POST", f"/api/dossier/professionals/{LAB}/unblock").status == 200
        assert _box("BIOLOGIE") in _list(lab)
        biology = web.call("GET", "/api/dossier/documents?category=BIOLOGIE").body["documents"][0]
        path = f"/api/dossier/documents/{biology['id']}/visibility"
        assert web.call("POST", path, {"hidden_from_professionals": True}).status == 200
        assert lab.select(_box("BIOLOGIE"), readonly=True) == ("OK", [b"0"])
        assert web.call("POST", path, {"hidden_from_professionals": False}).status == 200
        assert lab.select(_box("BIOLOGIE"), readonly=True) == ("OK", [b"1"])
    finally:
        lab.logout()


def test_neomutt_opens_a_dossier_category(scene, tmp_path):
    running, hub, _ = scene
    certificate = (hub.config.data_dir / "tls" / "cert.pem").read_bytes()
    with neomutt(tmp_path, user=DOCTOR, password=TEST_PASSWORD, port=running.port("imaps"),
                 spool=_box("CAR_VAC"), certificate=certificate, name="muttdossier") as screen:
        assert screen.shows("NOTE DE VACCINATION"), screen.capture()
        screen.keys("Enter")
        assert screen.shows("Document classé dans votre dossier"), screen.capture()
