"""Filing: document messages sent by SMTP from an APP mailbox land in the patient's dossier.

Each CI-SIS example (fixtures/cda/) is wrapped in an XDM package and sent over real SMTP
(smtplib, submission, STARTTLS, AUTH); the dossier is read back through the store and the
patient's key, as the webmail and IMAP read it.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest

from mssante_hub.dossier import categories
from mssante_hub.patients import jobs
from mssante_hub.reader import read_folder
from storage import dossier as dossier_store
from storage.models import AuditEvent, WrappedKey
from tests.dossier import builder, support
from tests.dossier.builder import FIXTURES, fixture
from tests.dossier.support import APP, PATIENT

PROCESSED = "automatic-action/MDN-sent-automatically; processed"
# CSE-CS8's INS has a wrong key (no space can hold it): the test sends it to the same NIR with its key right.
CSE = "CSE-CS8_2025.01.xml"


def _category(type_code: str) -> str:
    return categories.of_type(type_code).code


@pytest.fixture
def dossier_hub(smtp_hub):
    support.add_app(smtp_hub.hub)
    support.provision_patient(smtp_hub.hub)
    return smtp_hub


def test_every_ci_sis_example_lands_in_its_category_with_title_date_and_author(dossier_hub, pki, fixtures_dir):
    hub = dossier_hub.hub
    cse_ins = support.with_key(FIXTURES[CSE][1][:13])
    cse_patient = f"{cse_ins}@patient.hub.test"
    from mssante_hub.accounts.mailboxes import add_account
    add_account(hub, type="PATIENT", address=cse_patient, display_name="", ins=cse_ins)
    for name in sorted(FIXTURES):
        type_code, _ = FIXTURES[name]
        cda, to = fixture(fixtures_dir, name), PATIENT
        if name == CSE:
            cda, to = builder.with_patient_ins(cda, cse_ins), cse_patient
        raw = support.document_message(builder.cda_package(cda, type_code), type_codes=type_code, to=to)
        support.send(dossier_hub, pki, raw, to=to)
    assert support.receipts(hub, len(FIXTURES)) == [PROCESSED] * len(FIXTURES)

    expected = {}
    for name, (type_code, _) in FIXTURES.items():
        if name != CSE:
            expected[f"Dossier/{_category(type_code)}"] = expected.get(f"Dossier/{_category(type_code)}", 0) + 1
    assert support.dossier_folders(hub) == expected
    assert support.dossier_folders(hub, cse_patient) == {"Dossier/CERT_MED": 1}
    assert expected["Dossier/BIOLOGIE"] == 2 and "Dossier/RADIO_SC" in expected and "Dossier/CAR_VAC" in expected

    rows = support.index_rows(hub)
    assert len(rows) == len(FIXTURES) - 1 and all(r.state == dossier_store.CURRENT for r in rows)
    by_title = {}
    for row in rows:
        fields = support.opened_index(hub, row)
        by_title[fields["title"]] = (row, fields)
    row, fields = by_title["NOTE DE VACCINATION"]
    assert row.category == "CAR_VAC" and fields["type_code"] == "87273-9"
    assert row.effective_at == dt.datetime(2021, 4, 9, 14, 35, tzinfo=dt.timezone.utc)
    assert fields["author_names"] == ["Charles MULLER"] and fields["custodian"] == "Cabinet médical du Dr MULLER"
    assert fields["set_id"] == "1.2.250.1.213.1.1.1.46.2023.1" and fields["version"] == 1
    assert fields["author_ids"] and fields["confidentiality"] == "N"
    # Newest first: effective dates decreasing.
    dates = [r.effective_at for r in rows]
    assert dates == sorted(dates, reverse=True)

    # The item: a message whose attachments are the CDA, and the PDF of the level-1 example.
    biology = read_folder(hub, PATIENT, "Dossier/BIOLOGIE")
    attachments = []
    for stored in biology:
        item = email.message_from_bytes(stored.raw, policy=email.policy.default)
        attachments.append(sorted((p.get_content_type(), p.get_payload(decode=True)[:5])
                                  for p in item.iter_attachments()))
    assert sorted(attachments) == sorted([
        [("application/pdf", b"%PDF-"), ("text/xml", b"<?xml")],  # DOC_NON_STRUCTURE_CDA-R2-N1
        [("text/xml", b"<?xml")],
    ])
    level1 = fixture(fixtures_dir, "DOC_NON_STRUCTURE_CDA-R2-N1.xml")
    assert any(a.get_payload(decode=True) == level1
               for s in biology for a in email.message_from_bytes(s.raw, policy=email.policy.default)
               .iter_attachments())

    # The covering messages stay in the Inbox, each linked to what it filed.
    inbox = read_folder(hub, PATIENT)
    assert len(inbox) == len(FIXTURES) - 1
    patient = support.account(hub)
    links = hub.read_sync(lambda conn: [dossier_store.filed_from(conn, patient.id, blob)
                                        for blob in {r.source_blob_id for r in rows}])
    assert sorted(len(found) for found in links) == [1] * (len(FIXTURES) - 1)

    # DOCUMENT_INTEGRATE traced: one per filed document, one per message; never content.
    with hub.engine.connect() as conn:
        traces = conn.execute(AuditEvent.__table__.select().where(AuditEvent.action == "document.integrate")).all()
    assert len(traces) == 2 * len(FIXTURES)
    assert {t.outcome for t in traces} == {"ok"} and all(t.actor == APP for t in traces)
    assert not any("VACCINATION" in t.target or "MULLER" in t.target for t in traces)


def test_headers_are_checked_against_the_documents(dossier_hub, pki, fixtures_dir):
    hub = dossier_hub.hub
    cda = fixture(fixtures_dir, builder.SMALL_FIXTURE)
    support.send(dossier_hub, pki, support.document_message(builder.cda_package(cda, "87273-9"),
                                                            type_codes="11502-2"))
    support.send(dossier_hub, pki, support.document_message(builder.cda_package(cda, "87273-9"),
                                                            type_codes="87273-9", ins_header="N"))
    got = sorted(support.receipts(hub, 2))
    assert got == sorted([f"{PROCESSED}/Error: 906^En-tête X-MSS-CODECDA incohérent avec les documents",
                          f"{PROCESSED}/Error: 906^En-tête X-MSS-INS incohérent avec les documents"])
    assert support.dossier_folders(hub) == {} and support.index_rows(hub) == []
    assert len(read_folder(hub, PATIENT)) == 2  # about this patient: delivered, not filed


def test_another_patients_document_is_quarantined_then_purged(dossier_hub, pki, fixtures_dir):
    hub = dossier_hub.hub
    other = builder.with_patient_ins(fixture(fixtures_dir, builder.SMALL_FIXTURE), "180012A12345620")
    support.send(dossier_hub, pki, support.document_message(builder.cda_package(other, "87273-9")))
    got = support.receipts(hub, 1)
    assert got == [f"{PROCESSED}/Error: 902^Patient inconnu"]
    report = email.message_from_bytes(read_folder(hub, APP)[0].raw, policy=email.policy.default)
    assert "quarantaine" in report.get_payload()[0].get_content()
    # Shown nowhere to this patient; the patient holds no key to it; the operator sees a count.
    assert read_folder(hub, PATIENT) == [] and support.dossier_folders(hub) == {}
    patient = support.account(hub)
    with hub.engine.connect() as conn:
        assert dossier_store.quarantine_count(conn) == 1
        held = conn.execute(dossier_store.DossierQuarantine.__table__.select()).one()
        readers = conn.execute(WrappedKey.__table__.select().where(WrappedKey.blob_id == held.blob_id)).all()
    assert patient.id not in {r.account_id for r in readers} and len(readers) == 1
    # Kept for dossier.quarantine_days, then purged by the daily job.
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=hub.config.get("dossier.quarantine_days") - 1)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=hub.config.get("dossier.quarantine_days") + 1)
    assert dossier_hub.loop.run(jobs.run_daily(hub, soon))["quarantine_purged"] == 0
    assert dossier_hub.loop.run(jobs.run_daily(hub, later))["quarantine_purged"] == 1
    with hub.engine.connect() as conn:
        assert dossier_store.quarantine_count(conn) == 0
        assert conn.execute(WrappedKey.__table__.select().where(WrappedKey.blob_id == held.blob_id)).all() == []


def test_nothing_is_half_filed(dossier_hub, pki, fixtures_dir):
    """Two documents, the second damaged: neither is filed, and the receipt says why."""
    hub = dossier_hub.hub
    vaccination = fixture(fixtures_dir, builder.SMALL_FIXTURE)
    prescription = fixture(fixtures_dir, "eP-MED-DM_2024.01_PosoStruct.xml")
    damaged = builder.package([builder.Document("DOC0001.XML", vaccination, type_code="87273-9"),
                               builder.Document("DOC0002.XML", prescription, type_code="57833-6",
                                                listed_hash="c" * 40)])
    support.send(dossier_hub, pki, support.document_message(damaged))
    assert support.receipts(hub, 1) == [f"{PROCESSED}/Error: 906^Empreinte ou taille de document incorrecte"]
    assert support.dossier_folders(hub) == {} and support.index_rows(hub) == []
    # Both documents of a sound package are filed by the same message.
    sound = builder.package([builder.Document("DOC0001.XML", vaccination, type_code="87273-9"),
                             builder.Document("DOC0002.XML", prescription, type_code="57833-6")])
    support.send(dossier_hub, pki, support.document_message(sound, type_codes="87273-9,57833-6"))
    assert support.receipts(hub, 2)[1:] == [PROCESSED]
    assert support.dossier_folders(hub) == {"Dossier/CAR_VAC": 1, "Dossier/ORD_SOIN": 1}


@pytest.mark.parametrize("case", ["903", "905", "906 zip bomb", "906 billion laughs"])
def test_hostile_or_unidentified_documents_file_nothing(dossier_hub, pki, fixtures_dir, case):
    hub = dossier_hub.hub
    cda = fixture(fixtures_dir, builder.SMALL_FIXTURE)
    build = {
        "903": lambda: builder.cda_package(builder.with_patient_ins(cda, None)),
        "905": lambda: builder.cda_package(builder.with_patient_ins(cda, "279035121518988")),
        "906 zip bomb": lambda: builder.zip_bomb(10),
        "906 billion laughs": lambda: builder.cda_package(builder.BILLION_LAUGHS),
    }[case]
    support.send(dossier_hub, pki, support.document_message(build(), ins_header=None))
    got = support.receipts(hub, 1)
    assert got[0].startswith(f"{PROCESSED}/Error: {case[:3]}^")
    assert support.dossier_folders(hub) == {} and support.index_rows(hub) == []
    assert len(read_folder(hub, PATIENT)) == 1


def test_a_message_without_receipt_request_is_filed_too(dossier_hub, pki, fixtures_dir):
    cda = fixture(fixtures_dir, builder.SMALL_FIXTURE)
    support.send(dossier_hub, pki, support.document_message(builder.cda_package(cda, "87273-9"), receipt=False))
    assert support.dossier_folders(dossier_hub.hub) == {"Dossier/CAR_VAC": 1}


def test_the_operator_sees_a_count_of_the_quarantine(dossier_hub, pki, fixtures_dir):
    from tests.support.served import run_cli

    other = builder.with_patient_ins(fixture(fixtures_dir, builder.SMALL_FIXTURE), "180012A12345620")
    support.send(dossier_hub, pki, support.document_message(builder.cda_package(other, "87273-9")))
    done = run_cli("dossier", "quarantine", "--data-dir", str(dossier_hub.hub.config.data_dir))
    assert (done.returncode, done.stdout) == (0, "quarantined 1\n")


def test_a_document_masked_to_professionals_is_never_mailed_to_one(dossier_hub, pki, fixtures_dir):
    import smtplib as _smtplib
    from tests.conftest import add_professional

    hub = dossier_hub.hub
    doctor = add_professional(hub, "jean.dupond")
    cda = fixture(fixtures_dir, builder.SMALL_FIXTURE)
    raw = builder.document_message(APP, PATIENT, builder.cda_package(cda, "87273-9", ("N", "MASQUE_PS")))
    client = _smtplib.SMTP("127.0.0.1", dossier_hub.port("submission"), timeout=60)
    client.starttls(context=pki.client_context(None))
    client.login(APP, "correct horse battery staple")
    with pytest.raises(_smtplib.SMTPDataError) as refused:
        client.sendmail(APP, [PATIENT, doctor], raw)
    client.quit()
    assert refused.value.smtp_code == 554 and b"masqu" in refused.value.smtp_error
    assert read_folder(hub, doctor) == [] and support.index_rows(hub) == []
    # To the patient alone it is filed (and kept out of the professionals' view).
    support.send(dossier_hub, pki, raw)
    assert support.dossier_folders(hub) == {"Dossier/CAR_VAC": 1}
