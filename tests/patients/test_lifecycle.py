"""Closure, archive, reopening, deletion on request, purge (crypto-shredding)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from nacl.public import PrivateKey
from sqlalchemy import select

from crypto.envelope import unwrap_key
from crypto.errors import IntegrityError
from mssante_hub.rules import refusals
from mssante_hub.hub import Hub
from mssante_hub.patients import lifecycle
from mssante_hub.patients.jobs import run_daily
from mssante_hub.reader import read_folder
from mssante_hub.rules.refusals import Refusal
from storage.models import Account, Blob, WrappedKey
from storage.patients import PatientArchive
from tests.conftest import add_professional
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient


def _space_with_mail(hub, email):
    patient, account_id = active_patient(hub, email)
    doctor = add_professional(hub, f"dr.{email.partition('@')[0]}", password=None)
    send(hub, doctor, [patient], subject="Premier")
    send(hub, doctor, [patient], subject="Second")
    ins = patient.partition("@")[0].upper()
    return patient, account_id, doctor, ins


def _rows(hub, account_id):
    return hub.read_sync(lambda conn: conn.execute(
        select(Blob.id, Blob.body, WrappedKey.wrapped).join(WrappedKey, WrappedKey.blob_id == Blob.id)
        .where(WrappedKey.account_id == account_id)).all())


def test_closure_cuts_access_and_reopening_restores_the_archive(hub):
    patient, account_id, doctor, ins = _space_with_mail(hub, "close@courriel.example")
    before = [m.raw for m in read_folder(hub, patient)]
    assert len(before) == 2
    lifecycle.close_space(hub, ins, actor=patient)
    account = hub.read_sync(lambda conn: conn.execute(select(Account).where(Account.id == account_id)).one())
    assert account.status == "closed" and account.password_hash is None
    with pytest.raises(IntegrityError):  # whoever re-reads the account holds a key that opens nothing
        read_folder(hub, patient)
    with pytest.raises(Refusal) as refused:
        send(hub, doctor, [patient])
    assert refused.value.reason == refusals.PATIENT_SPACE_CLOSED
    with pytest.raises(lifecycle.LifecycleError):
        lifecycle.close_space(hub, ins, actor=patient)
    lifecycle.reopen_space(hub, ins, actor=patient, new_password="nouveau mot de passe")
    assert [m.raw for m in read_folder(hub, patient)] == before
    assert hub.read_sync(lambda conn: conn.execute(select(PatientArchive)).all()) == []


def test_purge_after_retention_shreds_the_keys(hub):
    patient, account_id, _, ins = _space_with_mail(hub, "purge@courriel.example")
    kept = _rows(hub, account_id)
    assert len(kept) == 2
    closed_at = dt.datetime.now(dt.timezone.utc)
    lifecycle.close_space(hub, ins, actor=patient, now=closed_at)
    early = closed_at + dt.timedelta(days=30)
    assert lifecycle.run_due_deletions(hub, early) == {"deleted": 0, "purged": 0}
    lifecycle.reopen_space(hub, ins, actor=patient)  # still restorable within the retention
    lifecycle.close_space(hub, ins, actor=patient, now=closed_at)
    late = closed_at + dt.timedelta(days=hub.config.get("patients.archive_retention_days") + 1)
    assert asyncio.run(run_daily(hub, late))["purged"] == 1
    with pytest.raises(lifecycle.LifecycleError):
        lifecycle.reopen_space(hub, ins, actor=patient)
    assert hub.read_sync(lambda conn: conn.execute(select(Account.id).where(Account.id == account_id)).all()) == []
    assert hub.read_sync(lambda conn: conn.execute(select(PatientArchive)).all()) == []
    # The ciphertexts copied before the purge (as a backup would hold them) open with no key left anywhere.
    keys = hub.read_sync(lambda conn: conn.execute(
        select(Account.key_id, Account.sealed_private_key)).all())
    privates = [PrivateKey(hub.keyring.open(k.key_id, k.sealed_private_key)) for k in keys]
    for blob_id, _, wrapped in kept:
        for private in privates:
            with pytest.raises(IntegrityError):
                unwrap_key(wrapped, blob_id, private)
    remaining = hub.read_sync(lambda conn: conn.execute(
        select(Blob.id).where(Blob.id.in_([r.id for r in kept]))).all())
    assert remaining == []


def test_deletion_on_request_runs_within_three_months(hub):
    patient, account_id, _, ins = _space_with_mail(hub, "delete@courriel.example")
    now = dt.datetime.now(dt.timezone.utc)
    due = lifecycle.request_deletion(hub, ins, actor=patient, now=now)
    assert due - now <= dt.timedelta(days=90)
    assert lifecycle.run_due_deletions(hub, now + dt.timedelta(days=1))["deleted"] == 0
    assert lifecycle.run_due_deletions(hub, now + dt.timedelta(days=91))["deleted"] == 1
    assert hub.read_sync(lambda conn: conn.execute(select(Account.id).where(Account.id == account_id)).all()) == []
    assert _rows(hub, account_id) == []


def test_key_rotation_still_walks_closed_spaces(hub):
    from mssante_hub.admin.keys import rotate_master_key

    patient, account_id, _, ins = _space_with_mail(hub, "rotate@courriel.example")
    before = [m.raw for m in read_folder(hub, patient)]
    lifecycle.close_space(hub, ins, actor=patient)
    rotate_master_key(hub, progress=False)
    rotated = Hub.open(hub.config.data_dir)  # the new master key, and archive keys derived as before
    try:
        lifecycle.reopen_space(rotated, ins, actor=patient)
        assert [m.raw for m in read_folder(rotated, patient)] == before
    finally:
        rotated.close()


def test_cli_close_reopen_delete_and_daily_job(data_dir, capsys):
    from mssante_hub.admin.cli import main  # in-process: the same code as the installed command, without restarts

    ins = "279035121518989"
    assert main(["patient", "add", "--data-dir", str(data_dir), "--ins", ins, "--name", "TEST Anne",
                 "--email", "anne@perso.example"]) == 0
    for action, said in (("close", "closed"), ("reopen", "reopened"), ("delete", "deletion recorded")):
        assert main(["patient", action, "--data-dir", str(data_dir), "--ins", ins]) == 0
        assert said in capsys.readouterr().out
    assert main(["patient", "reopen", "--data-dir", str(data_dir), "--ins", ins]) == 1
    assert "No archive" in capsys.readouterr().err
    assert main(["jobs", "run-daily", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "deleted=0" in out and "audit_purged=" in out
