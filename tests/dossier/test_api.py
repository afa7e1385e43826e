"""The webmail's dossier API over HTTP, on a served hub (`mssante-hub serve`), documents sent over SMTP."""

from __future__ import annotations

import base64
import http.client

import pytest

from storage import dossier as dossier_store
from storage.models import AuditEvent
from tests.conftest import TEST_PASSWORD, add_professional
from tests.dossier import builder, support
from tests.dossier.builder import fixture
from tests.dossier.scene import dossier_scene
from tests.smtp.messages import message
from tests.dossier.support import APP, PATIENT
from tests.web.support import WebClient

PATIENT_PASSWORD = "mot de passe de dominique"
DOCTOR = "jean.dupont@hub.test"


@pytest.fixture(scope="module")
def scene(tmp_path_factory, module_fixtures_dir):
    fixtures_dir = module_fixtures_dir
    with dossier_scene(tmp_path_factory.mktemp("dossier-api"), lambda hub: add_professional(hub, "jean.dupont"),
                       doors=["web", "submission"]) as scene:
        send = scene.deliver
        vaccination = fixture(fixtures_dir, builder.SMALL_FIXTURE)
        send(support.document_message(builder.cda_package(vaccination, "87273-9")))
        send(support.document_message(builder.cda_package(support.set_version(vaccination, 2), "87273-9")))
        level1 = fixture(fixtures_dir, "DOC_NON_STRUCTURE_CDA-R2-N1.xml")
        send(support.document_message(builder.cda_package(level1, "11502-2")))
        hidden = fixture(fixtures_dir, "LDL-SES_2022.01.xml")
        send(support.document_message(builder.cda_package(hidden, "11490-0", ("N", "INVISIBLE_PATIENT"))))
        # A professional writes to the patient: in care from now on.
        send(message(DOCTOR, PATIENT, subject="Rendez-vous"), sender=DOCTOR)
        yield scene.running, scene.hub, scene.patient()


def test_categories_and_counts(scene):
    _, _, client = scene
    answer = client.call("GET", "/api/dossier")
    assert answer.status == 200
    counts = {c["code"]: (c["label"], c["count"]) for c in answer.body["categories"]}
    assert counts["CAR_VAC"] == ("Vaccination", 1)  # v2 only: v1 is in its history
    assert counts["BIOLOGIE"] == ("Résultats de biologie", 1)
    assert counts["CPT_REND"][1] == 0  # INVISIBLE_PATIENT: not shown, not counted
    assert len(counts) == 10


def test_listing_reading_versions_and_pdf(scene):
    running, _, client = scene
    listed = client.call("GET", "/api/dossier/documents?category=CAR_VAC").body["documents"]
    assert [(d["title"], d["version"], d["authors"]) for d in listed] == [("NOTE DE VACCINATION", 2,
                                                                            ["Charles MULLER"])]
    shown = client.call("GET", f"/api/dossier/documents/{listed[0]['id']}").body
    assert [v["version"] for v in shown["versions"]] == [2, 1]
    assert shown["source_message"] is not None
    covering = client.call("GET", f"/api/messages/{shown['source_message']}").body
    assert covering["document"] and shown["id"] in covering["document_ids"]  # the message's link to Documents
    assert "<h2>" in shown["html"] and "<script" not in shown["html"].lower() and "src=" not in shown["html"]
    old = client.call("GET", f"/api/dossier/documents/{shown['versions'][1]['id']}").body
    assert old["state"] == "replaced" and old["version"] == 1
    biology = client.call("GET", "/api/dossier/documents?category=BIOLOGIE").body["documents"]
    assert biology[0]["has_pdf"] is True
    connection = http.client.HTTPConnection("127.0.0.1", running.port("web"), timeout=60)
    connection.request("GET", f"/api/dossier/documents/{biology[0]['id']}/pdf",
                       headers={"Authorization": f"Bearer {client.token}"})
    response = connection.getresponse()
    assert response.status == 200 and response.read()[:5] == b"%PDF-"
    assert response.getheader("content-disposition").startswith("attachment")
    assert client.call("GET", f"/api/dossier/documents/{listed[0]['id']}/pdf").status == 404


