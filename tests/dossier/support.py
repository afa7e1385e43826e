"""Sending document messages by SMTP from an APP mailbox, and reading back a patient's dossier."""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
import time

from mssante_hub.accounts import identity
from mssante_hub.dossier import index
from mssante_hub.reader import Reader, read_folder
from storage import accounts as account_repo
from storage import dossier as dossier_store
from tests.conftest import TEST_PASSWORD, add_professional
from tests.dossier import builder

INS = builder.FIXTURE_INS
PATIENT = f"{INS}@patient.hub.test"
APP_LOCAL = "dpi"
APP = f"{APP_LOCAL}@hub.test"


def with_key(nir13: str) -> str:
    """The INS of a 13-character NIR with its right key (docs/domain.md §1.1)."""
    number = int(nir13.replace("2A", "19").replace("2B", "18"))
    return f"{nir13}{97 - number % 97:02d}"


def provision_patient(hub, ins: str = INS) -> str:
    """The fixtures' patient with identity traits, as `patient provision` creates them, activated."""
    from mssante_hub.patients import lifecycle
    from mssante_hub.patients.provision import PatientRecord, add_patient

    code = add_patient(hub, PatientRecord(ins, "PAT-TROIS", "DOMINIQUE MARIE-LOUISE", "1979-03-28", "F",
                                          "dominique@example.org"))
    lifecycle.activate(hub, ins, code, "mot de passe de dominique")
    return identity.patient_address(ins, hub.config.get("hub.patient_domain"))


def add_app(hub) -> str:
    return add_professional(hub, APP_LOCAL, type="APP")


def send(smtp_hub, pki, raw: bytes, to: str = PATIENT, sender: str = APP) -> None:
    client = smtplib.SMTP("127.0.0.1", smtp_hub.port("submission"), timeout=60)
    try:
        client.starttls(context=pki.client_context(None))
        client.login(sender, TEST_PASSWORD)
        assert client.sendmail(sender, [to], raw) == {}
    finally:
        client.quit()


def document_message(xdm_zip: bytes, type_codes: str | None = None, ins_header: str | None = "O",
                     to: str = PATIENT, receipt: bool = True) -> bytes:
    headers = {}
    if receipt:
        headers["Disposition-Notification-To"] = f"<{APP}>"
    if type_codes is not None:
        headers["X-MSS-CODECDA"] = type_codes
    if ins_header is not None:
        headers["X-MSS-INS"] = ins_header
    return builder.document_message(APP, to, xdm_zip, extra_headers=headers)


def receipts(hub, count: int, deadline_s: float = 60) -> list[str]:
    """The Disposition fields of the MDNs the APP mailbox received, once `count` have arrived."""
    end = time.monotonic() + deadline_s
    while True:
        inbox = read_folder(hub, APP)
        if len(inbox) >= count or time.monotonic() > end:
            break
        time.sleep(0.05)
    found = []
    for stored in inbox:
        report = email.message_from_bytes(stored.raw, policy=email.policy.default)
        found.append(report.get_payload()[1].get_payload()[0]["Disposition"])
    return found


def account(hub, address: str = PATIENT):
    return hub.read_sync(lambda conn: account_repo.by_address(conn, address))


def index_rows(hub, address: str = PATIENT, category: str | None = None, current_only: bool = True):
    patient = account(hub, address)
    return hub.read_sync(lambda conn: dossier_store.documents(conn, patient.id, patient.id, category, current_only))


def opened_index(hub, row, address: str = PATIENT) -> dict:
    """The sealed half of an index row, opened with the patient's key."""
    reader = Reader.of(hub, account(hub, address))
    return index.open_(reader.key(row), row.blob_id, row.sealed)


def dossier_folders(hub, address: str = PATIENT) -> dict[str, int]:
    from storage import folders

    patient = account(hub, address)
    rows = hub.read_sync(lambda conn: folders.folders_of(conn, patient.id))
    return {f.name: len(read_folder(hub, address, f.name)) for f in rows if f.name.startswith("Dossier/")}


def set_version(cda: bytes, version: int) -> bytes:
    patched, count = re.subn(rb'<versionNumber value="\d+"\s*/>', f'<versionNumber value="{version}"/>'.encode(),
                             cda, count=1)
    assert count == 1
    return patched


def set_structure(cda: bytes, old: str, new: str) -> bytes:
    assert f'extension="{old}"'.encode() in cda
    return cda.replace(f'extension="{old}"'.encode(), f'extension="{new}"'.encode())
