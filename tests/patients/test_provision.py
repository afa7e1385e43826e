"""Opt-out provisioning from CSV, activation codes, objection, activation, throttling."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import func, select

from crypto.envelope import decrypt_body, unwrap_key
from mssante_hub.accounts import identity
from mssante_hub.patients import lifecycle, provision
from mssante_hub.patients.lifecycle import CodeRefused, LifecycleError, Throttled
from storage.models import Account, AuditEvent, Blob, Folder, OutboundItem, WrappedKey
from storage.patients import ActivationCode, PatientProfile
from tests.patients.helpers import new_ins
from tests.support.served import run_cli

HEADER = "ins,birth_name,first_names,birth_date,sex,email\n"
NEW_PASSWORD = "un mot de passe tout neuf"


def write_csv(path, count: int, seed: int = 7, extra: str = "") -> list[str]:
    rng = random.Random(seed)
    ins_list = []
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(HEADER)
        while len(ins_list) < count:
            ins = identity.random_ins(rng)
            if ins in ins_list:
                continue
            ins_list.append(ins)
            handle.write(f"{ins},NOMUNIQUE{len(ins_list)}X,Prénom Élise,1980-02-0{1 + len(ins_list) % 9},F,"
                         f"perso{len(ins_list)}@courriel.example\n")
        handle.write(extra)
    return ins_list


def count(hub, table, *where) -> int:
    return hub.read_sync(lambda conn: conn.execute(select(func.count()).select_from(table).where(*where)).scalar())


def queued_notice(hub, email: str) -> bytes:
    """The notice queued to a personal address, decrypted with the relay's (system) key."""
    system = hub.system_account()

    def find(conn):
        return conn.execute(
            select(Blob.id, Blob.body, WrappedKey.wrapped).join(OutboundItem, OutboundItem.blob_id == Blob.id)
            .join(WrappedKey, (WrappedKey.blob_id == Blob.id) & (WrappedKey.account_id == system.id))
            .where(OutboundItem.rcpt_to == email)
        ).one()

    row = hub.read_sync(find)
    key = unwrap_key(row.wrapped, row.id, hub.keyring.private_key(system.key_id, system.sealed_private_key))
    return decrypt_body(key, row.id, row.body)


def test_provision_ten_thousand_from_csv(hub, tmp_path):
    path = tmp_path / "spaces.csv"
    ins_list = write_csv(path, 10_000)
    result = provision.provision_csv(hub, path, progress=False)
    assert result.created == 10_000 and result.rejected == []
    assert count(hub, Account, Account.type == "PATIENT", Account.status == "pending") == 10_000
    assert count(hub, PatientProfile) == 10_000
    assert count(hub, ActivationCode) == 10_000
    assert count(hub, Folder) == 6  # the system account's; pending spaces get theirs at activation
    assert count(hub, OutboundItem, OutboundItem.rcpt_to.like("perso%@courriel.example")) == 10_000
    assert count(hub, AuditEvent, AuditEvent.action == "patient.provision") == 10_000
    notice = queued_notice(hub, "perso1234@courriel.example").decode()
    assert "code provisoire" in notice and "one-time provisional code" in notice
    assert "NOMUNIQUE" not in notice  # the letter names no one
    address = identity.patient_address(ins_list[0], hub.config.get("hub.patient_domain"))
    assert count(hub, Account, Account.address == address) == 1
    # Traits are sealed: neither names nor personal addresses are in the database in clear.
    hub.engine.dispose()
    database = (hub.config.data_dir / "hub.sqlite3").read_bytes()
    assert b"NOMUNIQUE1234X" not in database and "Élise".encode() not in database
    # A second run with the same file creates nothing and says why, line by line.
    again = provision.provision_csv(hub, path, progress=False)
    assert again.created == 0 and len(again.rejected) == 10_000
    assert again.rejected[0] == (2, "ins: a space already exists for this INS")


def test_bad_rows_are_refused_by_line_without_echoing_them(hub, tmp_path):
    path = tmp_path / "mixed.csv"
    good = new_ins()
    bad_key = f"{good[:13]}{(int(good[13:]) % 97) + 1:02d}"
    rows = [
        f"{good},MARTIN,Paul,1975-06-15,M,paul@perso.example",
        f"{bad_key},SECRETNOM,Paul,1975-06-15,M,p2@perso.example",
        f"{new_ins()},DURAND,Luc,15/06/1975,1,pas-une-adresse",
        f"{new_ins()},DURAND,Luc,31/02/1975,1,l@perso.example",
        f"{new_ins()},DURAND,Luc,1975-06-15,X,l@perso.example",
        f"{new_ins()},DURAND,Luc",
        f"{good},MARTIN,Paul,1975-06-15,M,paul@perso.example",
        f"{new_ins()},{'A' * 101},Luc,1975-06-15,2,l@perso.example",
        f"{new_ins()},DU\x07RAND,Luc,1975-06-15,2,l@perso.example",
    ]
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    result = provision.provision_csv(hub, path, progress=False)
    assert result.created == 1
    reasons = dict(result.rejected)
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "key" in reasons[3] and "email" in reasons[4] and "birth_date" in reasons[5]
    assert "sex" in reasons[6] and "fields" in reasons[7] and "twice" in reasons[8]
    assert "birth_name" in reasons[9] and "control" in reasons[10]
    assert not any("SECRETNOM" in r or bad_key in r for r in reasons.values())


@pytest.mark.parametrize("content, why", [
    (b"", "empty"),
    (b"ins,name\n1,2\n", "header"),
    (HEADER.encode() + b"x" * 5000 + b"\n", "longer than"),
    (HEADER.encode() + b"\xff\xfe\x00garbage\n", "UTF-8"),
])
def test_unusable_files_are_refused_whole(hub, tmp_path, content, why):
    path = tmp_path / "hostile.csv"
    path.write_bytes(content)
    with pytest.raises(provision.ProvisionError, match=why):
        provision.provision_csv(hub, path, progress=False)
    assert count(hub, Account, Account.type == "PATIENT") == 0


