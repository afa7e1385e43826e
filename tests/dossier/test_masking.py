"""The masking matrix: confidentiality codes x the patient's choice x the professional's relationship,
over IMAP (the professionals' view) and the webmail API (the patient); masked is never reachable."""

from __future__ import annotations


import pytest

from mssante_hub.dossier import masking
from tests.conftest import TEST_PASSWORD, add_professional
from tests.dossier import builder, support
from tests.dossier.builder import fixture
from tests.dossier.scene import dossier_scene
from tests.dossier.support import INS, PATIENT
from tests.imap.support import imaps
from tests.smtp.messages import message

# One document per code, each in a category of its own, so that a folder's count says which are shown.
DOCUMENTS = {
    "N": ("VAC-NOTE_2023.01.xml", "87273-9", "CAR_VAC"),
    masking.MASQUE_PS: ("BIO-CR-BIO_2024.01_TSH_1.xml", "11502-2", "BIOLOGIE"),
    masking.INVISIBLE_PATIENT: ("IMG_CR_IMG_2024.01.xml", "18748-4", "RADIO_SC"),
    masking.INVISIBLE_REPRESENTANTS_LEGAUX: ("eP-MED-DM_2024.01_PosoStruct.xml", "57833-6", "ORD_SOIN"),
}
CARE, NONE, EMERGENCY, BLOCKED = "care", "none", "emergency", "blocked"
PROFESSIONALS = {CARE: "soignant", NONE: "inconnu", EMERGENCY: "urgentiste", BLOCKED: "bloque"}


@pytest.fixture(scope="module")
def scene(tmp_path_factory, module_fixtures_dir):
    fixtures_dir = module_fixtures_dir
    addresses = {}

    def accounts(hub):
        addresses.update({kind: add_professional(hub, local) for kind, local in PROFESSIONALS.items()})

    with dossier_scene(tmp_path_factory.mktemp("dossier-masking"), accounts) as scene:
        running, send = scene.running, scene.deliver
        for code, (name, type_code, _) in DOCUMENTS.items():
            codes = ("N",) if code == "N" else ("N", code)
            send(support.document_message(builder.cda_package(fixture(fixtures_dir, name), type_code, codes)))
        for kind in (CARE, BLOCKED):
            send(message(addresses[kind], PATIENT, subject="Consultation"), sender=addresses[kind])
        web = scene.patient()
        assert web.call("POST", f"/api/dossier/professionals/{addresses[BLOCKED]}/block").status == 200
        urgent = imaps(running.port("imaps"), addresses[EMERGENCY], TEST_PASSWORD)
        assert urgent.select(f"Urgence/{INS}/Dossier/CAR_VAC", readonly=True)[0] == "OK"
        urgent.logout()
        yield running, web, addresses


def _professional_sees(running, address: str) -> set[str]:
    """The codes whose document this professional can list and read over IMAP."""
    client = imaps(running.port("imaps"), address, TEST_PASSWORD)
    seen = set()
    try:
        for code, (_, _, category) in DOCUMENTS.items():
            status, data = client.select(f"Patients/{INS}/Dossier/{category}", readonly=True)
            if status == "OK" and data == [b"1"]:
                assert client.fetch("1", "(BODY.PEEK[])")[0] == "OK"
                seen.add(code)
            else:
                assert status == "NO" or data == [b"0"]
    finally:
        client.logout()
    return seen


def _patient_sees(web) -> set[str]:
    seen = set()
    for code, (_, _, category) in DOCUMENTS.items():
        documents = web.call("GET", f"/api/dossier/documents?category={category}").body["documents"]
        if documents:
            assert web.call("GET", f"/api/dossier/documents/{documents[0]['id']}").status == 200
            seen.add(code)
    return seen


def _set_hidden(web, hidden: bool) -> None:
    for code, (_, _, category) in DOCUMENTS.items():
        for document in web.call("GET", f"/api/dossier/documents?category={category}").body["documents"]:
            assert web.call("POST", f"/api/dossier/documents/{document['id']}/visibility",
                            {"hidden_from_professionals": hidden}).status == 200


@pytest.mark.parametrize("hidden", [False, True])
def test_the_masking_matrix(scene, hidden):
    running, web, addresses = scene
    _set_hidden(web, hidden)
    # The patient can hide only what they can see: an INVISIBLE_PATIENT document stays for professionals.
    shown_to_professionals = {masking.INVISIBLE_PATIENT} if hidden else {
        "N", masking.INVISIBLE_PATIENT, masking.INVISIBLE_REPRESENTANTS_LEGAUX}
    expected = {CARE: shown_to_professionals, EMERGENCY: shown_to_professionals, NONE: set(), BLOCKED: set()}
    got = {kind: _professional_sees(running, addresses[kind]) for kind in PROFESSIONALS}
    assert got == expected
    # The patient sees everything but INVISIBLE_PATIENT, whatever they hid from professionals.
    assert _patient_sees(web) == {"N", masking.MASQUE_PS, masking.INVISIBLE_REPRESENTANTS_LEGAUX}


@pytest.mark.parametrize("codes", ["N", "MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX",
                                   "INVISIBLE_PATIENT MASQUE_PS"])
@pytest.mark.parametrize("hidden", [False, True])
def test_the_rule_for_every_viewer(codes, hidden):
    held = set(codes.split())
    assert masking.visible(codes, hidden, masking.Viewer.PATIENT) == ("INVISIBLE_PATIENT" not in held)
    assert masking.visible(codes, hidden, masking.Viewer.REPRESENTATIVE) \
        == (not held & {"INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX"})
    assert masking.visible(codes, hidden, masking.Viewer.PROFESSIONAL) == ("MASQUE_PS" not in held and not hidden)
    assert masking.visible(codes, hidden, masking.Viewer.AUTHOR) == (not hidden)
