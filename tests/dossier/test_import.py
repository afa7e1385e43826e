"""Migration import: `mssante-hub dossier import`, 1,000 packages, killed at random and resumed, each filed once."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import time
import zipfile

from mssante_hub.accounts.mailboxes import add_account
from mssante_hub.dossier import xdm_writer
from mssante_hub.hub import Hub
from mssante_hub.reader import read_folder
from storage import dossier as dossier_store
from tests.dossier import builder, support
from tests.dossier.builder import fixture
from tests.support.served import hub_command, run_cli

PACKAGES = 1000
OTHER_INS = support.with_key("1800175123456")
_SET_ID = re.compile(rb'<setId root="([^"]+)"\s*/>')


def _unique(cda: bytes, tag: str) -> bytes:
    return _SET_ID.sub(lambda m: b'<setId root="' + m.group(1) + tag.encode() + b'"/>', cda, count=1)


def _write_export(folder, fixtures_dir) -> int:
    cda = fixture(fixtures_dir, builder.SMALL_FIXTURE)
    other = builder.with_patient_ins(cda, OTHER_INS)
    folder.mkdir()
    for i in range(PACKAGES):
        source = other if i % 4 == 0 else cda
        (folder / f"lot{i // 100:02d}" ).mkdir(exist_ok=True)
        (folder / f"lot{i // 100:02d}" / f"p{i:04d}.zip").write_bytes(xdm_writer.pack([_unique(source, f".{i}")]))
    # Refused, and said why: a package for nobody the hub knows, and one that is not an XDM.
    (folder / "inconnu.zip").write_bytes(xdm_writer.pack([builder.with_patient_ins(cda, support.with_key(
        "2991299123456"))]))
    (folder / "abime.zip").write_bytes(b"PK\x03\x04 not really a zip")
    return PACKAGES


def test_a_thousand_packages_interrupted_and_resumed_are_each_filed_once(data_dir, tmp_path, fixtures_dir):
    with Hub.open(data_dir) as hub:
        support.provision_patient(hub)
        add_account(hub, type="PATIENT", address=f"{OTHER_INS}@patient.hub.test", display_name="", ins=OTHER_INS)
    export = tmp_path / "export"
    expected = _write_export(export, fixtures_dir)
    rng = random.Random(13)
    for _ in range(3):  # killed at a random moment, three times
        process = subprocess.Popen(hub_command("dossier", "import", "--data-dir", str(data_dir), "--quiet",
                                               str(export)), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(2.0, 8.0))
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    done = run_cli("dossier", "import", "--data-dir", str(data_dir), "--quiet", str(export))
    assert done.returncode == 0, done.stderr
    summary = done.stdout.splitlines()[0]
    filed, already = map(int, re.match(r"filed (\d+), already imported (\d+), refused 2$", summary).groups())
    assert filed + already == expected and already > 0  # the killed runs did part of the work
    refused = sorted(done.stdout.splitlines()[1:])
    assert refused[0].startswith("refused abime.zip: Archive XDM") and refused[1].startswith("refused inconnu.zip: ")
    with Hub.open(data_dir) as hub:
        counts = {}
        for address in (support.PATIENT, f"{OTHER_INS}@patient.hub.test"):
            rows = support.index_rows(hub, address, current_only=False)
            assert len({r.set_key for r in rows}) == len(rows)  # no document twice
            assert len(read_folder(hub, address)) == len(rows)  # nor its covering message
            counts[address] = len(rows)
        assert counts == {support.PATIENT: expected * 3 // 4, f"{OTHER_INS}@patient.hub.test": expected // 4}
        with hub.engine.connect() as conn:  # each package recorded once, in its filing's transaction
            assert conn.execute(dossier_store.DossierImport.__table__.select()).all().__len__() == expected
    again = run_cli("dossier", "import", "--data-dir", str(data_dir), "--quiet", str(export))
    assert again.stdout.splitlines()[0] == f"filed 0, already imported {expected}, refused 2"


def test_a_zip_of_packages_is_imported_too(data_dir, tmp_path, fixtures_dir):
    with Hub.open(data_dir) as hub:
        support.provision_patient(hub)
    cda = fixture(fixtures_dir, builder.SMALL_FIXTURE)
    bundle = tmp_path / "export.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        for i in range(3):
            archive.writestr(f"dossier/p{i}.zip", xdm_writer.pack([_unique(cda, f".{i}")]))
    done = run_cli("dossier", "import", "--data-dir", str(data_dir), "--quiet", str(bundle))
    assert done.stdout.splitlines() == ["filed 3, already imported 0, refused 0"]
    with Hub.open(data_dir) as hub:
        assert support.dossier_folders(hub) == {"Dossier/CAR_VAC": 3}