def test_invisible_patient_documents_are_never_served_to_the_patient(scene):
    _, hub, client = scene
    patient = support.account(hub)
    rows = hub.read_sync(lambda conn: dossier_store.documents(conn, patient.id, patient.id, "CPT_REND"))
    assert len(rows) == 1 and "INVISIBLE_PATIENT" in rows[0].confidentiality.split()
    assert rows[0].wrapped is None  # the patient holds no key to it
    assert client.call("GET", "/api/dossier/documents?category=CPT_REND").body["documents"] == []
    assert client.call("GET", f"/api/dossier/documents/{rows[0].id}").status == 404
    assert client.call("GET", f"/api/dossier/documents/{rows[0].id}/pdf").status == 404
    # Nor its covering message (its XDM would show it): not in the Inbox.
    from mssante_hub.reader import read_folder
    inbox = read_folder(hub, PATIENT)
    assert len(inbox) == 4  # three document messages shown, one plain message; the fourth document message held
    assert sum(b"IHE_XDM.zip" in m.raw for m in inbox) == 3


def test_hiding_from_professionals_and_showing_again(scene):
    _, hub, client = scene
    document = client.call("GET", "/api/dossier/documents?category=BIOLOGIE").body["documents"][0]
    path = f"/api/dossier/documents/{document['id']}/visibility"
    assert client.call("POST", path, {"hidden_from_professionals": True}).body["hidden_from_professionals"] is True
    assert client.call("GET", "/api/dossier/documents?category=BIOLOGIE").body["documents"][0][
        "hidden_from_professionals"] is True
    assert client.call("POST", path, {"hidden_from_professionals": "yes"}).status == 400
    assert client.call("POST", path, {"hidden_from_professionals": False}).status == 200
    with hub.engine.connect() as conn:
        outcomes = [r.outcome for r in conn.execute(AuditEvent.__table__.select().where(
            AuditEvent.action == "dossier.mask"))]
    assert outcomes == ["hidden", "shown"]


def test_professionals_who_can_see_and_blocking(scene):
    _, _, client = scene
    found = {p["address"]: p["reason"] for p in client.call("GET", "/api/dossier/professionals").body["professionals"]}
    assert found.get(DOCTOR) == "care" and APP not in found  # software reads no dossier
    assert client.call("POST", f"/api/dossier/professionals/{DOCTOR}/block").body["blocked"] is True
    found = {p["address"]: p["reason"] for p in client.call("GET", "/api/dossier/professionals").body["professionals"]}
    assert found[DOCTOR] == "blocked"
    assert client.call("POST", f"/api/dossier/professionals/{DOCTOR}/unblock").body["blocked"] is False
    found = {p["address"]: p["reason"] for p in client.call("GET", "/api/dossier/professionals").body["professionals"]}
    assert found[DOCTOR] == "care"


def test_the_patients_own_document(scene):
    _, _, client = scene
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    answer = client.call("POST", "/api/dossier/documents", {
        "category": "AUTR_DOC", "title": "Carte de groupe sanguin", "filename": "groupe.png",
        "content_type": "image/png", "content_base64": base64.b64encode(png).decode()})
    assert answer.status == 201, answer.body
    listed = client.call("GET", "/api/dossier/documents?category=AUTR_DOC").body["documents"]
    assert [(d["title"], d["own"]) for d in listed] == [("Carte de groupe sanguin", True)]
    refused = client.call("POST", "/api/dossier/documents", {
        "category": "AUTR_DOC", "title": "x", "content_type": "text/html", "content_base64": "PGI+"})
    assert refused.status == 422
    assert client.call("POST", "/api/dossier/documents", {
        "category": "NOPE", "title": "x", "content_type": "image/png", "content_base64": "PGI+"}).status == 422


def test_a_professional_has_no_dossier_api(scene):
    running, _, _ = scene
    doctor = WebClient(running.port("web")).login(DOCTOR, TEST_PASSWORD)
    assert doctor.call("GET", "/api/dossier").status == 403
    assert WebClient(running.port("web")).call("GET", "/api/dossier").status == 401
    assert WebClient(running.port("web"), "x").call("GET", "/api/dossier/nothing/here").status == 404