def test_row_limit_is_enforced(hub, tmp_path):
    hub.config.set("patients.provision_max_rows", 5)
    path = tmp_path / "big.csv"
    write_csv(path, 6)
    with pytest.raises(provision.ProvisionError, match="more than 5 rows"):
        provision.provision_csv(hub, path, progress=False)


def _one(hub, **overrides):
    record = provision.PatientRecord(**{**dict(ins=new_ins(), birth_name="BERNARD", first_names="Anne",
                                                birth_date="1990-01-01", sex="F", email="anne@perso.example"),
                                        **overrides})
    return record.ins, provision.add_patient(hub, record)


def test_codes_are_high_entropy_and_stored_as_keyed_hashes(hub):
    ins, code = _one(hub)
    assert len(code.replace("-", "")) == provision.CODE_CHARS and set(code.replace("-", "")) <= set(
        provision.CODE_ALPHABET)
    _, other = _one(hub)
    assert code != other
    stored = hub.read_sync(lambda conn: conn.execute(select(ActivationCode.code_hash)).scalars().all())
    assert all(len(h) == 32 for h in stored)
    assert code.encode() not in b"".join(stored)
    hub.engine.dispose()
    database = (hub.config.data_dir / "hub.sqlite3").read_bytes()
    assert code.replace("-", "").encode() not in database and code.encode() not in database


def test_activation_works_once(hub):
    ins, code = _one(hub)
    account_id = lifecycle.activate(hub, ins, code.lower().replace("-", " "), NEW_PASSWORD)
    account = hub.read_sync(lambda conn: conn.execute(select(Account).where(Account.id == account_id)).one())
    assert account.status == "active" and hub.passwords.verify(account.password_hash, NEW_PASSWORD)
    assert count(hub, Folder, Folder.account_id == account_id) == 6
    with pytest.raises(CodeRefused):
        lifecycle.activate(hub, ins, code, "un autre mot de passe encore")
    with pytest.raises(LifecycleError, match="12"):
        lifecycle.activate(hub, new_ins(), "whatever", "court")


def test_wrong_codes_are_counted_and_throttled(hub):
    ins, code = _one(hub)
    now = dt.datetime.now(dt.timezone.utc)
    limit = hub.config.get("patients.code_max_failures")
    for _ in range(limit):
        with pytest.raises(CodeRefused):
            lifecycle.activate(hub, ins, "AAAAA-AAAAA-AAAAA-AAAAA", NEW_PASSWORD, now=now)
    # Locked out: even the right code is refused now, and the refusal says so.
    with pytest.raises(Throttled):
        lifecycle.activate(hub, ins, code, NEW_PASSWORD, now=now + dt.timedelta(minutes=1))
    later = now + dt.timedelta(minutes=hub.config.get("patients.code_lockout_minutes") + 1)
    lifecycle.activate(hub, ins, code, NEW_PASSWORD, now=later)
    refused = count(hub, AuditEvent, AuditEvent.action == "code.refused")
    assert refused == limit


def test_objection_with_the_code_deletes_the_space_at_once(hub):
    ins, code = _one(hub)
    keep_ins, _ = _one(hub)
    with pytest.raises(CodeRefused):
        lifecycle.object_to_space(hub, ins, "BBBBB-BBBBB-BBBBB-BBBBB")
    account_id = lifecycle.object_to_space(hub, ins, code)
    assert count(hub, Account, Account.ins == ins) == 0
    for table, column in ((Folder, Folder.account_id), (PatientProfile, PatientProfile.account_id),
                          (ActivationCode, ActivationCode.account_id)):
        assert count(hub, table, column == account_id) == 0
    assert count(hub, Account, Account.ins == keep_ins) == 1
    assert count(hub, AuditEvent, AuditEvent.action == "patient.object", AuditEvent.subject_account_id == account_id)


def test_objection_after_the_window_is_refused(hub):
    ins, code = _one(hub)
    late = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=hub.config.get("patients.objection_window_days") + 1)
    with pytest.raises(LifecycleError, match="objection"):
        lifecycle.object_to_space(hub, ins, code, now=late)
    assert count(hub, Account, Account.ins == ins) == 1


def test_cli_patient_add_and_provision(data_dir, tmp_path, capsys):
    ins = new_ins()
    done = run_cli("patient", "add", "--data-dir", str(data_dir), "--ins", ins, "--name", "LEROY Jeanne",
                   "--email", "jeanne@perso.example")
    assert done.returncode == 0, done.stderr
    assert f"{ins.lower()}@" in done.stdout and "activation code:" in done.stdout
    from mssante_hub.admin.cli import main  # the refusals in-process (same code, no interpreter start-up)

    assert main(["patient", "add", "--data-dir", str(data_dir), "--ins", ins, "--name", "LEROY Jeanne",
                 "--email", "jeanne@perso.example"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["patient", "add", "--data-dir", str(data_dir), "--ins", "123", "--name", "X",
                 "--email", "a@b.example"]) == 2
    assert "15 characters" in capsys.readouterr().err
    path = tmp_path / "few.csv"
    write_csv(path, 20, seed=99, extra="279035121518988,NOM,Prénom,1980-01-01,F,x@perso.example\n")
    done = run_cli("patient", "provision", "--data-dir", str(data_dir), "--csv", str(path))
    assert done.returncode == 1  # one row refused
    assert "20 patient spaces created, 1 rows refused" in done.stdout
    assert "line 22: ins:" in done.stderr and "provisioning patient spaces" in done.stderr  # the progress bar
