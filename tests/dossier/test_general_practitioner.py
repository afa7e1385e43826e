"""MASQUE_PS and the patient's declared general practitioner (médecin traitant, docs/domain.md §6.2), on a served
hub: the patient declares the GP over the webmail API; over IMAP the GP reads MASQUE_PS documents that every other
professional in care never sees; a MASQUE_PS document may be mailed to the patient and their GP, never to another
professional; the patient's own hide choice still hides from the GP; a grant opens the dossier outside care."""

from __future__ import annotations

import smtplib

import pytest

from mssante_hub.accounts.mailboxes import add_account
from storage.models import AuditEvent
from tests.conftest import TEST_PASSWORD, add_professional
from tests.dossier import builder, support
from tests.dossier.builder import fixture
from tests.dossier.scene import dossier_scene
from tests.dossier.support import INS, PATIENT
from tests.imap.support import imaps
from tests.smtp.messages import message

GP = "marie.curie@hub.test"  # the declared médecin traitant, in care
DOCTOR = "jean.dupont@hub.test"  # in care, not the GP
OUTSIDER = "louis.pasteur@hub.test"  # never exchanged with the patient
AUTHOR = "dr.auteur@hub.test"  # RPPS 01234567897: the idNatPS 801234567897 the MASQUE_PS example names as author
PATIENT_PASSWORD = "mot de passe de dominique"


def _box(category: str) -> str:
    return f"Patients/{INS}/Dossier/{category}"


@pytest.fixture(scope="module")
def scene(tmp_path_factory, module_fixtures_dir):
    def accounts(hub):
        for local in ("jean.dupont", "marie.curie", "louis.pasteur"):
            add_professional(hub, local)
        add_professional(hub, "secretariat", type="ORG")
        add_account(hub, type="PER", address=AUTHOR, display_name="Dr Auteur", password=TEST_PASSWORD,
                    rpps="01234567897")

    with dossier_scene(tmp_path_factory.mktemp("dossier-gp"), accounts) as scene:
        send = scene.send
        web = scene.patient()
        assert web.call("PUT", "/api/dossier/general-practitioner", {"address": "secretariat@hub.test"}).status \
            == 422  # an ORG mailbox is no médecin traitant
        assert web.call("PUT", "/api/dossier/general-practitioner", {"address": GP}).body == {"address": GP}
        for professional in (DOCTOR, GP, AUTHOR):
            send(message(professional, PATIENT, subject="Consultation"), [PATIENT], sender=professional)
        send(support.document_message(builder.cda_package(fixture(module_fixtures_dir, builder.SMALL_FIXTURE),
                                                          "87273-9")), [PATIENT])
        masked = builder.cda_package(fixture(module_fixtures_dir, "LDL-SES_2022.01.xml"), "11490-0",
                                     ("N", "MASQUE_PS"))
        send(support.document_message(masked), [PATIENT])
        yield scene.running, scene.hub, web, send, masked


def _list(client) -> list[str]:
    status, lines = client.list('""', '"Patients/*"')
    assert status == "OK"
    return sorted(line.decode().rsplit(' "/" ', 1)[1].strip('"') for line in lines if line and b"Noselect" not in line)


def test_the_declared_gp_reads_masque_ps_documents_others_never_do(scene):
    running, _, web, _, _ = scene
    assert web.call("GET", "/api/dossier/general-practitioner").body == {"address": GP}
    doctor = imaps(running.port("imaps"), DOCTOR, TEST_PASSWORD)
    try:
        assert _list(doctor) == [_box("CAR_VAC")]
        assert doctor.select(_box("CPT_REND"), readonly=True)[0] == "NO"
    finally:
        doctor.logout()
    gp = imaps(running.port("imaps"), GP, TEST_PASSWORD)
    try:
        assert _list(gp) == [_box("CAR_VAC"), _box("CPT_REND")]
        assert gp.select(_box("CPT_REND"), readonly=True) == ("OK", [b"1"])
        status, data = gp.fetch("1", "(BODY.PEEK[])")
        assert status == "OK" and b"text/xml" in data[0][1]
    finally:
        gp.logout()


