"""Export: the holder's archive decrypts with `gpg` to the same messages and documents."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import tempfile

import pytest
from sqlalchemy import select

from mssante_hub.patients.export import ExportError, export_space
from mssante_hub.reader import read_folder
from storage.models import AuditEvent
from tests.conftest import add_professional
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.support.served import run_cli

PASSPHRASE = "phrase secrète du titulaire"


@pytest.fixture
def gpg_home():
    home = tempfile.mkdtemp(prefix="mht-", dir="/tmp")  # short: the agent socket path must fit
    yield home
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True, check=False)
    shutil.rmtree(home, ignore_errors=True)


def gpg(home: str, *args: str, input: bytes | None = None) -> bytes:
    done = subprocess.run(["gpg", "--homedir", home, "--batch", "--quiet", *args], input=input, capture_output=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def holder_key(home: str) -> str:
    gpg(home, "--passphrase", "", "--quick-gen-key", "Titulaire <titulaire@perso.example>", "future-default",
        "default", "never")
    return gpg(home, "--armor", "--export", "titulaire@perso.example").decode()


def _space(hub):
    patient, account_id = active_patient(hub, "export@courriel.example")
    doctor = add_professional(hub, "dr.export", password=None)
    send(hub, doctor, [patient], subject="Compte rendu", headers={"X-MSS-CODECDA": "11490-0"},
         attachments=[("IHE_XDM.zip", "application/zip", b"PK\x03\x04 xdm"), ("cr.pdf", "application/pdf", b"%PDF")])
    send(hub, doctor, [patient], subject="Rendez-vous",
         attachments=[("rdv.ics", "text/calendar", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")])
    # Something filed elsewhere than INBOX (the dossier and agenda are folders too).
    send(hub, patient, [patient], channel="imap", subject="Brouillon")
    return patient, account_id, patient.partition("@")[0].upper()


def _items(tar_bytes: bytes) -> tuple[dict, dict[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    return json.loads(files.pop("manifest.json")), files


def test_export_to_the_holders_public_key_decrypts_with_gpg(hub, gpg_home, tmp_path):
    patient, account_id, ins = _space(hub)
    key = holder_key(gpg_home)
    out = tmp_path / "export.gpg"
    assert export_space(hub, ins, out, public_key=key) == 3
    assert out.stat().st_mode & 0o077 == 0
    assert b"Compte rendu" not in out.read_bytes()
    manifest, files = _items(gpg(gpg_home, "--decrypt", str(out)))
    inbox = read_folder(hub, patient)
    assert [files[f"INBOX/{m.uid}.eml"] for m in inbox] == [m.raw for m in inbox]
    assert sorted(files) == sorted(i["path"] for i in manifest["items"])
    assert any(b"IHE_XDM.zip" in raw for raw in files.values())
    assert any(b"text/calendar" in raw for raw in files.values())
    assert hub.read_sync(lambda conn: conn.execute(select(AuditEvent.action).where(
        AuditEvent.subject_account_id == account_id, AuditEvent.action == "patient.export")).all())


def test_export_to_a_passphrase_through_the_cli(hub, gpg_home, tmp_path):
    patient, account_id, ins = _space(hub)
    out = tmp_path / "export-pass.gpg"
    hub.close()  # the command line opens the data folder itself
    done = run_cli("patient", "export", "--data-dir", str(hub.config.data_dir), "--ins", ins, "--out", str(out),
                   "--passphrase-stdin", input=PASSPHRASE + "\n")
    assert done.returncode == 0, done.stderr
    plain = gpg(gpg_home, "--pinentry-mode", "loopback", "--passphrase-fd", "0", "--decrypt", str(out),
                input=PASSPHRASE.encode() + b"\n")
    manifest, files = _items(plain)
    assert len(manifest["items"]) == 3
    assert sum(1 for name in files if name.startswith("Sent/") or name.startswith("INBOX/")) == 3


def test_export_refuses_bad_keys_and_short_passphrases(hub, tmp_path):
    _, _, ins = _space(hub)
    with pytest.raises(ExportError):
        export_space(hub, ins, tmp_path / "x.gpg", public_key="-----BEGIN PGP PUBLIC KEY BLOCK-----\nnope\n")
    with pytest.raises(ExportError):
        export_space(hub, ins, tmp_path / "x.gpg", passphrase="court")
    assert not (tmp_path / "x.gpg").exists()
