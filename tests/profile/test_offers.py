"""An IPS-FR CDA (../shared/fixtures/cda/) received in the dossier over SMTP: its coded sections offered as profile
entries, which the patient adds over HTTP on a served hub."""

from __future__ import annotations


import pytest

from tests.dossier import builder, support
from tests.dossier.builder import fixture
from tests.dossier.scene import dossier_scene

IPS = "IPS-FR_2024.01.xml"


@pytest.fixture(scope="module")
def scene(tmp_path_factory, module_fixtures_dir):
    with dossier_scene(tmp_path_factory.mktemp("profile-offers"), doors=["web", "submission"]) as scene:
        scene.deliver(support.document_message(builder.cda_package(fixture(module_fixtures_dir, IPS), "60591-5")))
        yield scene.patient()


def test_an_ips_fr_offers_its_coded_sections_as_entries(scene):
    client = scene
    documents = client.call("GET", "/api/dossier/documents?category=SYNTHESE").body["documents"]
    assert len(documents) == 1
    answer = client.call("GET", f"/api/profile/offers/{documents[0]['id']}")
    assert answer.status == 200, answer.body
    offered = answer.body["offers"]
    kinds = {o["kind"] for o in offered}
    assert {"Condition", "AllergyIntolerance", "MedicationStatement", "Immunization"} <= kinds
    labels = {c["display"] for o in offered for c in next(v for k, v in o["resource"].items()
                                                         if k in ("code", "vaccineCode",
                                                                  "medicationCodeableConcept"))["coding"]}
    assert {"Thyroïdite auto-immune", "PARACETAMOL"} <= labels
    # The patient adds each offer: every one is valid FHIR and becomes an entry.
    for offer in offered:
        assert client.call("POST", "/api/profile", offer["resource"]).status == 201, offer
    entries = client.call("GET", "/api/profile").body["entries"]
    assert len(entries) == len(offered)
    assert ("AllergyIntolerance", "PARACETAMOL") in {(e["kind"], e["display"]) for e in entries}
    assert client.call("GET", "/api/profile/offers/999999").status == 404
    assert client.call("GET", "/api/profile/offers/x").status == 404