def test_the_patients_own_hide_choice_hides_from_the_gp_too(scene):
    running, _, web, _, _ = scene
    document = web.call("GET", "/api/dossier/documents?category=CPT_REND").body["documents"][0]
    path = f"/api/dossier/documents/{document['id']}/visibility"
    assert web.call("POST", path, {"hidden_from_professionals": True}).status == 200
    gp = imaps(running.port("imaps"), GP, TEST_PASSWORD)
    try:
        assert gp.select(_box("CPT_REND"), readonly=True) == ("OK", [b"0"])  # the folder stays, empty
    finally:
        gp.logout()
    assert web.call("POST", path, {"hidden_from_professionals": False}).status == 200
    gp = imaps(running.port("imaps"), GP, TEST_PASSWORD)
    try:
        assert gp.select(_box("CPT_REND"), readonly=True) == ("OK", [b"1"])  # back, for the GP only
    finally:
        gp.logout()
    doctor = imaps(running.port("imaps"), DOCTOR, TEST_PASSWORD)
    try:
        assert _list(doctor) == [_box("CAR_VAC")]
    finally:
        doctor.logout()


def test_a_masque_ps_document_may_be_mailed_to_the_gp_and_no_other_professional(scene):
    _, _, _, send, masked = scene
    raw = support.document_message(masked, receipt=False)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(raw, [PATIENT, DOCTOR])
    assert refused.value.smtp_code == 554
    # Accepted (its version is not higher than the one held: the receipt would say 900; the GP has it by mail).
    assert send(support.document_message(masked, receipt=False), [PATIENT, GP]) == {}


def test_a_grant_opens_the_dossier_outside_the_care_window(scene):
    running, hub, web, _, _ = scene
    outsider = imaps(running.port("imaps"), OUTSIDER, TEST_PASSWORD)
    try:
        assert _list(outsider) == []
    finally:
        outsider.logout()
    answer = web.call("POST", f"/api/dossier/professionals/{OUTSIDER}/grant")
    assert answer.body == {"address": OUTSIDER, "blocked": False, "granted": True}
    reasons = {p["address"]: p["reason"] for p in web.call("GET", "/api/dossier/professionals").body["professionals"]}
    assert reasons[OUTSIDER] == "granted"
    outsider = imaps(running.port("imaps"), OUTSIDER, TEST_PASSWORD)
    try:
        assert _list(outsider) == [_box("CAR_VAC")]  # granted is not the GP: no MASQUE_PS
    finally:
        outsider.logout()
    with hub.engine.connect() as conn:
        traced = [(e.action, e.outcome) for e in conn.execute(AuditEvent.__table__.select().where(
            AuditEvent.action.in_(("dossier.gp", "dossier.block"))).order_by(AuditEvent.id))]
    assert traced[0] == ("dossier.gp", "declared") and ("dossier.block", "granted") in traced


def test_the_author_reads_their_own_masque_ps_documents(scene):
    running, hub, _, _, _ = scene
    author = imaps(running.port("imaps"), AUTHOR, TEST_PASSWORD)
    try:
        listed = _list(author)
        assert f"Patients/{INS}/Auteur/CPT_REND" in listed and _box("CPT_REND") not in listed
        assert author.select(f"Patients/{INS}/Auteur/CPT_REND", readonly=True) == ("OK", [b"1"])
        status, data = author.fetch("1", "(BODY.PEEK[])")
        assert status == "OK" and b"text/xml" in data[0][1]
        assert author.select(f"Patients/{INS}/Auteur/CAR_VAC", readonly=True)[0] == "NO"  # not masked: no such view
    finally:
        author.logout()
    for other in (DOCTOR, GP):  # no RPPS, or not the author: no author's view
        client = imaps(running.port("imaps"), other, TEST_PASSWORD)
        try:
            assert not any("/Auteur/" in name for name in _list(client))
            assert client.select(f"Patients/{INS}/Auteur/CPT_REND", readonly=True)[0] == "NO"
        finally:
            client.logout()
