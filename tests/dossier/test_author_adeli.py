"""MASQUE_PS's author exception for a professional identified by ADELI (idNatPS `0` + ADELI, docs/domain.md §1.2),
on a served hub: the mailbox is created with `account add --adeli`, a MASQUE_PS document whose CDA names that
idNatPS as author is filed, and its author (in care) reads it as Patients/<INS>/Auteur/<category>; another
professional in care, and an ADELI author of nothing here, see no such view."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_PASSWORD, add_professional
from tests.dossier import builder, support
from tests.dossier.builder import fixture
from tests.dossier.scene import dossier_scene
from tests.dossier.support import INS, PATIENT
from tests.imap.support import imaps
from tests.smtp.messages import message
from tests.support.served import run_cli

ADELI = "751234567"  # 9 digits: the idNatPS 0751234567
AUTHOR = "infirmiere.adeli@hub.test"
OTHER_ADELI = "kine.adeli@hub.test"  # ADELI 759876543, the author of nothing here
DOCTOR = "jean.dupont@hub.test"
RPPS_AUTHOR_IDNATPS = b'extension="801234567897"'  # every idNatPS of the MASQUE_PS example


def _add_by_cli(data_dir: str, address: str, adeli: str) -> None:
    done = run_cli("account", "add", "--data-dir", data_dir, "--type", "PER", "--address", address,
                   "--name", "Soignant ADELI", "--adeli", adeli, "--password-stdin", input=TEST_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr


def _list(client) -> list[str]:
    status, lines = client.list('""', '"Patients/*"')
    assert status == "OK"
    return sorted(line.decode().rsplit(' "/" ', 1)[1].strip('"') for line in lines if line and b"Noselect" not in line)


@pytest.fixture(scope="module")
def scene(tmp_path_factory, module_fixtures_dir):
    def accounts(hub):
        add_professional(hub, "jean.dupont")
        _add_by_cli(str(hub.config.data_dir), AUTHOR, ADELI)
        _add_by_cli(str(hub.config.data_dir), OTHER_ADELI, "759876543")

    with dossier_scene(tmp_path_factory.mktemp("dossier-adeli"), accounts) as scene:
        for professional in (AUTHOR, OTHER_ADELI, DOCTOR):
            scene.deliver(message(professional, PATIENT, subject="Consultation"), sender=professional)
        cda = fixture(module_fixtures_dir, "LDL-SES_2022.01.xml")
        assert RPPS_AUTHOR_IDNATPS in cda
        by_adeli = cda.replace(RPPS_AUTHOR_IDNATPS, b'extension="0' + ADELI.encode() + b'"')
        scene.deliver(support.document_message(builder.cda_package(by_adeli, "11490-0", ("N", "MASQUE_PS"))))
        yield scene


def test_an_adeli_author_reads_their_own_masque_ps_document(scene):
    author = imaps(scene.running.port("imaps"), AUTHOR, TEST_PASSWORD)
    try:
        assert f"Patients/{INS}/Auteur/CPT_REND" in _list(author)
        assert author.select(f"Patients/{INS}/Auteur/CPT_REND", readonly=True) == ("OK", [b"1"])
        status, data = author.fetch("1", "(BODY.PEEK[])")
        assert status == "OK" and b"text/xml" in data[0][1]
        assert author.select(f"Patients/{INS}/Dossier/CPT_REND", readonly=True)[0] == "NO"  # MASQUE_PS
    finally:
        author.logout()
    for other in (OTHER_ADELI, DOCTOR):
        client = imaps(scene.running.port("imaps"), other, TEST_PASSWORD)
        try:
            assert not any("/Auteur/" in name for name in _list(client))
            assert client.select(f"Patients/{INS}/Auteur/CPT_REND", readonly=True)[0] == "NO"
        finally:
            client.logout()


def test_account_add_refuses_a_malformed_adeli(scene):
    done = run_cli("account", "add", "--data-dir", str(scene.hub.config.data_dir), "--type", "PER",
                   "--address", "mal.forme@hub.test", "--name", "X", "--adeli", "12345", "--password-stdin",
                   input=TEST_PASSWORD + "\n")
    assert done.returncode == 2 and "ADELI" in done.stderr
