"""The GP's and the author's views completed with documents filed before those views existed (storage.dossier
.backfill_views), on a served hub: the views are taken out of the store as a store of before them lacks them;
declaring the GP (webmail API) then shows the GP what the rules let them see, hidden documents excepted; the
operator's `dossier backfill-views` completes every view of every space, and a second run places nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mssante_hub.accounts.mailboxes import add_account
from storage import messages
from storage.models import Folder
from tests.conftest import TEST_PASSWORD, add_professional
from tests.dossier import builder, support
from tests.dossier.builder import fixture
from tests.dossier.scene import dossier_scene
from tests.dossier.support import INS, PATIENT
from tests.imap.support import imaps
from tests.smtp.messages import message
from tests.support.served import run_cli

GP = "marie.curie@hub.test"  # in care; declared by the test
AUTHOR = "dr.auteur@hub.test"  # RPPS 01234567897: the idNatPS 801234567897 the MASQUE_PS example names as author
VIEWS_ADDED_LATER = (".professionnels/medecin-traitant/", ".professionnels/auteur/")


def _box(category: str, kind: str = "Dossier") -> str:
    return f"Patients/{INS}/{kind}/{category}"


def _forget_views(hub) -> int:
    """Take the GP's and the authors' view folders out of the patient's space: a store filed before they existed."""
    def work(conn) -> int:
        rows = conn.execute(select(Folder.id, Folder.name).where(Folder.name.startswith(".professionnels/"))).all()
        doomed = [r.id for r in rows if r.name.startswith(VIEWS_ADDED_LATER)]
        for folder_id in doomed:
            messages.delete_folder(conn, folder_id)
        return len(doomed)
    return hub.committer.run(work)


def _list(client) -> list[str]:
    status, lines = client.list('""', '"Patients/*"')
    assert status == "OK"
    return sorted(line.decode().rsplit(' "/" ', 1)[1].strip('"') for line in lines if line and b"Noselect" not in line)


@pytest.fixture(scope="module")
def scene(tmp_path_factory, module_fixtures_dir):
    def accounts(hub):
        add_professional(hub, "marie.curie")
        add_account(hub, type="PER", address=AUTHOR, display_name="Dr Auteur", password=TEST_PASSWORD,
                    rpps="01234567897")

    with dossier_scene(tmp_path_factory.mktemp("dossier-backfill"), accounts) as scene:
        for professional in (GP, AUTHOR):
            scene.deliver(message(professional, PATIENT, subject="Consultation"), sender=professional)
        scene.deliver(support.document_message(builder.cda_package(
            fixture(module_fixtures_dir, builder.SMALL_FIXTURE), "87273-9")))
        scene.deliver(support.document_message(builder.cda_package(
            fixture(module_fixtures_dir, "LDL-SES_2022.01.xml"), "11490-0", ("N", "MASQUE_PS"))))
        yield scene


def test_declaring_the_gp_shows_them_what_was_filed_before(scene, module_fixtures_dir):
    hub, web = scene.hub, scene.patient()
    assert _forget_views(hub) >= 2  # the GP's CAR_VAC and CPT_REND at least
    # A document the patient hides stays hidden from the GP however it reaches the view.
    biology = builder.cda_package(fixture(module_fixtures_dir, "BIO-CR-BIO_2024.01_TSH_1.xml"), "11502-2")
    scene.deliver(support.document_message(biology))
    _forget_views(hub)
    hidden = web.call("GET", "/api/dossier/documents?category=BIOLOGIE").body["documents"][0]
    assert web.call("POST", f"/api/dossier/documents/{hidden['id']}/visibility",
                    {"hidden_from_professionals": True}).status == 200
    gp = imaps(scene.running.port("imaps"), GP, TEST_PASSWORD)
    try:
        # Not the GP yet: the professionals' view, no MASQUE_PS (BIOLOGIE is there, emptied by the hide choice).
        assert _list(gp) == [_box("BIOLOGIE"), _box("CAR_VAC")]
        assert gp.select(_box("BIOLOGIE"), readonly=True) == ("OK", [b"0"])
    finally:
        gp.logout()
    assert web.call("PUT", "/api/dossier/general-practitioner", {"address": GP}).body == {"address": GP}
    gp = imaps(scene.running.port("imaps"), GP, TEST_PASSWORD)
    try:
        assert _list(gp) == [_box("CAR_VAC"), _box("CPT_REND")]  # BIOLOGIE: hidden by the patient
        assert gp.select(_box("CPT_REND"), readonly=True) == ("OK", [b"1"])
        status, data = gp.fetch("1", "(BODY.PEEK[])")
        assert status == "OK" and b"text/xml" in data[0][1]
        assert gp.select(_box("CAR_VAC"), readonly=True) == ("OK", [b"1"])
    finally:
        gp.logout()
    # Declared again: nothing placed twice.
    assert web.call("PUT", "/api/dossier/general-practitioner", {"address": GP}).status == 200
    gp = imaps(scene.running.port("imaps"), GP, TEST_PASSWORD)
    try:
        assert gp.select(_box("CPT_REND"), readonly=True) == ("OK", [b"1"])
    finally:
        gp.logout()


def test_the_operator_completes_the_authors_views(scene):
    _forget_views(scene.hub)
    author = imaps(scene.running.port("imaps"), AUTHOR, TEST_PASSWORD)
    try:
        assert _box("CPT_REND", "Auteur") not in _list(author)
    finally:
        author.logout()
    data_dir = str(scene.hub.config.data_dir)
    done = run_cli("dossier", "backfill-views", "--data-dir", data_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] != "0", done.stdout
    author = imaps(scene.running.port("imaps"), AUTHOR, TEST_PASSWORD)
    try:
        assert _box("CPT_REND", "Auteur") in _list(author)
        assert author.select(_box("CPT_REND", "Auteur"), readonly=True) == ("OK", [b"1"])
    finally:
        author.logout()
    again = run_cli("dossier", "backfill-views", "--data-dir", data_dir)
    assert again.returncode == 0 and again.stdout.strip().endswith("placements made 0"), again.stdout


def test_the_patients_own_document_stays_out_of_the_views_when_shown_again(scene):
    """A document the patient filed is sealed for them alone: hiding then showing it (or a back-fill) never puts it
    in a view the hub's key reads, where a professional would list a message nobody can open."""
    import base64

    web = scene.patient()
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    assert web.call("POST", "/api/dossier/documents", {
        "category": "AUTR_DOC", "title": "Carte de groupe sanguin", "filename": "groupe.png",
        "content_type": "image/png", "content_base64": base64.b64encode(png).decode()}).status == 201
    own = web.call("GET", "/api/dossier/documents?category=AUTR_DOC").body["documents"][0]
    path = f"/api/dossier/documents/{own['id']}/visibility"
    assert web.call("POST", path, {"hidden_from_professionals": True}).status == 200
    assert web.call("POST", path, {"hidden_from_professionals": False}).status == 200
    done = run_cli("dossier", "backfill-views", "--data-dir", str(scene.hub.config.data_dir))
    assert done.returncode == 0, done.stderr
    gp = imaps(scene.running.port("imaps"), GP, TEST_PASSWORD)
    try:
        assert _box("AUTR_DOC") not in _list(gp)
    finally:
        gp.logout()
