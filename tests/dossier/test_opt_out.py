"""Opt-out as the law has it (docs/domain.md §9): past its objection window, a space is created and fed."""

from __future__ import annotations

import datetime as dt
import smtplib

import pytest

from mssante_hub.patients import jobs, lifecycle, worker
from mssante_hub.patients.provision import PatientRecord, add_patient
from mssante_hub.reader import read_folder
from storage import accounts as account_repo
from tests.conftest import TEST_PASSWORD
from tests.dossier import builder, support
from tests.dossier.builder import fixture
from tests.dossier.support import APP, INS, PATIENT

PASSWORD = "mot de passe de dominique"


def _send(smtp_hub, pki, raw: bytes) -> tuple[int, bytes]:
    client = smtplib.SMTP("127.0.0.1", smtp_hub.port("submission"), timeout=60)
    try:
        client.starttls(context=pki.client_context(None))
        client.login(APP, TEST_PASSWORD)
        client.mail(APP)
        code, text = client.rcpt(PATIENT)
        if code != 250:
            return code, text
        return client.data(raw)
    finally:
        client.quit()


def test_a_space_past_its_window_without_objection_receives_a_document_before_activation(smtp_hub, pki,
                                                                                          fixtures_dir):
    hub = smtp_hub.hub
    support.add_app(hub)
    code = add_patient(hub, PatientRecord(INS, "PAT-TROIS", "DOMINIQUE MARIE-LOUISE", "1979-03-28", "F",
                                          "dominique@example.org"))
    raw = support.document_message(builder.cda_package(fixture(fixtures_dir, builder.SMALL_FIXTURE), "87273-9"))
    # Within the window the holder may still object: the space receives nothing yet.
    assert _send(smtp_hub, pki, raw)[0] >= 450
    window = hub.config.get("patients.objection_window_days")
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=window + 1)
    done = smtp_hub.loop.run(jobs.run_daily(hub, later))
    assert done["spaces_created"] == 1
    account = hub.read_sync(lambda conn: account_repo.by_address(conn, PATIENT))
    assert account.status == "active" and account.password_hash is None  # created, not activated
    assert _send(smtp_hub, pki, raw)[0] == 250
    assert support.dossier_folders(hub) == {"Dossier/CAR_VAC": 1}
    assert len(read_folder(hub, PATIENT)) == 1
    # Notifications are held until activation (no personal address confirmed yet).
    assert smtp_hub.loop.run(worker.send_due(hub, later)) == 0
    # Activation later only gives the holder a password; the objection is closed.
    with pytest.raises(lifecycle.LifecycleError):
        lifecycle.object_to_space(hub, INS, code, later)
    lifecycle.activate(hub, INS, code, PASSWORD, later)
    account = hub.read_sync(lambda conn: account_repo.by_address(conn, PATIENT))
    assert account.status == "active" and account.password_hash
    assert support.dossier_folders(hub) == {"Dossier/CAR_VAC": 1}
    assert smtp_hub.loop.run(worker.send_due(hub, later + dt.timedelta(hours=2))) == 1
