"""Versions of a document (setId + versionNumber): replacement, history, MDN 900 and 901 (docs/domain.md §4.4)."""

from __future__ import annotations

import pytest

from mssante_hub.reader import read_folder
from storage import dossier as dossier_store
from tests.dossier import builder, support
from tests.dossier.builder import fixture
from tests.dossier.support import PATIENT

PROCESSED = "automatic-action/MDN-sent-automatically; processed"
VACCINATION_STRUCTURE = "1750803447"  # the VAC-NOTE example's structure (author's organisation, custodian)


@pytest.fixture
def dossier_hub(smtp_hub):
    support.add_app(smtp_hub.hub)
    support.provision_patient(smtp_hub.hub)
    return smtp_hub


def _send(dossier_hub, pki, cda: bytes, codes: tuple[str, ...] = ("N",)) -> None:
    support.send(dossier_hub, pki, support.document_message(builder.cda_package(cda, "87273-9", codes)))


def test_a_higher_version_replaces_the_old_one_which_stays_in_the_history(dossier_hub, pki, fixtures_dir):
    hub = dossier_hub.hub
    v1 = fixture(fixtures_dir, builder.SMALL_FIXTURE)
    _send(dossier_hub, pki, v1)
    _send(dossier_hub, pki, support.set_version(v1, 2))
    assert support.receipts(hub, 2) == [PROCESSED, PROCESSED]
    current = support.index_rows(hub)
    assert [(r.version, r.state) for r in current] == [(2, dossier_store.CURRENT)]
    everything = support.index_rows(hub, current_only=False)
    assert sorted((r.version, r.state) for r in everything) == [(1, dossier_store.REPLACED),
                                                                (2, dossier_store.CURRENT)]
    patient = support.account(hub)
    history = hub.read_sync(lambda conn: dossier_store.versions(conn, patient.id, patient.id, current[0].set_key))
    assert [r.version for r in history] == [2, 1]
    # Both readable: the items stay in the category folder.
    assert len(read_folder(hub, PATIENT, "Dossier/CAR_VAC")) == 2
    assert {support.opened_index(hub, r)["version"] for r in history} == {1, 2}


@pytest.mark.parametrize("version", [1, 0])
def test_a_version_not_higher_is_900(dossier_hub, pki, fixtures_dir, version):
    hub = dossier_hub.hub
    v1 = fixture(fixtures_dir, builder.SMALL_FIXTURE)
    _send(dossier_hub, pki, v1)
    _send(dossier_hub, pki, support.set_version(v1, version))
    assert support.receipts(hub, 2) == [PROCESSED, f"{PROCESSED}/Error: 900^Version du document incorrecte"]
    assert [r.version for r in support.index_rows(hub, current_only=False)] == [1]
    assert len(read_folder(hub, PATIENT)) == 2  # delivered, not filed


def test_a_replacement_from_another_structure_is_901(dossier_hub, pki, fixtures_dir):
    hub = dossier_hub.hub
    v1 = fixture(fixtures_dir, builder.SMALL_FIXTURE)
    _send(dossier_hub, pki, v1)
    other = support.set_structure(support.set_version(v1, 2), VACCINATION_STRUCTURE, "1750899999")
    _send(dossier_hub, pki, other)
    assert support.receipts(hub, 2) == [PROCESSED,
                                        f"{PROCESSED}/Error: 901^Auteur non autorisé à remplacer le document"]
    assert [(r.version, r.state) for r in support.index_rows(hub, current_only=False)] == [(1, "current")]


def test_invisible_patient_once_lifted_cannot_be_set_again(dossier_hub, pki, fixtures_dir):
    hub = dossier_hub.hub
    v1 = fixture(fixtures_dir, builder.SMALL_FIXTURE)
    _send(dossier_hub, pki, v1, ("N", "INVISIBLE_PATIENT"))
    _send(dossier_hub, pki, support.set_version(v1, 2))  # released by the author: a new version, another code
    _send(dossier_hub, pki, support.set_version(v1, 3), ("N", "INVISIBLE_PATIENT"))
    got = support.receipts(hub, 3)
    assert got == [PROCESSED, PROCESSED, f"{PROCESSED}/Error: 906^Masquage au patient déjà levé pour ce document"]
    assert [(r.version, r.confidentiality) for r in support.index_rows(hub)] == [(2, "N")]
