"""Filing, versions, the professionals' view, masking and quarantine on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from mssante_hub import delivery
from mssante_hub.patients import jobs
from mssante_hub.reader import read_folder
from storage import dossier as dossier_store
from storage import folders
from tests.conftest import add_professional
from tests.dossier import builder, support
from tests.dossier.builder import fixture
from tests.dossier.support import APP, PATIENT


def _deliver(hub, raw: bytes) -> delivery.Delivered:
    app = support.account(hub, APP)
    envelope = delivery.Envelope(mail_from=APP, rcpt_to=(PATIENT,), channel=delivery.Channel.SUBMISSION)
    return asyncio.run(delivery.accept(hub, envelope, raw, delivery.Identity(APP, app.id, app.type)))


def _professional_count(hub, category: str) -> int:
    patient = support.account(hub)
    row = hub.read_sync(lambda conn: folders.folder_by_name(conn, patient.id, f".professionnels/Dossier/{category}"))
    return len(read_folder(hub, PATIENT, row.name)) if row else 0


def test_filing_on_each_backend(any_hub, fixtures_dir):
    hub = any_hub
    add_professional(hub, "dpi", type="APP")
    support.provision_patient(hub)
    cda = fixture(fixtures_dir, builder.SMALL_FIXTURE)
    first = _deliver(hub, support.document_message(builder.cda_package(cda, "87273-9"), type_codes="87273-9"))
    assert first.filing[PATIENT].error is None and first.filing[PATIENT].documents == 1
    second = _deliver(hub, support.document_message(builder.cda_package(support.set_version(cda, 2), "87273-9")))
    assert second.filing[PATIENT].error is None
    lower = _deliver(hub, support.document_message(builder.cda_package(cda, "87273-9")))
    assert lower.filing[PATIENT].error[0] == "900"
    rows = support.index_rows(hub, current_only=False)
    assert sorted((r.version, r.state) for r in rows) == [(1, "replaced"), (2, "current")]
    assert [r.effective_at.year for r in rows] == [2021, 2021]
    assert support.opened_index(hub, rows[0])["title"] == "NOTE DE VACCINATION"
    assert _professional_count(hub, "CAR_VAC") == 1  # the current version only
    patient = support.account(hub)
    current = next(r for r in rows if r.state == "current")
    hub.committer.run(lambda conn: dossier_store.set_hidden(conn, patient.id, current.id, True))
    assert _professional_count(hub, "CAR_VAC") == 0
    hub.committer.run(lambda conn: dossier_store.set_hidden(conn, patient.id, current.id, False))
    assert _professional_count(hub, "CAR_VAC") == 1
    masked = _deliver(hub, support.document_message(builder.cda_package(
        fixture(fixtures_dir, "eP-MED-DM_2024.01_PosoStruct.xml"), "57833-6", ("N", "MASQUE_PS"))))
    assert masked.filing[PATIENT].error is None and _professional_count(hub, "ORD_SOIN") == 0
    other = builder.with_patient_ins(cda, "180012A12345620")
    held = _deliver(hub, support.document_message(builder.cda_package(other, "87273-9")))
    assert held.filing[PATIENT].quarantined and PATIENT not in held.uids
    assert hub.read_sync(dossier_store.quarantine_count) == 1
    import datetime as dt
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31)
    assert asyncio.run(jobs.run_daily(hub, later))["quarantine_purged"] == 1
    assert hub.read_sync(dossier_store.quarantine_count) == 0
    assert len(read_folder(hub, PATIENT)) == 4  # the covering messages, not the quarantined one


def test_views_backfill_and_envelope_listing_reads_on_each_backend(any_hub, fixtures_dir):
    from sqlalchemy import select

    from mssante_hub import mime
    from mssante_hub.reader import Reader
    from storage import messages
    from storage.models import Folder

    hub = any_hub
    add_professional(hub, "dpi", type="APP")
    support.provision_patient(hub)
    _deliver(hub, support.document_message(builder.cda_package(fixture(fixtures_dir, builder.SMALL_FIXTURE),
                                                               "87273-9")))
    _deliver(hub, support.document_message(builder.cda_package(
        fixture(fixtures_dir, "LDL-SES_2022.01.xml"), "11490-0", ("N", "MASQUE_PS"))))
    patient, system = support.account(hub), hub.system_account()

    def forget(conn) -> int:  # the GP's and the authors' views, as a store filed before them lacks them
        rows = conn.execute(select(Folder.id, Folder.name).where(Folder.account_id == patient.id)).all()
        doomed = [r.id for r in rows if r.name.startswith((".professionnels/medecin-traitant/",
                                                           ".professionnels/auteur/"))]
        for folder_id in doomed:
            messages.delete_folder(conn, folder_id)
        return len(doomed)

    assert hub.committer.run(forget) == 3  # GP: CAR_VAC, CPT_REND; the author's CPT_REND
    assert hub.committer.run(lambda conn: dossier_store.backfill_views(conn, patient.id, system.id)) == 3
    assert hub.committer.run(lambda conn: dossier_store.backfill_views(conn, patient.id, system.id)) == 0
    gp_view = hub.read_sync(lambda conn: folders.folder_by_name(
        conn, patient.id, ".professionnels/medecin-traitant/Dossier/CPT_REND"))
    # The ENVELOPE listing's reads (imap/fetch.py): keys without bodies, then the summaries it needs.
    rows = hub.read_sync(lambda conn: messages.fetch_keys(conn, system.id, gp_view.id, [1], with_date=False))
    dated = hub.read_sync(lambda conn: messages.fetch_keys(conn, system.id, gp_view.id, [1]))
    assert len(rows) == 1 and rows[0].body is None and rows[0].wrapped and dated[0].internal_date is not None
    sealed = hub.read_sync(lambda conn: messages.summaries(conn, [rows[0].blob_id]))
    import dataclasses
    summary = Reader.of(hub, system).summary(dataclasses.replace(rows[0], summary=sealed[rows[0].blob_id]))
    assert summary[mime.ENVELOPE_KEY]["subject"] and summary[mime.ENVELOPE_KEY]["from"]
