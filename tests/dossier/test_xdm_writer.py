"""The hub's XDM writer (`mssante-hub xdm pack`): what it writes, the reader and the integration check accept,
and each entry says what its document says of itself."""

from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile

import pytest

from mssante_hub.accounts import identity
from mssante_hub.config import SETTINGS
from mssante_hub.dossier import integration, xdm, xdm_writer
from mssante_hub.dossier.patient import KnownPatient
from mssante_hub.mime import Limits
from tests.dossier import builder
from tests.dossier.builder import FIXTURES, fixture
from tests.support.served import hub_command

INS = "279035121518989"
LIMITS = Limits(*({s.key: s.default for s in SETTINGS}[f"limits.{name}"] for name in Limits.__dataclass_fields__))


def _valid(ins: str) -> bool:
    try:
        identity.validate_ins(ins)
        return True
    except identity.IdentityError:
        return False


def check(package: bytes, patient: KnownPatient | None) -> integration.IntegrationResult:
    return integration.check(builder.document_message("dpi@chu.test", f"{INS}@patient.hub.test", package), patient,
                             LIMITS)


def test_a_packed_demo_document_reads_back_and_integrates():
    cda = xdm_writer.demo_cda(INS, family="MARTIN", given="CLAIRE", birth_date="19800115", sex="F")
    package = xdm_writer.pack([cda])
    [entry] = xdm.read_package(package).documents
    assert entry.content == cda and entry.hash == hashlib.sha1(cda).hexdigest() and entry.size == len(cda)
    assert entry.source_patient_id == identity.ins_hl7(INS, identity.OID_INS_NIR_TEST)
    assert entry.source_patient_info == xdm.PatientInfo("MARTIN^CLAIRE^^^^^L", "19800115", "F")
    assert entry.type_code.code == "11502-2" and entry.unique_id.startswith("2.25.")
    assert check(package, KnownPatient(INS, "Martin", "Claire", "1980-01-15", "F")).ok
    assert check(package, KnownPatient(INS, sex="M")).error == integration.TRAITS_DISAGREE
    names = zipfile.ZipFile(io.BytesIO(package)).namelist()
    assert names == ["README.TXT", "INDEX.HTM", "IHE_XDM/SUBSET01/METADATA.XML", "IHE_XDM/SUBSET01/DOC0001.XML"]


def test_several_documents_in_order():
    first, second = xdm_writer.demo_cda(INS, title="Premier"), xdm_writer.demo_cda(INS, title="Second")
    documents = xdm.read_package(xdm_writer.pack([first, second])).documents
    assert [d.content for d in documents] == [first, second]
    assert [d.uri for d in documents] == ["DOC0001.XML", "DOC0002.XML"]


def test_what_cannot_be_packed_is_refused_by_name():
    without_ins = builder.with_patient_ins(xdm_writer.demo_cda(INS), None)
    with pytest.raises(xdm_writer.XdmWriteError, match="no INS"):
        xdm_writer.pack([without_ins])
    with pytest.raises(xdm_writer.XdmWriteError, match="not a CDA"):
        xdm_writer.pack([b"<html/>"])
    with pytest.raises(xdm_writer.XdmWriteError, match="not a CDA"):
        xdm_writer.pack([builder.BILLION_LAUGHS])
    with pytest.raises(xdm_writer.XdmWriteError):
        xdm_writer.pack([])


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_each_ci_sis_example_packs_with_its_own_type_code(fixtures_dir, name):
    type_code, ins = FIXTURES[name]
    content = fixture(fixtures_dir, name)
    if not _valid(ins):
        with pytest.raises(xdm_writer.XdmWriteError, match="905"):  # CSE-CS8: its INS key is wrong
            xdm_writer.pack([content])
        return
    [entry] = xdm.read_package(xdm_writer.pack([content])).documents
    assert entry.type_code.code == type_code and entry.content == content
    assert entry.source_patient_id.startswith(f"{ins}^^^&")


def test_the_command_writes_the_package_to_stdout(tmp_path):
    cda = tmp_path / "cr.xml"
    made = subprocess.run(hub_command("xdm", "demo-cda", "--ins", INS, "--out", str(cda)), capture_output=True)
    assert made.returncode == 0, made.stderr
    packed = subprocess.run(hub_command("xdm", "pack", str(cda)), capture_output=True)
    assert packed.returncode == 0, packed.stderr
    assert xdm.read_package(packed.stdout).documents[0].content == cda.read_bytes()
    refused = subprocess.run(hub_command("xdm", "pack", str(tmp_path / "cr.xml"), str(tmp_path / "x.xml")),
                             capture_output=True, text=True)
    assert refused.returncode != 0 and refused.stderr.count("\n") == 1
